package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/graph"
	"github.com/accessd/accessd/identity"
	"github.com/accessd/accessd/telemetry"
)

// Config is every setting of `accessd serve`, with its defaults. Flags win
// over environment variables, which win over defaults.
type Config struct {
	Addr              string
	Database          string
	PublicURL         string // empty: http://<the address actually bound>
	Seed              string
	Dev               bool
	SQLiteSynchronous string
	ShutdownTimeout   time.Duration
	LogFormat         string
	WorkLease         time.Duration
	DeliveryRetryFor  time.Duration
	Workers           int
	DBMaxConns        int
	CPUProfile        string
	Trace             string
	MetricsAddr       string // empty: /metrics on Addr
	OTelEndpoint      string // empty: no tracing

	// What one client may hold: see graph.LimitConnections and net/http.Server.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxConnections    int

	// How often one caller may call this process: see graph.Throttle.
	RateLimit          float64 // per verified caller (oid), calls a second; 0 is off
	RateBurst          int
	AnonymousRateLimit float64 // per client address, for calls without a valid token; 0 is off
	AnonymousRateBurst int
	TrustedProxies     string // comma-separated addresses and CIDR prefixes whose X-Forwarded-For is believed
	// Callouts: see engine.Config. AllowPrivate is on by default with --dev
	// (parseServeConfig), whose extensions usually run on loopback.
	CalloutAllowPrivate   bool
	CalloutProxy          string // empty: callouts connect directly
	CalloutSigningSecrets string // a file; empty: callouts are not signed
	// RecordCallouts keeps each callout attempt (time, latency, status,
	// the start of the answer) for the portal's admin view, at one more
	// write per attempt; on by default with --dev.
	RecordCallouts bool

	// Whose tokens API callers may bring: see identity.Mode. The built-in
	// issuer signs callout tokens whatever Auth says.
	Auth                 string
	OIDCIssuer           string // the external issuer, with Auth oidc or both
	OIDCAudience         string // the aud its tokens must name
	OIDCCreatePrincipals bool   // add callers the directory does not know, rather than refuse them
	// The portal's sign-in with the external issuer (authorization code
	// with PKCE); empty: no such sign-in. See docs/portal.md.
	OIDCClientID     string
	OIDCClientSecret string // empty: a public client
	// TenantID, when set, becomes the database's tenant id: the tid of
	// accessd's tokens, and the tid the external issuer's must carry.
	TenantID string

	envProblems []string // environment variables that did not parse, reported by validate
}

// defaultConfig reads the environment over the built-in defaults.
func defaultConfig(getenv func(string) string) Config {
	c := Config{
		Addr:              "127.0.0.1:8080",
		Database:          "accessd.db",
		SQLiteSynchronous: "normal",
		ShutdownTimeout:   10 * time.Second,
		LogFormat:         "text",
		Auth:              string(identity.ModeBuiltin),
		WorkLease:         30 * time.Second,
		DeliveryRetryFor:  access.DefaultDeliveryRetryFor,
		// A worker holds its slot from the claim until the callout's outcome
		// is committed, which under load waits for a shared commit; 128
		// kept accessd bench fastest (32: 971/s, 64: 982/s, 128: 1,121/s,
		// 256: 1,096/s on two cores).
		Workers:    128,
		DBMaxConns: 20,
		// A request's headers must arrive within 10 s and the whole request
		// within 30 s; an answer may take 60 s (the --dev clock call waits up
		// to 30 s for due work); a keep-alive connection idle for 2 minutes
		// is closed. 4,096 connections stay well below the file descriptors
		// a process gets, so clients that never finish cannot exhaust them.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxConnections:    4096,
		// Never stricter than Microsoft Graph's global limit of 130,000
		// calls per 10 seconds per application: a bucket that gains 13,000 a
		// second and holds 130,000 admits every caller that limit admits, and
		// accessd bench at full speed (about 3,500 calls a second from one
		// token on two cores) is nowhere near it. Lower it to keep one
		// caller from taking a whole replica.
		RateLimit: 13_000,
		RateBurst: 130_000,
		// Calls without a valid token are discovery and JWKS fetches, which
		// clients cache for 5 minutes, and tokens refused once before the
		// client gets a new one; 100 a second per address is far above
		// that, and bounds the signature checks forged tokens cost.
		AnonymousRateLimit: 100,
		AnonymousRateBurst: 200,
	}
	if v := getenv("ACCESSD_ADDR"); v != "" {
		c.Addr = v
	}
	if v := getenv("ACCESSD_DATABASE"); v != "" {
		c.Database = v
	}
	if v := getenv("ACCESSD_PUBLIC_URL"); v != "" {
		c.PublicURL = v
	}
	if v := getenv("ACCESSD_METRICS_ADDR"); v != "" {
		c.MetricsAddr = v
	}
	c.OTelEndpoint = getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	if v := getenv("ACCESSD_AUTH"); v != "" {
		c.Auth = v
	}
	c.OIDCIssuer = getenv("ACCESSD_OIDC_ISSUER")
	c.OIDCAudience = getenv("ACCESSD_OIDC_AUDIENCE")
	c.TenantID = getenv("ACCESSD_TENANT_ID")
	c.OIDCClientID = getenv("ACCESSD_OIDC_CLIENT_ID")
	c.OIDCClientSecret = getenv("ACCESSD_OIDC_CLIENT_SECRET")
	if v := getenv("ACCESSD_RECORD_CALLOUTS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			c.envProblems = append(c.envProblems, fmt.Sprintf("ACCESSD_RECORD_CALLOUTS must be true or false, not %q", v))
		}
		c.RecordCallouts = b
	}
	if v := getenv("ACCESSD_OIDC_CREATE_PRINCIPALS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			c.envProblems = append(c.envProblems, fmt.Sprintf("ACCESSD_OIDC_CREATE_PRINCIPALS must be true or false, not %q", v))
		}
		c.OIDCCreatePrincipals = b
	}
	return c
}

// register binds the serve flags to c.
func (c *Config) register(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address; port 0 picks a free port (env ACCESSD_ADDR)")
	fs.StringVar(&c.Database, "database", c.Database, "SQLite database file, or a postgres:// URL (env ACCESSD_DATABASE)")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "base URL clients and extensions reach accessd at; the token issuer (env ACCESSD_PUBLIC_URL; default http://<addr>)")
	fs.StringVar(&c.Seed, "seed", c.Seed, "JSON file of directory and entitlement objects applied at start")
	fs.BoolVar(&c.Dev, "dev", c.Dev, "development mode: enables the /_accessd endpoints")
	fs.StringVar(&c.SQLiteSynchronous, "sqlite-synchronous", c.SQLiteSynchronous, "SQLite synchronous setting: normal (survives crashes) or full (also survives power loss)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long in-flight requests may take to finish on SIGINT/SIGTERM")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text or json")
	fs.DurationVar(&c.WorkLease, "work-lease", c.WorkLease, "how long claimed work is reserved for this process before another may take it over")
	fs.IntVar(&c.Workers, "workers", c.Workers, "pieces of queued work (callouts, timers) done at once")
	fs.DurationVar(&c.DeliveryRetryFor, "delivery-retry-for", c.DeliveryRetryFor, "how long a resource role that fails to be granted or taken away is retried before it counts as failed")
	fs.StringVar(&c.CPUProfile, "cpuprofile", c.CPUProfile, "write a CPU profile (go tool pprof) to this file until the server stops")
	fs.StringVar(&c.Trace, "trace", c.Trace, "write an execution trace (go tool trace) to this file until the server stops; about 2 MB a second under load")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", c.DBMaxConns, "PostgreSQL only: connections this process opens at most (plus one that listens for work)")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", c.ReadHeaderTimeout, "how long a client may take to send a request's headers")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", c.ReadTimeout, "how long a client may take to send a whole request, body included")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", c.WriteTimeout, "how long an answer may take, from the end of the request's headers")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "how long a keep-alive connection may wait for its next request")
	fs.IntVar(&c.MaxConnections, "max-connections", c.MaxConnections, "client connections open at once; more wait to be accepted")
	fs.Float64Var(&c.RateLimit, "rate-limit", c.RateLimit, "calls a second each caller (the oid of a verified token) may make to this process, after its burst; 0 turns it off")
	fs.IntVar(&c.RateBurst, "rate-burst", c.RateBurst, "calls a caller may make at once after being idle")
	fs.Float64Var(&c.AnonymousRateLimit, "anonymous-rate-limit", c.AnonymousRateLimit, "calls a second each client address may make without a valid token, after its burst; 0 turns it off")
	fs.IntVar(&c.AnonymousRateBurst, "anonymous-rate-burst", c.AnonymousRateBurst, "calls without a valid token an address may make at once after being idle")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", c.TrustedProxies, "comma-separated addresses or CIDR prefixes of proxies whose X-Forwarded-For names the client address (default: none, the header is ignored)")
	fs.BoolVar(&c.CalloutAllowPrivate, "callout-allow-private", c.CalloutAllowPrivate, "let callouts reach loopback and private addresses (127/8, ::1, 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7): extensions on this host or network; on by default with --dev. Link-local and cloud metadata addresses are always refused")
	fs.StringVar(&c.CalloutProxy, "callout-proxy", c.CalloutProxy, "send every callout through this HTTP proxy (an http:// or https:// URL), which then resolves extensions' hosts; HTTP_PROXY and the like are never used for callouts")
	fs.StringVar(&c.CalloutSigningSecrets, "callout-signing-secrets", c.CalloutSigningSecrets, "file of lines '<extension id or *> <whsec_… secret>': callouts to those extensions also carry Standard Webhooks signatures; two lines for one id during a rotation; read again on SIGHUP")
	fs.BoolVar(&c.RecordCallouts, "record-callouts", c.RecordCallouts, "keep each callout attempt (when sent, how long it took, the status or error, the first 4 KiB of the answer), the newest 200 of each extension, for the portal's admin view; one more write per attempt; on by default with --dev (env ACCESSD_RECORD_CALLOUTS)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "serve /metrics on this address instead of --addr, e.g. to keep it private (env ACCESSD_METRICS_ADDR)")
	fs.StringVar(&c.Auth, "auth", c.Auth, "whose tokens API callers may bring: builtin (minted by accessd token), oidc (the --oidc-issuer's only) or both (env ACCESSD_AUTH)")
	fs.StringVar(&c.OIDCIssuer, "oidc-issuer", c.OIDCIssuer, "with --auth oidc or both: the external OpenID Connect issuer URL, the iss of its tokens, e.g. https://login.microsoftonline.com/TENANT/v2.0; https, or http on loopback (env ACCESSD_OIDC_ISSUER)")
	fs.StringVar(&c.OIDCAudience, "oidc-audience", c.OIDCAudience, "with --auth oidc or both: the aud the external issuer's tokens must name, e.g. accessd's application id there (env ACCESSD_OIDC_AUDIENCE)")
	fs.BoolVar(&c.OIDCCreatePrincipals, "oidc-create-principals", c.OIDCCreatePrincipals, "add a caller of the external issuer that the directory does not know on its first call (a user, or a service principal for an app token) instead of refusing it with 401 (env ACCESSD_OIDC_CREATE_PRINCIPALS)")
	fs.StringVar(&c.OIDCClientID, "oidc-client-id", c.OIDCClientID, "with --auth oidc or both: the portal's client id at the external issuer; enables sign-in to /portal/ with the authorization-code flow and PKCE, redirecting to {public-url}/portal/callback (env ACCESSD_OIDC_CLIENT_ID)")
	fs.StringVar(&c.OIDCClientSecret, "oidc-client-secret", c.OIDCClientSecret, "with --oidc-client-id: the client's secret, for a confidential client; leave empty for a public one (env ACCESSD_OIDC_CLIENT_SECRET)")
	fs.StringVar(&c.TenantID, "tenant-id", c.TenantID, "the tenant id this database serves: the tid of accessd's tokens and the tid the external issuer's tokens must carry; required with --auth oidc or both (env ACCESSD_TENANT_ID; default: an id made once per database)")
	fs.StringVar(&c.OTelEndpoint, "otel-endpoint", c.OTelEndpoint, "send OpenTelemetry traces over OTLP/HTTP to the collector at this base URL, e.g. http://localhost:4318 (env OTEL_EXPORTER_OTLP_ENDPOINT; default: no tracing)")
}

// parseServeConfig reads serve's command line over the environment and the
// defaults, and validates the result. --dev turns --callout-allow-private
// and --record-callouts on unless the command line (or, for the second, the
// environment) sets them either way.
func parseServeConfig(args []string, stderr io.Writer, getenv func(string) string) (Config, error) {
	c := defaultConfig(getenv)
	fs := flag.NewFlagSet("accessd serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	allowPrivateSet, recordSet := false, getenv("ACCESSD_RECORD_CALLOUTS") != ""
	fs.Visit(func(f *flag.Flag) {
		allowPrivateSet = allowPrivateSet || f.Name == "callout-allow-private"
		recordSet = recordSet || f.Name == "record-callouts"
	})
	if c.Dev && !allowPrivateSet {
		c.CalloutAllowPrivate = true
	}
	if c.Dev && !recordSet {
		c.RecordCallouts = true
	}
	return c, c.validate()
}

// validate checks the settings before anything starts.
func (c Config) validate() error {
	problems := slices.Clone(c.envProblems)
	problems = append(problems, c.authProblems()...)
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		problems = append(problems, fmt.Sprintf("--addr %q is not host:port", c.Addr))
	}
	if _, _, err := net.SplitHostPort(c.MetricsAddr); c.MetricsAddr != "" && err != nil {
		problems = append(problems, fmt.Sprintf("--metrics-addr %q is not host:port", c.MetricsAddr))
	}
	if _, err := telemetry.TracesURL(c.OTelEndpoint); c.OTelEndpoint != "" && err != nil {
		problems = append(problems, fmt.Sprintf("--otel-endpoint %q must be an http or https URL such as http://localhost:4318", c.OTelEndpoint))
	}
	if strings.TrimSpace(c.Database) == "" {
		problems = append(problems, "--database is empty")
	}
	if c.PublicURL != "" {
		if err := checkPublicURL(c.PublicURL); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if c.SQLiteSynchronous != "normal" && c.SQLiteSynchronous != "full" {
		problems = append(problems, fmt.Sprintf("--sqlite-synchronous must be normal or full, not %q", c.SQLiteSynchronous))
	}
	if c.ShutdownTimeout <= 0 {
		problems = append(problems, "--shutdown-timeout must be positive")
	}
	if c.DeliveryRetryFor < 0 {
		problems = append(problems, "--delivery-retry-for must not be negative")
	}
	if c.WorkLease < time.Second {
		problems = append(problems, "--work-lease must be at least 1s")
	}
	if c.DBMaxConns < 1 {
		problems = append(problems, "--db-max-conns must be at least 1")
	}
	if c.Workers < 1 || c.Workers > 1024 {
		problems = append(problems, "--workers must be between 1 and 1024")
	}
	for _, t := range []struct {
		flag string
		d    time.Duration
	}{{"--read-header-timeout", c.ReadHeaderTimeout}, {"--read-timeout", c.ReadTimeout}, {"--write-timeout", c.WriteTimeout}, {"--idle-timeout", c.IdleTimeout}} {
		if t.d <= 0 {
			problems = append(problems, t.flag+" must be positive")
		}
	}
	if c.ReadHeaderTimeout > c.ReadTimeout {
		problems = append(problems, "--read-header-timeout must not be longer than --read-timeout")
	}
	if c.Dev && c.WriteTimeout <= 30*time.Second {
		problems = append(problems, "--write-timeout must be longer than 30s with --dev, whose clock call waits up to 30s for due work")
	}
	if c.MaxConnections < 1 {
		problems = append(problems, "--max-connections must be at least 1")
	}
	for _, r := range []struct {
		flag, burstFlag string
		rate            float64
		burst           int
	}{{"--rate-limit", "--rate-burst", c.RateLimit, c.RateBurst}, {"--anonymous-rate-limit", "--anonymous-rate-burst", c.AnonymousRateLimit, c.AnonymousRateBurst}} {
		// Slower than one call in 100 s locks a caller out rather than
		// slowing it down.
		if r.rate != 0 && !(r.rate >= 0.01) {
			problems = append(problems, fmt.Sprintf("%s must be 0 (off) or at least 0.01, not %g", r.flag, r.rate))
		}
		if r.rate != 0 && r.burst < 1 {
			problems = append(problems, r.burstFlag+" must be at least 1")
		}
	}
	if _, err := c.throttle(); err != nil {
		problems = append(problems, err.Error())
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		problems = append(problems, fmt.Sprintf("--log-format must be text or json, not %q", c.LogFormat))
	}
	if c.CalloutProxy != "" {
		if u, err := url.Parse(c.CalloutProxy); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, "--callout-proxy must be an http:// or https:// URL such as http://proxy.internal:3128")
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// authProblems checks the settings of who may call.
func (c Config) authProblems() []string {
	var problems []string
	mode, err := identity.ParseMode(c.Auth)
	if err != nil {
		return []string{"--auth: " + err.Error()}
	}
	if c.TenantID != "" && (len(c.TenantID) > 128 || strings.IndexFunc(c.TenantID, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0) {
		problems = append(problems, fmt.Sprintf("--tenant-id %q must be at most 128 characters without spaces, such as a GUID", c.TenantID))
	}
	if mode == identity.ModeBuiltin {
		for _, f := range []struct {
			flag string
			set  bool
		}{{"--oidc-issuer", c.OIDCIssuer != ""}, {"--oidc-audience", c.OIDCAudience != ""}, {"--oidc-create-principals", c.OIDCCreatePrincipals},
			{"--oidc-client-id", c.OIDCClientID != ""}, {"--oidc-client-secret", c.OIDCClientSecret != ""}} {
			if f.set {
				problems = append(problems, f.flag+" needs --auth oidc or --auth both: with --auth builtin no external issuer is trusted")
			}
		}
		return problems
	}
	switch {
	case c.OIDCIssuer == "":
		problems = append(problems, "--auth "+c.Auth+" needs --oidc-issuer")
	case identity.CheckIssuerURL(c.OIDCIssuer) != nil:
		problems = append(problems, "--oidc-issuer "+identity.CheckIssuerURL(c.OIDCIssuer).Error())
	case c.PublicURL != "" && strings.TrimSuffix(c.OIDCIssuer, "/") == strings.TrimSuffix(c.PublicURL, "/"):
		problems = append(problems, "--oidc-issuer must be another issuer than accessd itself (--public-url); for accessd's own tokens use --auth builtin")
	}
	if strings.TrimSpace(c.OIDCAudience) == "" {
		problems = append(problems, "--auth "+c.Auth+" needs --oidc-audience")
	}
	if c.TenantID == "" {
		problems = append(problems, "--auth "+c.Auth+" needs --tenant-id: the tid the external issuer's tokens carry")
	}
	if c.OIDCClientSecret != "" && c.OIDCClientID == "" {
		problems = append(problems, "--oidc-client-secret needs --oidc-client-id")
	}
	return problems
}

func checkPublicURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("--public-url %q must be an http or https origin such as https://accessd.example.com", raw)
	}
	return nil
}

// throttle is the graph.Throttle these settings ask for.
func (c Config) throttle() (graph.Throttle, error) {
	t := graph.Throttle{CallerRate: c.RateLimit, CallerBurst: c.RateBurst, AnonymousRate: c.AnonymousRateLimit, AnonymousBurst: c.AnonymousRateBurst}
	for _, item := range strings.Split(c.TrustedProxies, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, addrErr := netip.ParseAddr(item)
			if addrErr != nil {
				return t, fmt.Errorf("--trusted-proxies: %q is neither an IP address nor a CIDR prefix such as 10.0.0.0/8", item)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		t.TrustedProxies = append(t.TrustedProxies, p.Masked())
	}
	return t, nil
}
