package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"syscall"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/engine"
	"github.com/accessd/accessd/graph"
	"github.com/accessd/accessd/identity"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/telemetry"
	"github.com/golang-jwt/jwt/v5"
)

// errUsage means the flag package has already told the user what was wrong.
var errUsage = errors.New("usage")

// Settings accessd keeps in its database (identity keeps its own).
const (
	settingTenantID = "tenant_id"
)

// parseFlags parses a command's flags. After -h or --help it returns
// flag.ErrHelp, the usage printed, so that the command stops there and run
// exits 0; returning nil would let serve start a server and migrate migrate.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		return errUsage
	}
	return nil
}

func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// openStore opens and migrates the database.
func openStore(ctx context.Context, dsn, synchronous string, log *slog.Logger) (*sqlstore.Store, error) {
	return openStoreWith(ctx, dsn, sqlstore.Options{Synchronous: synchronous, Logger: log})
}

// openStoreWith opens and migrates the database with options.
func openStoreWith(ctx context.Context, dsn string, opt sqlstore.Options) (*sqlstore.Store, error) {
	store, err := sqlstore.Open(ctx, dsn, opt)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", dsn, err)
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, fmt.Errorf("migrate database %s: %w", dsn, err)
	}
	return store, nil
}

// tenantID is created once per database, so every token it issues shares a tid.
func tenantID(ctx context.Context, store access.Store, ids access.IDSource) (string, error) {
	var tid string
	err := store.Update(ctx, func(tx access.Tx) error {
		var err error
		tid, err = tx.InsertSettingIfAbsent(settingTenantID, ids.NewID())
		return err
	})
	return tid, err
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, err := parseServeConfig(args, stderr, getenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogFormat)
	var calloutProxy *url.URL
	if cfg.CalloutProxy != "" {
		calloutProxy, _ = url.Parse(cfg.CalloutProxy) // validated
	}
	var signing *engine.SigningSecrets
	if cfg.CalloutSigningSecrets != "" {
		if signing, err = engine.LoadSigningSecrets(cfg.CalloutSigningSecrets); err != nil {
			return fmt.Errorf("--callout-signing-secrets: %w", err)
		}
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if cfg.Trace != "" {
		// Where goroutines wait (for a CPU, a lock, a system call) is what a
		// CPU profile cannot show: go tool trace -pprof=sched.
		f, err := os.Create(cfg.Trace)
		if err != nil {
			return fmt.Errorf("--trace: %w", err)
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			return fmt.Errorf("--trace: %w", err)
		}
		defer func() { trace.Stop(); f.Close() }()
	}
	var clock access.Clock = access.SystemClock{}
	if cfg.Dev {
		clock = &access.VirtualClock{Base: access.SystemClock{}}
	}
	ids := &access.TimeOrderedIDs{Clock: clock}

	unlock, err := lockDatabase(cfg.Database)
	if err != nil {
		return err
	}
	defer unlock() // after the store has closed
	buildInfo, _ := debug.ReadBuildInfo()
	tracer, stopTracing, err := startTracing(ctx, cfg.OTelEndpoint, describeBuild(version, buildInfo), log)
	if err != nil {
		return err
	}
	defer stopTracing()
	tel := telemetry.New(log, tracer)
	store, err := openStoreWith(ctx, cfg.Database, sqlstore.Options{Synchronous: cfg.SQLiteSynchronous, Logger: log, MaxOpenConns: cfg.DBMaxConns,
		Observer: tel})
	if err != nil {
		return err
	}
	defer store.Close()

	listener, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer listener.Close()
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://" + listener.Addr().String()
	}

	svc := access.NewService(store, clock, ids)
	svc.SetDeliveryRetryFor(cfg.DeliveryRetryFor)
	tel.WatchQueue(svc.QueueStats)
	tel.WatchStore(store.Counts)
	svc.RecordCallouts(cfg.RecordCallouts)
	if cfg.Dev {
		if err := svc.LoadClock(ctx); err != nil {
			return err
		}
	}
	tid, err := serveTenant(ctx, store, ids, cfg.TenantID, log)
	if err != nil {
		return err
	}
	// Tokens live on the machine's clock even in --dev mode: moving the virtual
	// clock must not expire the tokens clients hold or date callout tokens
	// that real extensions check.
	keys, err := identity.LoadKeys(ctx, store, access.SystemClock{})
	if err != nil {
		return err
	}
	// New tokens name this URL, where discovery and the JWKS are served;
	// tokens naming a URL the database was served at before stay valid.
	if err := identity.RecordPublicURL(ctx, store, publicURL); err != nil {
		return err
	}
	accepted, err := identity.LoadAcceptedIssuers(ctx, store, access.SystemClock{})
	if err != nil {
		return err
	}
	issuer := identity.NewIssuer(identity.IssuerConfig{URL: publicURL, TenantID: tid, Keys: keys, Accepted: accepted, Clock: access.SystemClock{}})
	if cfg.Seed != "" {
		if err := applySeedFile(ctx, svc, cfg.Seed, log); err != nil {
			return err
		}
	}
	// The external issuer's JWKS is fetched again every hour until the
	// server stops.
	authCtx, stopAuth := context.WithCancel(context.Background())
	defer stopAuth()
	verifier, external, err := newVerifiers(authCtx, cfg, issuer, svc, tid, log)
	if err != nil {
		return err
	}

	engineCtx, stopEngine := context.WithCancel(context.Background())
	defer stopEngine()
	// Replicas on PostgreSQL wake each other through LISTEN/NOTIFY; on SQLite
	// the channel is nil and the in-process wake-up is enough.
	notifications, err := store.WorkNotifications(engineCtx)
	if err != nil {
		return err
	}
	eng := engine.New(engine.Config{
		Service: svc, Signer: signer{issuer}, Issuer: publicURL, Clock: clock, TokenClock: access.SystemClock{}, IDs: ids, Logger: log,
		Lease: cfg.WorkLease, Workers: cfg.Workers, Notifications: notifications, Observer: tel,
		AllowPrivate: cfg.CalloutAllowPrivate, Proxy: calloutProxy, Signing: signing,
	})
	svc.OnWork(eng.Wake)
	svc.SetLocalEngine(eng) // callouts due at once go to this engine from the transaction that queues them
	if signing != nil {
		// Notify before serving, so that a SIGHUP never meets its default
		// action: ending the process.
		hangups := make(chan os.Signal, 1)
		signal.Notify(hangups, syscall.SIGHUP)
		defer signal.Stop(hangups)
		go reloadOnHangup(engineCtx, hangups, signing, cfg.CalloutSigningSecrets, log)
	}
	if cfg.Dev {
		go followClock(engineCtx, svc, log)
	}
	engineDone := make(chan struct{})
	go func() { eng.Run(engineCtx); close(engineDone) }()
	defer func() { stopEngine(); <-engineDone }()

	throttle, err := cfg.throttle()
	if err != nil {
		return err
	}
	var reseed func(context.Context) error
	if cfg.Seed != "" {
		reseed = func(ctx context.Context) error { return applySeedFile(ctx, svc, cfg.Seed, log) }
	}
	api := graph.NewServer(graph.Config{
		Service: svc, Auth: verifier, PublicURL: publicURL, Logger: log, Clock: clock, IDs: ids,
		OpenIDConfiguration: issuer.Discovery, JWKS: issuer.JWKS, JWKSPath: identity.JWKSPath,
		Dev: cfg.Dev, PauseWork: eng.Pause, Reseed: reseed, Throttle: throttle,
		Observer: tel, Readiness: readiness(store, eng), Metrics: metricsOnAPI(cfg, tel.Handler()),
	})
	var ext tokenVerifier
	if external != nil {
		ext = external
	}
	web, err := newPortal(cfg, api, publicURL, svc, issuer, ext, log)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           withPortal(api, web),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	metricsURL, stopMetrics, err := serveMetrics(cfg, tel.Handler(), log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(graph.LimitConnections(listener, cfg.MaxConnections)) }()
	fmt.Fprintf(stdout, "listening on http://%s\n", listener.Addr())
	if metricsURL != "" {
		fmt.Fprintf(stdout, "metrics on %s\n", metricsURL)
	}
	log.Info("accessd started", "version", describeBuild(version, buildInfo), "addr", listener.Addr().String(), "public_url", publicURL,
		"database", cfg.Database, "sqlite_synchronous", cfg.SQLiteSynchronous, "dev", cfg.Dev, "record_callouts", cfg.RecordCallouts, "metrics_addr", cfg.MetricsAddr,
		"otel_endpoint", cfg.OTelEndpoint, "callout_allow_private", cfg.CalloutAllowPrivate,
		"auth", cfg.Auth, "oidc_issuer", cfg.OIDCIssuer, "tenant_id", tid)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: waiting for in-flight requests", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("shutdown did not finish in time", "error", err.Error())
	}
	// Work in flight finishes and is recorded; unclaimed work waits in the database.
	stopEngine()
	<-engineDone
	if err := store.Close(); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	log.Info("accessd stopped")
	return nil
}

func applySeedFile(ctx context.Context, svc *access.Service, path string, log *slog.Logger) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer f.Close()
	seed, err := graph.DecodeSeed(f)
	if err != nil {
		return fmt.Errorf("seed %s: %w", path, err)
	}
	res, err := svc.ApplySeed(ctx, seed)
	if err != nil {
		return fmt.Errorf("seed %s: %w", path, err)
	}
	log.Info("seed applied", "file", path, "created", res.Created, "updated", res.Updated, "unchanged", res.Unchanged)
	return nil
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := defaultConfig(getenv)
	fs := flag.NewFlagSet("accessd migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Database, "database", cfg.Database, "SQLite database file, or a postgres:// URL (env ACCESSD_DATABASE)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	store, err := openStore(ctx, cfg.Database, cfg.SQLiteSynchronous, newLogger(stderr, "text"))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "database", cfg.Database, "is migrated")
	return store.Close()
}

// serveTenant is the database's tenant id, made the configured one first
// when one is configured. Replicas given the same --tenant-id agree; a
// change is logged, as tokens minted before carry the old tid (accessd's
// own check does not read it).
func serveTenant(ctx context.Context, store access.Store, ids access.IDSource, configured string, log *slog.Logger) (string, error) {
	tid, err := tenantID(ctx, store, ids)
	if err != nil || configured == "" || configured == tid {
		return tid, err
	}
	if err := store.Update(ctx, func(tx access.Tx) error { return tx.PutSetting(settingTenantID, configured) }); err != nil {
		return "", fmt.Errorf("set the tenant id: %w", err)
	}
	log.Info("the database's tenant id is now the configured one", "was", tid, "tenant_id", configured)
	return configured, nil
}

// newVerifier is the check of API callers' tokens that cfg.Auth asks for.
func newVerifier(ctx context.Context, cfg Config, builtin *identity.Issuer, dir identity.Directory, tid string, log *slog.Logger) (*identity.Verifier, error) {
	v, _, err := newVerifiers(ctx, cfg, builtin, dir, tid, log)
	return v, err
}

// newVerifiers is newVerifier and, with --auth oidc or both, the external
// issuer's own check, which the portal's sign-in uses. An external issuer's
// discovery document and JWKS are fetched now: an issuer that cannot be
// reached stops the start, naming it.
func newVerifiers(ctx context.Context, cfg Config, builtin *identity.Issuer, dir identity.Directory, tid string, log *slog.Logger) (*identity.Verifier, *identity.OIDC, error) {
	mode, err := identity.ParseMode(cfg.Auth)
	if err != nil {
		return nil, nil, fmt.Errorf("--auth: %w", err)
	}
	if mode == identity.ModeBuiltin {
		return identity.NewVerifier(builtin, nil), nil, nil
	}
	external, err := identity.NewOIDC(ctx, identity.OIDCConfig{
		Issuer: cfg.OIDCIssuer, Audience: cfg.OIDCAudience, TenantID: tid,
		Directory: dir, CreatePrincipals: cfg.OIDCCreatePrincipals,
		// Like accessd's own tokens, the external issuer's live on the
		// machine's clock, not on --dev's virtual one.
		Clock: access.SystemClock{}, Logger: log,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("--oidc-issuer: %w", err)
	}
	if mode == identity.ModeOIDC {
		return identity.NewVerifier(nil, external), external, nil
	}
	return identity.NewVerifier(builtin, external), external, nil
}

// signer lets the engine sign callout tokens with accessd's key without
// knowing the identity package.
type signer struct{ issuer *identity.Issuer }

func (s signer) Sign(claims map[string]any) (string, error) {
	return s.issuer.Sign(jwt.MapClaims(claims))
}

// reloadOnHangup reads the callout signing secrets again on every SIGHUP,
// so that secrets rotate without a restart. A bad file keeps the secrets
// in use; the log says why.
func reloadOnHangup(ctx context.Context, hangups <-chan os.Signal, signing *engine.SigningSecrets, path string, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hangups:
			if err := signing.Reload(); err != nil {
				log.Error("reloading the callout signing secrets failed; the secrets in use stay", "file", path, "error", err.Error())
			} else {
				log.Info("callout signing secrets reloaded", "file", path)
			}
		}
	}
}

// followClock reloads the virtual clock's offset every second, so that
// replicas sharing one database follow a clock moved through any of them.
func followClock(ctx context.Context, svc *access.Service, log *slog.Logger) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := svc.LoadClock(ctx); err != nil && ctx.Err() == nil {
				log.Warn("reloading the virtual clock failed", "error", err.Error())
			}
		}
	}
}
