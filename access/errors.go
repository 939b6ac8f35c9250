package access

import (
	"errors"
	"fmt"
)

// Kind says what went wrong in terms a client can act on. The graph package
// keeps the one table that turns a Kind into an HTTP status and a Graph code.
type Kind int

const (
	KindInternal         Kind = iota // a bug or an unreachable dependency; details stay in the log
	KindInvalid                      // the input breaks a rule
	KindUnauthenticated              // no valid token
	KindForbidden                    // a valid token without the permission
	KindNotFound                     // no such object
	KindMethodNotAllowed             // known path, wrong method
	KindConflict                     // the current state does not allow it
	KindTooLarge                     // body over the limit
	KindUnsupportedMedia             // a body that is not JSON
	KindThrottled                    // slow down
)

func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindUnauthenticated:
		return "unauthenticated"
	case KindForbidden:
		return "forbidden"
	case KindNotFound:
		return "not found"
	case KindMethodNotAllowed:
		return "method not allowed"
	case KindConflict:
		return "conflict"
	case KindTooLarge:
		return "too large"
	case KindUnsupportedMedia:
		return "unsupported media"
	case KindThrottled:
		return "throttled"
	default:
		return "internal"
	}
}

// Error is the one error type of accessd. Message is safe to show to a
// client; Err, when set, is the cause and goes only to the log.
type Error struct {
	Kind    Kind
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an *Error with a formatted, client-safe message.
func E(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Invalidf is the common case: the input breaks a rule.
func Invalidf(format string, args ...any) *Error { return E(KindInvalid, format, args...) }

// NotFoundf reports a missing object.
func NotFoundf(format string, args ...any) *Error { return E(KindNotFound, format, args...) }

// Conflictf reports a state that does not allow the change.
func Conflictf(format string, args ...any) *Error { return E(KindConflict, format, args...) }

// Internal wraps an unexpected failure; the client sees only a generic message.
func Internal(err error) *Error {
	return &Error{Kind: KindInternal, Message: "an unexpected error occurred", Err: err}
}

// KindOf reports the kind of err; errors that are not *Error are internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// IsNotFound is a shorthand used where a missing object is a normal outcome.
func IsNotFound(err error) bool { return err != nil && KindOf(err) == KindNotFound }
