// Package access is the domain of accessd: everything it knows about
// entitlement management, with no HTTP and no SQL in it.
//
// It holds:
//   - the nouns: users, groups and service principals; catalogs, access
//     packages, assignment policies and custom extensions; requests,
//     assignments, their history, and the work queue;
//   - the life of a request as pure functions (lifecycle.go, resume.go),
//     which take a request and the time and return a Transition, the
//     changes to store, without doing any IO;
//   - the kinds of error (Kind, Error), which the API turns into statuses;
//   - the Store and Tx interfaces, which sqlstore implements;
//   - the Service, whose methods are the use cases handlers call;
//   - the Clock and the IDSource the rules take the time and new ids from,
//     so that tests and --dev mode can control them.
//
// The rules of the package:
//   - It imports the standard library only (imports_test.go checks it).
//   - Business rules live here and nowhere else: not in the HTTP handlers,
//     which only decode input and encode output, and not in SQL, which only
//     stores and finds.
//   - The Service checks a change and stores it in one transaction, so a
//     change is stored whole or not at all.
//
// docs/design.md describes the design at length.
package access
