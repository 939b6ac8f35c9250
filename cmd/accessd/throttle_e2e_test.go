package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/accessd/accessd/client"
)

// serve hands its rate flags to the API: a caller over its burst, and an
// address over its burst of calls without a token, get Graph's 429, while
// /healthz is never throttled. The rates are so low that the buckets do
// not refill while the test runs.
func TestServeThrottlesAsItsFlagsSay(t *testing.T) {
	bin := buildBinary(t)
	db := filepath.Join(t.TempDir(), "accessd.db")
	s := startServer(t, bin, "--database", db,
		"--rate-limit", "0.01", "--rate-burst", "2", "--anonymous-rate-limit", "0.01", "--anonymous-rate-burst", "1")
	caller := apiClient(t, s.url, mintToken(t, bin, db, "--app", "throttled", "--roles", "EntitlementManagement.Read.All"))
	anonymous := apiClient(t, s.url, "")

	for _, tc := range []struct {
		name       string
		api        *client.Client
		path       string
		wantStatus int
	}{
		{"the caller's first call", caller, emPath + "/catalogs", http.StatusOK},
		{"the caller's second call", caller, emPath + "/catalogs", http.StatusOK},
		{"the caller over its burst", caller, emPath + "/catalogs", http.StatusTooManyRequests},
		{"a call without a token", anonymous, emPath + "/catalogs", http.StatusUnauthorized},
		{"the address over its burst", anonymous, emPath + "/catalogs", http.StatusTooManyRequests},
		{"a health check", anonymous, "/healthz", http.StatusOK},
	} {
		resp := raw(t, tc.api, http.MethodGet, tc.path, nil)
		if resp.Status != tc.wantStatus {
			t.Fatalf("%s: status %d, want %d: %s", tc.name, resp.Status, tc.wantStatus, resp.Body)
		}
		if resp.Status != http.StatusTooManyRequests {
			continue
		}
		var envelope struct {
			Error struct{ Code string } `json:"error"`
		}
		if err := json.Unmarshal(resp.Body, &envelope); err != nil || envelope.Error.Code != "activityLimitReached" {
			t.Errorf("%s: body %s, want the Graph envelope with code activityLimitReached", tc.name, resp.Body)
		}
		if got := resp.Header.Get("Retry-After"); got != "100" {
			t.Errorf("%s: Retry-After %q, want 100 (one call in 100 s)", tc.name, got)
		}
	}
}
