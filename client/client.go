// Package client is a Go client for accessd's API: the v1.0 entitlement
// management routes, the directory, and the /_accessd routes of --dev mode.
//
// The typed calls take and return the domain types of package access, so
// a program that drives accessd (the load tool, tests, an extension) speaks
// the same nouns as the server. Do and Raw reach every other route, and
// every route of the beta API, without a typed call.
package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Config says where accessd is and how to call it.
type Config struct {
	// BaseURL is accessd's root, such as http://127.0.0.1:8080: the same URL
	// accessd writes into @odata.nextLink (its public URL), or paging fails.
	BaseURL string

	// Token is a bearer token sent with every call. TokenFunc, when set
	// instead, is asked before every call, so that it can renew a token
	// that is about to expire. Set at most one; with neither, calls carry no
	// Authorization header (enough for /healthz and the discovery document).
	Token     string
	TokenFunc func(ctx context.Context) (string, error)

	// HTTPClient sends the calls; nil means http.DefaultClient.
	HTTPClient *http.Client

	// Gzip compresses request bodies (Content-Encoding: gzip), as
	// Microsoft's Graph SDKs do.
	Gzip bool

	// PageSize, when above zero, asks for pages of that many items ($top)
	// in the List calls; zero leaves the page size to accessd.
	PageSize int
}

// Client calls one accessd server. It is safe for concurrent use.
type Client struct {
	base     string // BaseURL without a trailing slash
	token    func(ctx context.Context) (string, error)
	http     *http.Client
	gzip     bool
	pageSize int
}

// New checks the configuration and returns a client.
func New(cfg Config) (*Client, error) {
	base := strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: BaseURL %q is not an absolute http or https URL such as http://127.0.0.1:8080", cfg.BaseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: BaseURL %q has a query or fragment; give accessd's root only", cfg.BaseURL)
	}
	if cfg.Token != "" && cfg.TokenFunc != nil {
		return nil, errors.New("client: set Token or TokenFunc, not both")
	}
	if cfg.PageSize < 0 {
		return nil, fmt.Errorf("client: PageSize %d is negative; use 0 for accessd's default", cfg.PageSize)
	}
	c := &Client{base: base, http: cfg.HTTPClient, gzip: cfg.Gzip, pageSize: cfg.PageSize, token: cfg.TokenFunc}
	if c.http == nil {
		c.http = http.DefaultClient
	}
	if c.token == nil {
		static := cfg.Token
		c.token = func(context.Context) (string, error) { return static, nil }
	}
	return c, nil
}

// BaseURL is the root the client calls, without a trailing slash.
func (c *Client) BaseURL() string { return c.base }

type clientRequestIDKey struct{}

// WithClientRequestID returns a context whose calls carry id in the
// client-request-id header. accessd logs it next to its own request-id and
// echoes it in answers and errors, which ties a client's log to the server's.
func WithClientRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, clientRequestIDKey{}, id)
}

// Response is an answer exactly as accessd sent it.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// maxAnswer bounds how much of an answer the client reads: far above any
// page accessd writes, it keeps a misdirected call from filling memory.
const maxAnswer = 64 << 20

// Raw sends one call and returns the answer whatever its status, for
// callers that assert on exact bodies. in is the body: nil for none,
// []byte or json.RawMessage as is, anything else encoded as JSON. path is
// relative to the base URL ("/v1.0/users"), or an absolute URL under it
// (an @odata.nextLink). An error means there is no answer: bad input, no
// token, or a failure on the way.
func (c *Client) Raw(ctx context.Context, method, path string, in any) (Response, error) {
	target, err := c.resolve(path)
	if err != nil {
		return Response{}, err
	}
	body, err := encodeBody(in)
	if err != nil {
		return Response{}, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	compressed := false
	if c.gzip && len(body) > 0 {
		if body, err = gzipped(body); err != nil {
			return Response{}, fmt.Errorf("client: %s %s: %w", method, path, err)
		}
		compressed = true
	}
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return Response{}, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	token, err := c.token(ctx)
	if err != nil {
		return Response{}, fmt.Errorf("client: %s %s: getting a token: %w", method, path, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	if compressed {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if id, _ := ctx.Value(clientRequestIDKey{}).(string); id != "" {
		req.Header.Set("client-request-id", id)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return Response{}, fmt.Errorf("client: %s %s: reading the answer: %w", method, path, err)
	}
	if len(answer) > maxAnswer {
		return Response{}, fmt.Errorf("client: %s %s: the answer is larger than %d bytes", method, path, maxAnswer)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: answer}, nil
}

// Do sends one call like Raw, turns an answer outside 2xx into an *Error,
// and decodes a 2xx answer's JSON into out unless out is nil or the answer
// is empty (204).
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.Raw(ctx, method, path, in)
	if err != nil {
		return err
	}
	if resp.Status < 200 || resp.Status > 299 {
		return newError(method, path, resp)
	}
	if out == nil || len(bytes.TrimSpace(resp.Body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return fmt.Errorf("client: %s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// resolve turns a call's path into a URL. An absolute URL must lie under
// the base URL, so that a token never goes to a server the caller did not
// name, even when a nextLink points elsewhere.
func (c *Client) resolve(path string) (string, error) {
	switch {
	case strings.HasPrefix(path, "/"):
		return c.base + path, nil
	case strings.HasPrefix(path, c.base+"/") || strings.HasPrefix(path, c.base+"?"):
		return path, nil
	case strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://"):
		return "", fmt.Errorf("client: %s is not under the base URL %s; the client sends its token only there (is BaseURL accessd's public URL?)", path, c.base)
	default:
		return "", fmt.Errorf("client: path %q must start with / (relative to %s) or be a URL under it", path, c.base)
	}
}

func encodeBody(in any) ([]byte, error) {
	switch b := in.(type) {
	case nil:
		return nil, nil
	case []byte:
		return b, nil
	case json.RawMessage:
		return b, nil
	default:
		raw, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encoding the body: %w", err)
		}
		return raw, nil
	}
}

func gzipped(body []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(body); err != nil {
		return nil, fmt.Errorf("compressing the body: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing the body: %w", err)
	}
	return buf.Bytes(), nil
}

// page is one page of a Graph collection.
type page[W any] struct {
	Value    []W    `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

// list reads every page of a collection, following @odata.nextLink, and
// converts each item. query holds the options of the first call; accessd
// repeats them in its nextLinks.
func list[W, T any](ctx context.Context, c *Client, path string, query url.Values, convert func(W) (T, error)) ([]T, error) {
	if query == nil {
		query = url.Values{}
	}
	if c.pageSize > 0 {
		query.Set("$top", strconv.Itoa(c.pageSize))
	}
	next := path
	if len(query) > 0 {
		next += "?" + query.Encode()
	}
	out := []T{}
	seen := map[string]bool{}
	for next != "" {
		if seen[next] {
			return nil, fmt.Errorf("client: GET %s: the server sent the same nextLink twice", next)
		}
		seen[next] = true
		var p page[W]
		if err := c.Do(ctx, http.MethodGet, next, nil, &p); err != nil {
			return nil, err
		}
		for _, w := range p.Value {
			item, err := convert(w)
			if err != nil {
				return nil, fmt.Errorf("client: GET %s: %w", path, err)
			}
			out = append(out, item)
		}
		next = p.NextLink
	}
	return out, nil
}

// route builds a path from a format and ids, escaping each id. An empty id
// is an error: the call would reach another route (often the collection)
// and fail, or worse succeed, in a way that hides the mistake.
func route(format string, ids ...string) (string, error) {
	escaped := make([]any, len(ids))
	for i, id := range ids {
		if strings.TrimSpace(id) == "" {
			return "", fmt.Errorf("client: an id for %s is empty", format)
		}
		escaped[i] = url.PathEscape(id)
	}
	return fmt.Sprintf(format, escaped...), nil
}
