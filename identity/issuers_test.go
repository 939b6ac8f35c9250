package identity

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

// storedIssuersOf reads the accepted issuers as stored, newest first.
func storedIssuersOf(t *testing.T, store access.Store) []string {
	t.Helper()
	var urls []string
	err := store.View(context.Background(), func(tx access.Tx) error {
		var err error
		urls, err = storedIssuers(tx)
		return err
	})
	if err != nil {
		t.Fatalf("read the accepted issuers: %v", err)
	}
	return urls
}

func record(t *testing.T, store access.Store, url string) {
	t.Helper()
	if err := RecordPublicURL(context.Background(), store, url); err != nil {
		t.Fatalf("RecordPublicURL(%s): %v", url, err)
	}
}

func TestRecordPublicURL(t *testing.T) {
	many := make([]string, MaxIssuers+2)
	for i := range many {
		many[i] = fmt.Sprintf("http://127.0.0.1:%d", 9000+i)
	}
	newestFirst := slices.Clone(many)
	slices.Reverse(newestFirst)

	tests := []struct {
		name       string
		legacyURL  string // public_url as a version that kept only it left it; "" for none
		served     []string
		wantIssuer []string
	}{
		{"a first start", "", []string{"http://a.test"}, []string{"http://a.test"}},
		{"newest first", "", []string{"http://a.test", "http://b.test"}, []string{"http://b.test", "http://a.test"}},
		{"a URL served again moves to the front, once",
			"", []string{"http://a.test", "http://b.test", "http://a.test"}, []string{"http://a.test", "http://b.test"}},
		{"the last URL of an older version stays accepted",
			"http://old.test", []string{"http://a.test"}, []string{"http://a.test", "http://old.test"}},
		{"at most MaxIssuers, the oldest dropped", "", many, newestFirst[:MaxIssuers]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := openStore(t, filepath.Join(t.TempDir(), "accessd.db"))
			if tt.legacyURL != "" {
				if err := store.Update(context.Background(), func(tx access.Tx) error {
					return tx.PutSetting(settingPublicURL, tt.legacyURL)
				}); err != nil {
					t.Fatal(err)
				}
			}
			for _, url := range tt.served {
				record(t, store, url)
			}
			if diff := cmp.Diff(tt.wantIssuer, storedIssuersOf(t, store)); diff != "" {
				t.Errorf("accepted issuers (-want +got):\n%s", diff)
			}
			last, ok, err := LastPublicURL(context.Background(), store)
			if want := tt.served[len(tt.served)-1]; err != nil || !ok || last != want {
				t.Errorf("LastPublicURL = %q, %v, %v; want %q", last, ok, err, want)
			}
		})
	}
}

func TestLastPublicURLOfANewDatabase(t *testing.T) {
	store := openStore(t, filepath.Join(t.TempDir(), "accessd.db"))
	if url, ok, err := LastPublicURL(context.Background(), store); url != "" || ok || err != nil {
		t.Errorf("LastPublicURL = %q, %v, %v; want \"\", false, nil", url, ok, err)
	}
}

// servedIssuer is an Issuer at url on store, accepting the issuers stored
// there, as serve builds it.
func servedIssuer(t *testing.T, store access.Store, clock access.Clock, url string) *Issuer {
	t.Helper()
	ctx := context.Background()
	keys, err := LoadKeys(ctx, store, clock)
	if err != nil {
		t.Fatalf("LoadKeys: %v", err)
	}
	accepted, err := LoadAcceptedIssuers(ctx, store, clock)
	if err != nil {
		t.Fatalf("LoadAcceptedIssuers: %v", err)
	}
	return NewIssuer(IssuerConfig{URL: url, TenantID: testTenant, Keys: keys, Accepted: accepted, Clock: clock})
}

// A server started at another address accepts the tokens minted for the
// addresses it was served at before, and mints for its own.
func TestVerifyAcceptsEveryURLServedBefore(t *testing.T) {
	f := newFixture(t)
	for _, url := range []string{"http://127.0.0.1:8080", "http://127.0.0.1:9090", testURL} {
		record(t, f.store, url)
	}
	issuer := servedIssuer(t, f.store, f.clock, testURL)
	tokenOf := func(iss string) string {
		claims := f.appClaims()
		claims["iss"] = iss
		return f.sign(t, claims)
	}

	tests := []struct {
		iss  string
		want string // part of the refusal; "" means accepted
	}{
		{testURL, ""},
		{"http://127.0.0.1:8080", ""},
		{"http://127.0.0.1:9090", ""},
		{"http://127.0.0.1:7070", `token issuer "http://127.0.0.1:7070" is not accepted: it is none of the last 50 URLs this database was served at (now "https://accessd.test")`},
		{"http://127.0.0.1:8080/", `token issuer "http://127.0.0.1:8080/" is not accepted`},
	}
	for _, tt := range tests {
		t.Run(tt.iss, func(t *testing.T) {
			_, err := issuer.Verify(context.Background(), tokenOf(tt.iss))
			if tt.want == "" {
				if err != nil {
					t.Errorf("Verify: %v, want accepted", err)
				}
				return
			}
			wantRefusal(t, err, tt.want)
		})
	}

	raw, err := issuer.MintApp(access.ServicePrincipal{ID: "sp-1", AppID: "app-1"}, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, payload := decodeToken(t, raw); payload["iss"] != testURL {
		t.Errorf("a new token names issuer %v, want the current URL %s", payload["iss"], testURL)
	}
}

// A replica accepts the tokens of a replica that started after it: a token
// naming an issuer it does not know makes it read the list again, at most
// once per 10 seconds, on either engine.
func TestUnknownIssuerRefreshesAtMostEvery10s(t *testing.T) {
	for _, backend := range storetest.Backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			dsn := storetest.DSN(t, backend)
			open := func() *sqlstore.Store {
				s := storetest.OpenUnmigrated(t, dsn, sqlstore.Options{})
				if err := s.Migrate(ctx); err != nil {
					t.Fatal(err)
				}
				return s
			}
			first, second := &countingStore{Store: open()}, open()
			clock := &fakeClock{now: testStart}

			record(t, first, "http://a.test")
			a := servedIssuer(t, first, clock, "http://a.test")
			record(t, second, "http://b.test") // a replica that starts after a read the list
			b := servedIssuer(t, second, clock, "http://b.test")
			readsBefore := first.views.Load()

			tokenOf := func(iss string) string {
				t.Helper()
				tok, err := b.Sign(jwt.MapClaims{"iss": iss, "aud": GraphAudience, "exp": clock.Now().Add(time.Hour).Unix(), "oid": "sp-1", "idtyp": "app"})
				if err != nil {
					t.Fatal(err)
				}
				return tok
			}
			tests := []struct {
				name      string
				advance   time.Duration
				iss       string
				accepted  bool
				wantReads int64
			}{
				{"the other replica's issuer: read once, then accepted", 0, "http://b.test", true, 1},
				{"known now: no read", 0, "http://b.test", true, 1},
				{"an issuer never served, at once: no read", 0, "http://never.test", false, 1},
				{"9 s later still no read", 9 * time.Second, "http://never.test", false, 1},
				{"10 s after the read it reads again", time.Second, "http://never.test", false, 2},
				{"its own URL never reads", 0, "http://a.test", true, 2},
			}
			for _, tt := range tests {
				clock.Advance(tt.advance)
				_, err := a.Verify(ctx, tokenOf(tt.iss))
				if tt.accepted && err != nil {
					t.Errorf("%s: Verify: %v, want accepted", tt.name, err)
				}
				if !tt.accepted {
					wantRefusal(t, err, "is not accepted")
				}
				if got := first.views.Load() - readsBefore; got != tt.wantReads {
					t.Errorf("%s: %d reads of the store, want %d", tt.name, got, tt.wantReads)
				}
			}
		})
	}
}
