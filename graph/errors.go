package graph

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/accessd/accessd/access"
)

// errorRows is the one table that turns an error kind into an HTTP status and
// a Graph error code. Clients branch on the status; the codes follow Graph
// where it documents one.
var errorRows = map[access.Kind]struct {
	status int
	code   string
}{
	access.KindInvalid:          {http.StatusBadRequest, "invalidRequest"},
	access.KindUnauthenticated:  {http.StatusUnauthorized, "InvalidAuthenticationToken"},
	access.KindForbidden:        {http.StatusForbidden, "accessDenied"},
	access.KindNotFound:         {http.StatusNotFound, "itemNotFound"},
	access.KindMethodNotAllowed: {http.StatusMethodNotAllowed, "methodNotAllowed"},
	access.KindConflict:         {http.StatusConflict, "conflict"},
	access.KindTooLarge:         {http.StatusRequestEntityTooLarge, "requestTooLarge"},
	access.KindUnsupportedMedia: {http.StatusUnsupportedMediaType, "unsupportedMediaType"},
	access.KindThrottled:        {http.StatusTooManyRequests, "activityLimitReached"},
	access.KindInternal:         {http.StatusInternalServerError, "generalException"},
}

// errorBody is the Graph error envelope.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	InnerError innerError `json:"innerError"`
}

type innerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

// statusOf reports the HTTP status an error is answered with.
func statusOf(err error) int { return errorRows[access.KindOf(err)].status }

// writeError answers with the Graph envelope. Internal errors show a generic
// message; their cause goes to the log line written by the caller.
func writeError(w http.ResponseWriter, r *http.Request, now time.Time, err error) {
	kind := access.KindOf(err)
	row := errorRows[kind]
	msg := "An unexpected error occurred; the request id identifies it in the server log."
	var e *access.Error
	if kind != access.KindInternal && errors.As(err, &e) {
		msg = e.Message
	}
	if kind == access.KindUnauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="accessd", error="invalid_token"`)
	}
	if kind == access.KindThrottled {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(err)))
	}
	writeJSON(w, row.status, errorBody{Error: errorDetail{
		Code:    row.code,
		Message: msg,
		InnerError: innerError{
			Date:            now.UTC().Format("2006-01-02T15:04:05"),
			RequestID:       w.Header().Get("request-id"),
			ClientRequestID: w.Header().Get("client-request-id"),
		},
	}})
}

// retryAfter is the cause of a throttled error: how long until the caller
// may call again. writeError sends it as Retry-After.
type retryAfter time.Duration

func (d retryAfter) Error() string { return "retry after " + time.Duration(d).String() }

// retryAfterSeconds is the Retry-After of a throttled error. The header
// counts whole seconds, so the wait is rounded up: a client that waits as
// told is served. It is at least 1, since 0 would invite a retry at once.
func retryAfterSeconds(err error) int {
	var d retryAfter
	if !errors.As(err, &d) {
		return 1
	}
	return max(1, int(math.Ceil(time.Duration(d).Seconds())))
}
