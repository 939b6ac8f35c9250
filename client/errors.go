package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/accessd/accessd/access"
)

// Error is an answer outside 2xx. Kind is derived from Status, so that a
// program can branch on access.KindOf(err) whether the error came from the
// service in-process or from accessd over HTTP.
type Error struct {
	Method string
	Path   string
	Status int
	Kind   access.Kind

	// From the Graph error envelope. When the body was not one (a proxy's
	// error page, say), Code is empty and Message is the body's beginning.
	Code            string
	Message         string
	RequestID       string
	ClientRequestID string
}

func (e *Error) Error() string {
	status := strconv.Itoa(e.Status)
	if e.Code != "" {
		status += " " + e.Code
	}
	return fmt.Sprintf("%s %s: %s: %s", e.Method, e.Path, status, e.Message)
}

// Unwrap makes errors.As(err, &accessErr) and access.KindOf(err) see the
// kind and the server's message.
func (e *Error) Unwrap() error { return &access.Error{Kind: e.Kind, Message: e.Message} }

// kindOf is the reverse of the server's table in graph/errors.go.
func kindOf(status int) access.Kind {
	switch status {
	case http.StatusBadRequest:
		return access.KindInvalid
	case http.StatusUnauthorized:
		return access.KindUnauthenticated
	case http.StatusForbidden:
		return access.KindForbidden
	case http.StatusNotFound:
		return access.KindNotFound
	case http.StatusMethodNotAllowed:
		return access.KindMethodNotAllowed
	case http.StatusConflict:
		return access.KindConflict
	case http.StatusRequestEntityTooLarge:
		return access.KindTooLarge
	case http.StatusUnsupportedMediaType:
		return access.KindUnsupportedMedia
	case http.StatusTooManyRequests:
		return access.KindThrottled
	default:
		return access.KindInternal
	}
}

// errorEnvelope is the Graph error body accessd writes.
type errorEnvelope struct {
	Error *struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			RequestID       string `json:"request-id"`
			ClientRequestID string `json:"client-request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

// excerptLength is how much of a body that is not a Graph error goes into
// the message: enough to recognise an error page, short enough for a log line.
const excerptLength = 200

func newError(method, path string, resp Response) *Error {
	e := &Error{Method: method, Path: path, Status: resp.Status, Kind: kindOf(resp.Status),
		RequestID: resp.Header.Get("request-id"), ClientRequestID: resp.Header.Get("client-request-id")}
	var env errorEnvelope
	if json.Unmarshal(resp.Body, &env) == nil && env.Error != nil && env.Error.Code != "" {
		e.Code, e.Message = env.Error.Code, env.Error.Message
		if id := env.Error.InnerError.RequestID; id != "" {
			e.RequestID = id
		}
		if id := env.Error.InnerError.ClientRequestID; id != "" {
			e.ClientRequestID = id
		}
		return e
	}
	e.Message = excerpt(resp.Body)
	if e.Message == "" {
		e.Message = http.StatusText(resp.Status)
	}
	return e
}

// excerpt is the start of a body on one line, cut at a character boundary.
func excerpt(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) <= excerptLength {
		return s
	}
	cut := excerptLength
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
