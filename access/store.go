package access

import (
	"context"
	"time"
)

// Page asks for one page of a list. Lists are ordered by id; After is the
// last id of the previous page ("" for the first page). Limit is at least 1.
type Page struct {
	After string
	Limit int
}

// Store keeps every object of accessd. A Store on SQLite and one on
// PostgreSQL both pass the conformance suite in access/accesstest.
type Store interface {
	// Update runs fn in one read-write transaction: everything fn writes is
	// committed together when it returns nil, and nothing when it returns an error.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction with a consistent view.
	View(ctx context.Context, fn func(Tx) error) error
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// Tx is one transaction. Getters return a KindNotFound *Error for a missing
// id; Put methods insert or replace the whole object by id; Delete methods
// return KindNotFound when nothing was deleted. Rules about what may be
// deleted live in the Service, which checks them in the same transaction.
type Tx interface {
	Catalog(id string) (Catalog, error)
	Catalogs(p Page) ([]Catalog, error)
	PutCatalog(c Catalog) error
	DeleteCatalog(id string) error

	AccessPackage(id string) (AccessPackage, error)
	// AccessPackages lists the packages of one catalog, or of all when catalogID is "".
	AccessPackages(catalogID string, p Page) ([]AccessPackage, error)
	CountAccessPackages(catalogID string) (int, error)
	PutAccessPackage(p AccessPackage) error
	DeleteAccessPackage(id string) error

	AssignmentPolicy(id string) (AssignmentPolicy, error)
	// AssignmentPolicies lists the policies of one package, or of all when accessPackageID is "".
	AssignmentPolicies(accessPackageID string, p Page) ([]AssignmentPolicy, error)
	CountAssignmentPolicies(accessPackageID string) (int, error)
	// CountPoliciesBinding counts the policies whose customExtensionStageSettings name the extension.
	CountPoliciesBinding(extensionID string) (int, error)
	PutAssignmentPolicy(p AssignmentPolicy) error
	DeleteAssignmentPolicy(id string) error

	CustomExtension(id string) (CustomExtension, error)
	// CustomExtensions lists the extensions of one catalog.
	CustomExtensions(catalogID string, p Page) ([]CustomExtension, error)
	PutCustomExtension(x CustomExtension) error
	DeleteCustomExtension(id string) error

	User(id string) (User, error)
	// UserByPrincipalName finds a user by userPrincipalName, ignoring case.
	UserByPrincipalName(upn string) (User, error)
	Users(p Page) ([]User, error)
	PutUser(u User) error
	// DeleteUser also removes the user from groups and as anyone's manager.
	DeleteUser(id string) error

	Group(id string) (Group, error)
	Groups(p Page) ([]Group, error)
	PutGroup(g Group) error
	// DeleteGroup also removes its members and owners and its own memberships.
	DeleteGroup(id string) error
	// GroupRelation lists a group's members or owners, ordered by id.
	GroupRelation(groupID string, rel GroupRelation, p Page) ([]DirectoryObject, error)
	// AddToGroup returns KindConflict when the object is already there.
	AddToGroup(groupID string, rel GroupRelation, obj DirectoryObjectKind, objectID string) error
	// RemoveFromGroup returns KindNotFound when the object is not there.
	RemoveFromGroup(groupID string, rel GroupRelation, objectID string) error

	ServicePrincipal(id string) (ServicePrincipal, error)
	ServicePrincipalByAppID(appID string) (ServicePrincipal, error)
	// ServicePrincipalByName finds one by displayName (the first by id when several share it).
	ServicePrincipalByName(name string) (ServicePrincipal, error)
	ServicePrincipals(p Page) ([]ServicePrincipal, error)
	PutServicePrincipal(sp ServicePrincipal) error
	// DeleteServicePrincipal also removes it from groups.
	DeleteServicePrincipal(id string) error

	// SigningKeys lists every signing key, oldest first.
	SigningKeys() ([]SigningKey, error)
	// InsertSigningKeyIfAbsent stores k only when no key exists yet, so
	// replicas that start together end up agreeing on one key.
	InsertSigningKeyIfAbsent(k SigningKey) error

	// Setting reads a named server-wide value; ok is false when it was never set.
	Setting(name string) (value string, ok bool, err error)
	PutSetting(name, value string) error
	// InsertSettingIfAbsent stores value unless the setting exists, and returns what is stored.
	InsertSettingIfAbsent(name, value string) (stored string, err error)
}

// SigningKey is an RSA key accessd signs tokens with, kept in the database so
// that every replica and every restart signs with the same key.
type SigningKey struct {
	ID         string // the JWT kid
	PrivatePEM []byte // PKCS#8, PEM encoded
	CreatedAt  time.Time
}
