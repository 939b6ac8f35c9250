package access

// The named locks the Service takes (Tx.Lock) where a rule spans rows that
// no constraint of the store holds. On PostgreSQL, Update transactions run
// READ COMMITTED: without these, two transactions could each check a rule
// against what the other has not committed yet, and both write. On SQLite,
// where write transactions run one at a time, they cost nothing.
//
// docs/design.md (section 6, Storage) lists every rule with what holds it.
// In short:
//
//   - target:<id>, exclusive: a target's add requests are checked and
//     stored one at a time (one open request per package, no active
//     assignment of the package, no incompatible package held or
//     requested), and its resource roles are granted and taken away one
//     assignment at a time (a role another assignment still grants stays).
//   - package:<id>: what a request refers to while it is submitted (the
//     package, its policies, their extensions and approvers) is read under
//     a shared lock; a change of the package, of its policies or of what
//     they refer to takes it exclusively. So a policy is never deleted
//     between the check that a submission may use it and the commit.
//   - catalog:<id>, exclusive: a catalog's contents change one at a time
//     (deleting it when it is empty, its packages, extensions, resources
//     and the roles held on it).
//   - <noun>:<id>, exclusive: an object created with an id its client
//     chose is created once, however many ask at the same moment.
//   - directory:managers, exclusive: manager chains change one at a time,
//     so two changes cannot close a cycle that neither saw.
//   - setting:<name>, exclusive: a setting read, changed and written back.
//
// Locks taken in one call are taken in name order, so two transactions
// cannot deadlock through them; a transaction that takes locks in several
// calls takes them in the order above's: package and catalog before target
// where it takes both. Requests and assignments need no name: the store
// locks the row of each one an Update transaction reads.

func targetLock(id string) Lock { return Lock{Name: "target:" + id} }

func packageLock(id string, shared bool) Lock { return Lock{Name: "package:" + id, Shared: shared} }

func catalogLock(id string) Lock { return Lock{Name: "catalog:" + id} }

// idLock makes the creation of a noun's object with a chosen id one at a time.
func idLock(noun, id string) Lock { return Lock{Name: noun + ":" + id} }

var managersLock = Lock{Name: "directory:managers"}

// SettingLock is the lock of a setting that a transaction reads, changes
// and writes back.
func SettingLock(name string) Lock { return Lock{Name: "setting:" + name} }

// lockPackage takes a package's lock and its catalog's, both exclusive,
// before the package, or anything of it, is read to be changed; a package
// never changes catalog. A package that does not exist takes the package's
// lock only: reading it then says it is missing.
func lockPackage(tx Tx, id string) error {
	p, err := tx.AccessPackage(id)
	if IsNotFound(err) {
		return tx.Lock(packageLock(id, false))
	}
	if err != nil {
		return err
	}
	return tx.Lock(catalogLock(p.CatalogID), packageLock(id, false))
}

// lockPolicy takes the locks of the package a policy belongs to, which
// never changes, before the policy is read to be changed.
func lockPolicy(tx Tx, id string) error {
	p, err := tx.AssignmentPolicy(id)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return lockPackage(tx, p.AccessPackageID)
}

// objectLock is a directory object's: users, groups and service principals
// share one space of ids, as in Graph.
func objectLock(id string) Lock { return idLock("object", id) }
