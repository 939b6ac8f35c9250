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
	// committed together when it returns nil, and nothing when it returns an
	// error. It is not serializable by itself: a request or an assignment fn
	// reads stays as fn read it until the end, but a rule that spans rows
	// holds only through a constraint of the store or a lock fn takes (Tx.Lock).
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction with a consistent view.
	View(ctx context.Context, fn func(Tx) error) error
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// ParallelWriter is a Store whose write transactions run side by side
// (PostgreSQL), rather than taking turns (SQLite). The Service then reads
// what a callout's body shows in the write transaction that begins the
// callout, which has read the row cache's generation already, instead of
// in a read transaction of its own afterwards: three round trips fewer
// per callout. Where writes take turns, reading there would hold up every
// other write.
type ParallelWriter interface {
	WritesInParallel() bool
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

	// PackagesIncompatibleWith lists the ids of the packages whose
	// IncompatiblePackages name id, in id order.
	PackagesIncompatibleWith(id string) ([]string, error)

	Resource(id string) (Resource, error)
	// Resources lists the resources of one catalog, or of all when catalogID is "".
	Resources(catalogID string, p Page) ([]Resource, error)
	// ResourceByOrigin finds a catalog's resource by what it stands for.
	ResourceByOrigin(catalogID, originSystem, originID string) (Resource, error)
	PutResource(r Resource) error
	DeleteResource(id string) error

	ResourceRequest(id string) (ResourceRequest, error)
	ResourceRequests(p Page) ([]ResourceRequest, error)
	AddResourceRequest(r ResourceRequest) error

	// AppRoleAssignments lists the app role assignments of one service
	// principal's roles (resourceID), or those held by one principal, or both.
	AppRoleAssignments(resourceID, principalID string, p Page) ([]AppRoleAssignment, error)
	// AddAppRoleAssignment returns KindConflict when the principal already holds the role.
	AddAppRoleAssignment(a AppRoleAssignment) error
	// DeleteAppRoleAssignment returns KindNotFound when nothing was deleted.
	DeleteAppRoleAssignment(id string) error
	// InGroup reports whether an object is one of a group's members or owners.
	InGroup(groupID string, rel GroupRelation, objectID string) (bool, error)

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

	RoleAssignment(id string) (RoleAssignment, error)
	// RolesHeld lists the roles a principal holds, in the order they were given.
	RolesHeld(principalID string) ([]HeldRole, error)
	// AddRoleAssignment returns KindConflict when the id is taken, or when
	// the principal already holds the role on that scope.
	AddRoleAssignment(a RoleAssignment) error
	DeleteRoleAssignment(id string) error
	// DeleteRoleAssignmentsOn removes every role held on a catalog.
	DeleteRoleAssignmentsOn(catalogID string) error

	User(id string) (User, error)
	// UserByPrincipalName finds a user by userPrincipalName, ignoring case.
	UserByPrincipalName(upn string) (User, error)
	Users(p Page) ([]User, error)
	PutUser(u User) error
	// DeleteUser also removes the user from groups, as anyone's manager, its
	// app role assignments and the roles it holds.
	DeleteUser(id string) error

	Group(id string) (Group, error)
	Groups(p Page) ([]Group, error)
	PutGroup(g Group) error
	// DeleteGroup also removes its members and owners, its own memberships and app role assignments.
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
	// DeleteServicePrincipal also removes it from groups, the app role
	// assignments it holds or offers, and the roles it holds.
	DeleteServicePrincipal(id string) error

	// SigningKeys lists every signing key, oldest first.
	SigningKeys() ([]SigningKey, error)
	// InsertSigningKeyIfAbsent stores k only when no key exists yet, so
	// replicas that start together end up agreeing on one key.
	InsertSigningKeyIfAbsent(k SigningKey) error

	Request(id string) (Request, error)
	Requests(f RequestFilter, p Page) ([]Request, error)
	// PutRequest inserts or replaces a request; while it is open it counts as
	// referencing the extensions its policy snapshot binds.
	PutRequest(r Request) error
	// AddRequest is PutRequest for a request that is not stored yet: an id
	// used before is a conflict.
	AddRequest(r Request) error
	DeleteRequest(id string) error
	// CountOpenRequests counts requests that have not reached a final state.
	CountOpenRequests(f RequestFilter) (int, error)
	// CountOpenRequestsReferencing counts open requests whose snapshot binds the extension.
	CountOpenRequestsReferencing(extensionID string) (int, error)

	Assignment(id string) (Assignment, error)
	Assignments(f AssignmentFilter, p Page) ([]Assignment, error)
	CountAssignments(f AssignmentFilter) (int, error)
	PutAssignment(a Assignment) error

	// AddHistory appends entries to the history of the requests they name;
	// a transition passes all of its entries in one call, which the store
	// may keep together. An id used before is a conflict.
	AddHistory(entries ...HistoryEntry) error
	// History lists a request's entries, oldest first (ordered by id).
	History(requestID string, p Page) ([]HistoryEntry, error)

	// AddWork queues work; each becomes claimable at its DueAt (or, added
	// with a lease, once the lease has run out). Several go in one statement.
	AddWork(ws ...Work) error
	// AnnounceWork asks the store to tell other processes serving it, once
	// the transaction commits, that work they may claim is due. Work due
	// later needs no word: every engine looks at the queue at its next poll.
	AnnounceWork()
	// ClaimWork leases up to limit items due at now that no live lease holds,
	// oldest due first, until leaseUntil.
	ClaimWork(now time.Time, owner string, leaseUntil time.Time, limit int) ([]Work, error)
	// DeleteWork removes finished work. It is not an error if some is gone.
	DeleteWork(ids ...string) error
	// RetryWork releases a lease and makes the work due again at dueAt.
	RetryWork(id string, dueAt time.Time, attempt int) error
	// DropWork removes the pending work of a request or an assignment of the given kinds.
	DropWork(requestID, assignmentID string, kinds ...WorkKind) error
	// DropRequestWork removes, in one go, a request's pending work of the
	// given kinds and its callouts of the given instances.
	DropRequestWork(requestID string, kinds []WorkKind, calloutInstances []string) error
	// RenewLeases extends to until the leases that owner still holds on
	// the work with the given ids; work another owner has claimed since,
	// or that is gone, is left alone.
	RenewLeases(owner string, ids []string, until time.Time) error
	// ShiftLeases moves the end of every lease still running at from by
	// to - from: when the virtual clock jumps, claimed work keeps the time
	// its lease had left instead of being taken over while still in hand.
	ShiftLeases(from, to time.Time) error
	// NextWorkAt is the earliest time any work becomes claimable (due, or its lease runs out).
	NextWorkAt() (at time.Time, ok bool, err error)
	// CountWorkDue counts work due at or before now, leased or not.
	CountWorkDue(now time.Time) (int, error)
	// WorkStats counts the queued work of each kind that has any, as at
	// now, in kind order. It is one read, cheap enough for every scrape
	// of /metrics.
	WorkStats(now time.Time) ([]WorkKindStats, error)

	// AddCalloutAttempts records callout attempts (--dev, --record-callouts).
	AddCalloutAttempts(as []CalloutAttempt) error
	// CalloutAttempts lists attempts newest first; After is the last id of the previous page.
	CalloutAttempts(p Page) ([]CalloutAttempt, error)
	// ExtensionCalloutAttempts lists one extension's attempts newest first.
	ExtensionCalloutAttempts(extensionID string, p Page) ([]CalloutAttempt, error)
	// PruneCalloutAttempts keeps only the newest keep attempts of an extension.
	PruneCalloutAttempts(extensionID string, keep int) error

	// List runs a query on a noun's list: it passes each item of the page
	// to each (decode reads the item into a value of the noun's type; at is
	// its cursor, where a next page would start), and with q.Count returns
	// the size of the whole set that meets q's filter and scope. It checks
	// q itself (Query.Check) and refuses what it cannot run with KindInvalid.
	List(noun Noun, q Query, each func(decode func(any) error, at Cursor) error) (count int, err error)

	// Lock takes named locks that the transaction holds until it ends, so
	// that a rule spanning several rows which no constraint of the store
	// holds (a target's requests and assignments, what refers to a
	// package) is checked and kept by one transaction at a time. Update
	// transactions that take the same name exclusively run one after the
	// other; shared ones run side by side, but not beside an exclusive one.
	// What the transaction reads after Lock returns includes everything
	// the previous holders committed. Take the locks before reading what
	// the rule is about; names of one call are taken in one order, so two
	// calls cannot deadlock each other through them. On an engine whose
	// write transactions run one at a time (SQLite), and in View, Lock does
	// nothing.
	Lock(locks ...Lock) error
	// HoldWork locks a queued piece of work until the transaction ends and
	// reports whether it is still queued: a timer taken over from a worker
	// whose lease ran out while it was still at it finds its work done and
	// gone, and does nothing.
	HoldWork(id string) (queued bool, err error)

	// ResetData deletes every object, request, assignment, history entry,
	// work item and callout attempt; signing keys and settings stay.
	ResetData() error

	// Setting reads a named server-wide value; ok is false when it was never set.
	Setting(name string) (value string, ok bool, err error)
	PutSetting(name, value string) error
	// InsertSettingIfAbsent stores value unless the setting exists, and returns what is stored.
	InsertSettingIfAbsent(name, value string) (stored string, err error)
}

// Lock is a named lock of an Update transaction (Tx.Lock). Names are the
// Service's: a kind and an id, such as "target:" and a target's id
// (locks.go lists them).
type Lock struct {
	Name string
	// Shared locks are held by many transactions at once, but never beside
	// an exclusive lock of the same name.
	Shared bool
}

// SigningKey is an RSA key accessd signs tokens with, kept in the database so
// that every replica and every restart signs with the same key.
type SigningKey struct {
	ID         string // the JWT kid
	PrivatePEM []byte // PKCS#8, PEM encoded
	CreatedAt  time.Time
}

// RequestFilter narrows a list of requests; empty fields match everything.
type RequestFilter struct {
	TargetID        string
	AccessPackageID string
	PolicyID        string
	AssignmentID    string
	State           RequestState
	// ApproverID limits the list to the requests this subject approves: those
	// waiting for their decision now, or with AnyApprovalStage those with any
	// started stage they approve (Request.Approvers).
	ApproverID       string
	AnyApprovalStage bool
}

// AssignmentFilter narrows a list of assignments; empty fields match everything.
type AssignmentFilter struct {
	TargetID        string
	AccessPackageID string
	PolicyID        string
	State           AssignmentState
	// Active limits the list to delivering, delivered and partially delivered assignments.
	Active bool
}
