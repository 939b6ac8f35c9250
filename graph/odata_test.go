package graph

import (
	"io"
	"net/http"
	"testing"
)

// getText GETs path and returns the answer's status, Content-Type and
// body as text, for answers that are no JSON object (the /$count segment).
func (a *testAPI) getText(t testing.TB, path, token string) (status int, contentType, body string) {
	t.Helper()
	resp, err := a.client.Do(a.request(t, http.MethodGet, path, token, nil))
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer of GET %s: %v", path, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(raw)
}
