package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
)

func TestConfigValidate(t *testing.T) {
	valid := defaultConfig(func(string) string { return "" })
	tests := []struct {
		name   string
		change func(*Config)
		want   string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"free port", func(c *Config) { c.Addr = "127.0.0.1:0" }, ""},
		{"https public url", func(c *Config) { c.PublicURL = "https://accessd.example.com" }, ""},
		{"addr without port", func(c *Config) { c.Addr = "localhost" }, "--addr"},
		{"empty database", func(c *Config) { c.Database = " " }, "--database"},
		{"public url with path", func(c *Config) { c.PublicURL = "https://x.example.com/api" }, "--public-url"},
		{"public url without scheme", func(c *Config) { c.PublicURL = "accessd.example.com" }, "--public-url"},
		{"synchronous off", func(c *Config) { c.SQLiteSynchronous = "off" }, "--sqlite-synchronous"},
		{"zero shutdown", func(c *Config) { c.ShutdownTimeout = 0 }, "--shutdown-timeout"},
		{"log format", func(c *Config) { c.LogFormat = "xml" }, "--log-format"},
		{"zero read timeout", func(c *Config) { c.ReadTimeout = 0 }, "--read-timeout"},
		{"negative idle timeout", func(c *Config) { c.IdleTimeout = -time.Second }, "--idle-timeout"},
		{"header timeout longer than the read timeout", func(c *Config) { c.ReadHeaderTimeout = time.Minute }, "--read-header-timeout"},
		{"write timeout too short for the --dev clock call", func(c *Config) { c.Dev, c.WriteTimeout = true, 30*time.Second }, "--write-timeout"},
		{"a short write timeout without --dev", func(c *Config) { c.WriteTimeout = 5 * time.Second }, ""},
		{"no connections", func(c *Config) { c.MaxConnections = 0 }, "--max-connections"},
		{"negative delivery retry", func(c *Config) { c.DeliveryRetryFor = -time.Minute }, "--delivery-retry-for"},
		{"rate limits off", func(c *Config) { c.RateLimit, c.RateBurst, c.AnonymousRateLimit, c.AnonymousRateBurst = 0, 0, 0, 0 }, ""},
		{"negative rate limit", func(c *Config) { c.RateLimit = -1 }, "--rate-limit"},
		{"a rate limit that locks callers out", func(c *Config) { c.RateLimit = 0.001 }, "--rate-limit"},
		{"rate limit not a number", func(c *Config) { c.RateLimit = math.NaN() }, "--rate-limit"},
		{"no burst", func(c *Config) { c.RateBurst = 0 }, "--rate-burst"},
		{"negative anonymous rate limit", func(c *Config) { c.AnonymousRateLimit = -5 }, "--anonymous-rate-limit"},
		{"no anonymous burst", func(c *Config) { c.AnonymousRateBurst = 0 }, "--anonymous-rate-burst"},
		{"trusted proxies", func(c *Config) { c.TrustedProxies = "10.0.0.0/8, 192.0.2.7,fd00::/8" }, ""},
		{"a trusted proxy that is no address", func(c *Config) { c.TrustedProxies = "10.0.0.0/8,lb.internal" }, `--trusted-proxies: "lb.internal"`},
		{"an http callout proxy", func(c *Config) { c.CalloutProxy = "http://proxy.internal:3128" }, ""},
		{"an https callout proxy with credentials", func(c *Config) { c.CalloutProxy = "https://u:p@proxy.internal" }, ""},
		{"a socks callout proxy", func(c *Config) { c.CalloutProxy = "socks5://proxy.internal:1080" }, "--callout-proxy"},
		{"a callout proxy without a scheme", func(c *Config) { c.CalloutProxy = "proxy.internal:3128" }, "--callout-proxy"},
		{"metrics on a listener of their own", func(c *Config) { c.MetricsAddr = "127.0.0.1:9100" }, ""},
		{"metrics addr without port", func(c *Config) { c.MetricsAddr = "localhost" }, "--metrics-addr"},
		{"traces to a collector", func(c *Config) { c.OTelEndpoint = "http://localhost:4318" }, ""},
		{"traces to a collector without a scheme", func(c *Config) { c.OTelEndpoint = "localhost:4318" }, "--otel-endpoint"},
		{"an external issuer", oidc("both", "https://login.microsoftonline.com/"+entraTenant+"/v2.0"), ""},
		{"an external issuer only, on loopback http", oidc("oidc", "http://127.0.0.1:8081/realms/dev"), ""},
		{"an external issuer that creates principals", func(c *Config) {
			oidc("oidc", "https://keycloak.example.com/realms/corp")(c)
			c.OIDCCreatePrincipals = true
		}, ""},
		{"an unknown auth mode", func(c *Config) { c.Auth = "ldap" }, `--auth: "ldap" is not builtin, oidc or both`},
		{"oidc without an issuer", oidc("oidc", ""), "--auth oidc needs --oidc-issuer"},
		{"an issuer over plain http elsewhere", oidc("both", "http://keycloak.example.com/realms/corp"), "--oidc-issuer \"http://keycloak.example.com/realms/corp\" must be https"},
		{"an issuer that is no URL", oidc("oidc", "login.microsoftonline.com"), "--oidc-issuer \"login.microsoftonline.com\" is not an https URL"},
		{"an issuer that is accessd itself", func(c *Config) {
			oidc("both", "https://accessd.example.com/")(c)
			c.PublicURL = "https://accessd.example.com"
		}, "--oidc-issuer must be another issuer than accessd itself"},
		{"oidc without an audience", func(c *Config) {
			oidc("oidc", "https://keycloak.example.com/realms/corp")(c)
			c.OIDCAudience = " "
		}, "--auth oidc needs --oidc-audience"},
		{"oidc without a tenant", func(c *Config) {
			oidc("both", "https://keycloak.example.com/realms/corp")(c)
			c.TenantID = ""
		}, "--auth both needs --tenant-id"},
		{"a tenant id with a space", func(c *Config) { c.TenantID = "contoso tenant" }, "--tenant-id"},
		{"a tenant id without an external issuer", func(c *Config) { c.TenantID = entraTenant }, ""},
		{"an issuer with --auth builtin", func(c *Config) { c.OIDCIssuer = "https://keycloak.example.com/realms/corp" }, "--oidc-issuer needs --auth oidc or --auth both"},
		{"creating principals with --auth builtin", func(c *Config) { c.OIDCCreatePrincipals = true }, "--oidc-create-principals needs --auth oidc or --auth both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.change(&c)
			err := c.validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("want an error naming %s, got %v", tt.want, err)
			}
		})
	}
}

const entraTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

// oidc sets a valid external issuer with the given mode and issuer URL.
func oidc(mode, issuer string) func(*Config) {
	return func(c *Config) {
		c.Auth, c.OIDCIssuer, c.OIDCAudience, c.TenantID = mode, issuer, "api://accessd", entraTenant
	}
}

func TestConfigThrottle(t *testing.T) {
	c := defaultConfig(func(string) string { return "" })
	c.RateLimit, c.RateBurst, c.AnonymousRateLimit, c.AnonymousRateBurst = 50, 60, 2, 3
	c.TrustedProxies = " 10.1.2.3/8 ,192.0.2.7, fd00::1,,"
	got, err := c.throttle()
	if err != nil {
		t.Fatal(err)
	}
	wantProxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("fd00::1/128")}
	if got.CallerRate != 50 || got.CallerBurst != 60 || got.AnonymousRate != 2 || got.AnonymousBurst != 3 || !slices.Equal(got.TrustedProxies, wantProxies) {
		t.Errorf("throttle %+v, want rates 50/60 and 2/3 and proxies %v", got, wantProxies)
	}
	if none, _ := defaultConfig(func(string) string { return "" }).throttle(); len(none.TrustedProxies) != 0 {
		t.Errorf("by default X-Forwarded-For is believed from %v; it must be from nobody", none.TrustedProxies)
	}
}

// --dev lets callouts reach loopback and private addresses unless the
// command line says otherwise; without --dev only the flag does.
func TestCalloutAllowPrivate(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"--callout-allow-private"}, true},
		{[]string{"--dev"}, true},
		{[]string{"--dev", "--callout-allow-private=false"}, false},
		{[]string{"--callout-allow-private=false", "--dev"}, false},
		{[]string{"--dev", "--callout-allow-private"}, true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			c, err := parseServeConfig(tt.args, &stderr, func(string) string { return "" })
			if err != nil {
				t.Fatalf("%v %s", err, stderr.String())
			}
			if c.CalloutAllowPrivate != tt.want {
				t.Errorf("CalloutAllowPrivate %t, want %t", c.CalloutAllowPrivate, tt.want)
			}
		})
	}
}

// --record-callouts is off by default and on with --dev, unless the command
// line or the environment says otherwise; a variable that is no bool is refused.
func TestRecordCallouts(t *testing.T) {
	tests := []struct {
		args []string
		env  string
		want bool
	}{
		{nil, "", false},
		{[]string{"--record-callouts"}, "", true},
		{nil, "true", true},
		{[]string{"--dev"}, "", true},
		{[]string{"--dev", "--record-callouts=false"}, "", false},
		{[]string{"--dev"}, "false", false},
		{[]string{"--record-callouts=false"}, "true", false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " ")+" env="+tt.env, func(t *testing.T) {
			var stderr bytes.Buffer
			env := map[string]string{"ACCESSD_RECORD_CALLOUTS": tt.env}
			c, err := parseServeConfig(tt.args, &stderr, func(k string) string { return env[k] })
			if err != nil {
				t.Fatalf("%v %s", err, stderr.String())
			}
			if c.RecordCallouts != tt.want {
				t.Errorf("RecordCallouts %t, want %t", c.RecordCallouts, tt.want)
			}
		})
	}
	var stderr bytes.Buffer
	if _, err := parseServeConfig(nil, &stderr, func(k string) string { return map[string]string{"ACCESSD_RECORD_CALLOUTS": "often"}[k] }); err == nil ||
		!strings.Contains(err.Error(), `ACCESSD_RECORD_CALLOUTS must be true or false, not "often"`) {
		t.Errorf("a record-callouts variable that is no bool: %v", err)
	}
}

// A bad secrets file stops serve before it listens, naming the file and the
// line; a good one is accepted.
func TestServeReadsCalloutSigningSecrets(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad-secrets")
	if err := os.WriteFile(bad, []byte("# rotation\next-1 not-a-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	args := []string{"serve", "--addr", "127.0.0.1:0", "--database", filepath.Join(dir, "a.db"), "--callout-signing-secrets", bad}
	if code := run(t.Context(), args, &out, &errOut, func(string) string { return "" }); code != 1 {
		t.Fatalf("exit code %d, want 1; stderr %q", code, errOut.String())
	}
	if want := "--callout-signing-secrets: " + bad + ": line 2: the secret does not start with whsec_"; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q does not say %q", errOut.String(), want)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q: it must stop before listening", out.String())
	}
}

func TestEnvironmentOverDefaults(t *testing.T) {
	env := map[string]string{"ACCESSD_ADDR": "0.0.0.0:9000", "ACCESSD_DATABASE": "/tmp/x.db", "ACCESSD_PUBLIC_URL": "https://a.example.com",
		"ACCESSD_METRICS_ADDR": "127.0.0.1:9100", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
	c := defaultConfig(func(k string) string { return env[k] })
	if c.Addr != "0.0.0.0:9000" || c.Database != "/tmp/x.db" || c.PublicURL != "https://a.example.com" || c.MetricsAddr != "127.0.0.1:9100" ||
		c.OTelEndpoint != "http://collector:4318" {
		t.Fatalf("environment not applied: %+v", c)
	}
	if c.Auth != "builtin" || c.OIDCCreatePrincipals {
		t.Errorf("by default --auth %q and --oidc-create-principals %t, want builtin and false", c.Auth, c.OIDCCreatePrincipals)
	}
}

func TestAuthEnvironment(t *testing.T) {
	issuer := "https://login.microsoftonline.com/" + entraTenant + "/v2.0"
	env := map[string]string{"ACCESSD_AUTH": "oidc", "ACCESSD_OIDC_ISSUER": issuer, "ACCESSD_OIDC_AUDIENCE": "api://accessd",
		"ACCESSD_OIDC_CREATE_PRINCIPALS": "true", "ACCESSD_TENANT_ID": entraTenant}
	var stderr bytes.Buffer
	c, err := parseServeConfig(nil, &stderr, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("%v %s", err, stderr.String())
	}
	if c.Auth != "oidc" || c.OIDCIssuer != issuer || c.OIDCAudience != "api://accessd" || !c.OIDCCreatePrincipals || c.TenantID != entraTenant {
		t.Errorf("environment not applied: %+v", c)
	}
	// Flags win over the environment.
	c, err = parseServeConfig([]string{"--auth", "both", "--oidc-create-principals=false"}, &stderr, func(k string) string { return env[k] })
	if err != nil || c.Auth != "both" || c.OIDCCreatePrincipals {
		t.Errorf("flags over the environment: --auth %q, --oidc-create-principals %t, %v", c.Auth, c.OIDCCreatePrincipals, err)
	}
	env["ACCESSD_OIDC_CREATE_PRINCIPALS"] = "sometimes"
	if _, err := parseServeConfig(nil, &stderr, func(k string) string { return env[k] }); err == nil ||
		!strings.Contains(err.Error(), `ACCESSD_OIDC_CREATE_PRINCIPALS must be true or false, not "sometimes"`) {
		t.Errorf("a create-principals variable that is no bool: %v", err)
	}
}

// newDatabase is a migrated SQLite database in a temporary directory, as
// `accessd migrate` leaves it: `accessd token` refuses one that does not exist.
func newDatabase(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "a.db")
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"migrate", "--database", db}, &out, &errOut, func(string) string { return "" }); code != 0 {
		t.Fatalf("accessd migrate: exit code %d; stderr %q", code, errOut.String())
	}
	return db
}

func TestTokenRefusesBadArguments(t *testing.T) {
	db := newDatabase(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"neither app nor user", []string{}, "exactly one of"},
		{"both app and user", []string{"--app", "a", "--user", "u@x.test"}, "exactly one of"},
		{"scopes on an app", []string{"--app", "a", "--scopes", "X"}, "--scopes is for --user"},
		{"roles on a user", []string{"--user", "u@x.test", "--roles", "X"}, "--roles is for --app"},
		{"negative ttl", []string{"--app", "a", "--ttl", "-1h"}, "--ttl"},
		{"ttl over the cap", []string{"--app", "a", "--ttl", "25h"}, "--ttl 25h0m0s is longer than the cap of 24h0m0s: ask for less, or raise the cap with --max-ttl"},
		{"ttl over a raised cap", []string{"--app", "a", "--ttl", "49h", "--max-ttl", "48h"}, "--ttl 49h0m0s is longer than the cap of 48h0m0s"},
		{"unknown user", []string{"--user", "nobody@x.test", "--scopes", "EntitlementManagement.Read.All"}, "no directory user"},
		{"bad public url", []string{"--app", "a", "--public-url", "ftp://x"}, "--public-url"},
		{"unknown role", []string{"--app", "a", "--roles", "EntitlementManagement.ReadWrite.All,Directory.Write.All"},
			`--roles: unknown permission "Directory.Write.All"; known permissions: Application.Read.All, `},
		{"role in other case", []string{"--app", "a", "--roles", "directory.readwrite.all"}, `--roles: unknown permission "directory.readwrite.all"`},
		{"self-service as a scope passes the check", []string{"--user", "nobody@x.test", "--scopes", "EntitlementMgmt-SubjectAccess.ReadWrite"}, "no directory user"},
		{"unknown scope", []string{"--user", "u@x.test", "--scopes", "User.Read"}, `--scopes: unknown permission "User.Read"; known permissions: `},
		{"self-service as a role", []string{"--app", "a", "--roles", "EntitlementMgmt-SubjectAccess.ReadWrite"},
			"--roles: EntitlementMgmt-SubjectAccess.ReadWrite is a delegated permission"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"token", "--database", db}, tt.args...)
			if code := run(t.Context(), args, &out, &errOut, func(string) string { return "" }); code != 1 {
				t.Fatalf("exit code %d, want 1; stderr %q", code, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.want) {
				t.Fatalf("stderr %q does not mention %q", errOut.String(), tt.want)
			}
			if out.Len() != 0 {
				t.Fatalf("printed a token on failure: %q", out.String())
			}
		})
	}
}

// The error for an unknown permission lists every known one, so that the
// user can pick the right name from it.
func TestTokenNamesKnownPermissions(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"token", "--database", newDatabase(t), "--app", "a", "--roles", "Everything.All"}
	if code := run(t.Context(), args, &out, &errOut, func(string) string { return "" }); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	for _, name := range access.KnownPermissions() {
		if !strings.Contains(errOut.String(), name) {
			t.Errorf("stderr %q does not name %s", errOut.String(), name)
		}
	}
}

func TestTokenMints(t *testing.T) {
	db := newDatabase(t)
	var appPermissions []string
	for _, name := range access.KnownPermissions() {
		if name != access.SubjectAccess {
			appPermissions = append(appPermissions, name)
		}
	}
	tests := []struct {
		name  string
		args  []string
		roles []string // the token's roles claim
	}{
		// An application may hold entitlement-management roles instead of permissions.
		{"an app without roles", []string{"--app", "no-roles"}, nil},
		{"an app with every application permission", []string{"--app", "all", "--roles", strings.Join(appPermissions, ",")}, appPermissions},
		{"spaces around names", []string{"--app", "spaced", "--roles", " User.Read.All , Group.Read.All "}, []string{"User.Read.All", "Group.Read.All"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"token", "--database", db}, tt.args...)
			if code := run(t.Context(), args, &out, &errOut, func(string) string { return "" }); code != 0 {
				t.Fatalf("exit code %d, want 0; stderr %q", code, errOut.String())
			}
			parts := strings.Split(strings.TrimSpace(out.String()), ".")
			if len(parts) != 3 {
				t.Fatalf("printed %q, not a JWT", out.String())
			}
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				t.Fatal(err)
			}
			var claims struct {
				Roles []string `json:"roles"`
			}
			if err := json.Unmarshal(payload, &claims); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(claims.Roles, tt.roles) {
				t.Errorf("roles %q, want %q", claims.Roles, tt.roles)
			}
		})
	}
}

// A token lives as long as --ttl says, up to the cap, which --max-ttl moves.
func TestTokenLifetime(t *testing.T) {
	db := newDatabase(t)
	tests := []struct {
		args []string
		want time.Duration
	}{
		{nil, time.Hour},
		{[]string{"--ttl", "24h"}, 24 * time.Hour},
		{[]string{"--ttl", "168h", "--max-ttl", "168h"}, 168 * time.Hour},
		{[]string{"--ttl", "5m", "--max-ttl", "10m"}, 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"token", "--database", db, "--app", "a"}, tt.args...)
			if code := run(t.Context(), args, &out, &errOut, func(string) string { return "" }); code != 0 {
				t.Fatalf("exit code %d, want 0; stderr %q", code, errOut.String())
			}
			parts := strings.Split(strings.TrimSpace(out.String()), ".")
			if len(parts) != 3 {
				t.Fatalf("printed %q, not a JWT", out.String())
			}
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				t.Fatal(err)
			}
			var claims struct {
				Iat, Exp int64
			}
			if err := json.Unmarshal(payload, &claims); err != nil {
				t.Fatal(err)
			}
			if got := time.Duration(claims.Exp-claims.Iat) * time.Second; got != tt.want {
				t.Errorf("the token lives %s, want %s", got, tt.want)
			}
		})
	}
}

// accessd token never creates a database: one run in the wrong directory
// would mint tokens signed with a new key, which no server accepts.
func TestTokenRefusesAMissingDatabase(t *testing.T) {
	tests := []struct {
		name     string
		database []string // --database and its value, or nothing for the default
		missing  string   // the file the error must name, relative to the directory
	}{
		{"the default", nil, "accessd.db"},
		{"a path", []string{"--database", "elsewhere.db"}, "elsewhere.db"},
		{"a file: URI", []string{"--database", "file:uri.db?mode=rwc"}, "uri.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append(append([]string{"token"}, tt.database...), "--app", "a")
			code, stdout, stderr := runIn(t, dir, args...)
			if code != 1 || stdout != "" {
				t.Errorf("exit code %d, stdout %q; want 1 and no token", code, stdout)
			}
			want := "database " + filepath.Join(dir, tt.missing) + " does not exist: start accessd serve first"
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr %q does not say %q", stderr, want)
			}
			wantEmptyDir(t, dir)
		})
	}
}
