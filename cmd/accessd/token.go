package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/identity"
	"github.com/accessd/accessd/sqlstore"
)

// defaultMaxTokenTTL caps --ttl unless --max-ttl says otherwise: a day
// covers a working session or a test run, and a token pasted somewhere by
// mistake stops working by the next one. The cap guards against mistakes
// (a --ttl of 8760h for 8h); it is no security boundary, since whoever can
// run `accessd token` can read the signing key from the database.
const defaultMaxTokenTTL = 24 * time.Hour

// token mints one signed JWT for an application or a directory user.
func token(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := defaultConfig(getenv)
	fs := flag.NewFlagSet("accessd token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Database, "database", cfg.Database, "SQLite database file, or a postgres:// URL (env ACCESSD_DATABASE)")
	fs.StringVar(&cfg.PublicURL, "public-url", cfg.PublicURL, "issuer URL (env ACCESSD_PUBLIC_URL; default: the URL the server last started with)")
	app := fs.String("app", "", "application name: mints an app token; the service principal is created if absent")
	roles := fs.String("roles", "", "comma-separated application permissions, e.g. EntitlementManagement.ReadWrite.All")
	user := fs.String("user", "", "id or userPrincipalName of a directory user: mints a delegated token")
	scopes := fs.String("scopes", "", "comma-separated delegated permissions, e.g. EntitlementManagement.ReadWrite.All")
	ttl := fs.Duration("ttl", time.Hour, "token lifetime, at most --max-ttl")
	maxTTL := fs.Duration("max-ttl", defaultMaxTokenTTL, "the longest --ttl accepted")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case (*app == "") == (*user == ""):
		return errors.New("give exactly one of --app NAME or --user ID_OR_UPN")
	case *app != "" && *scopes != "":
		return errors.New("--scopes is for --user tokens; applications have --roles")
	case *user != "" && *roles != "":
		return errors.New("--roles is for --app tokens; users have --scopes")
	case *ttl <= 0:
		return errors.New("--ttl must be positive")
	case *ttl > *maxTTL:
		return fmt.Errorf("--ttl %s is longer than the cap of %s: ask for less, or raise the cap with --max-ttl", *ttl, *maxTTL)
	}
	if err := checkPermissions(splitList(*roles), splitList(*scopes)); err != nil {
		return err
	}
	if cfg.PublicURL != "" {
		if err := checkPublicURL(cfg.PublicURL); err != nil {
			return err
		}
	}
	// SQLite would create a missing file, and tokens signed with the new
	// database's own key, for a server that is not there, help nobody.
	if path, ok := sqlstore.SQLiteFile(cfg.Database); ok {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if abs, err := filepath.Abs(path); err == nil {
				path = abs
			}
			return fmt.Errorf("database %s does not exist: start accessd serve first (it creates the database), or pass --database with the file the server uses", path)
		}
	}
	log := newLogger(io.Discard, "text")
	store, err := openStore(ctx, cfg.Database, cfg.SQLiteSynchronous, log)
	if err != nil {
		return err
	}
	defer store.Close()
	clock := access.SystemClock{}
	ids := &access.TimeOrderedIDs{Clock: clock}
	svc := access.NewService(store, clock, ids)

	issuerURL := cfg.PublicURL
	if issuerURL == "" {
		last, ok, err := identity.LastPublicURL(ctx, store)
		if err != nil {
			return err
		}
		issuerURL = "http://127.0.0.1:8080" // serve's default, for a database not served yet
		if ok {
			issuerURL = last
		}
	}
	tid, err := tenantID(ctx, store, ids)
	if err != nil {
		return err
	}
	keys, err := identity.LoadKeys(ctx, store, clock)
	if err != nil {
		return err
	}
	issuer := identity.NewIssuer(identity.IssuerConfig{URL: issuerURL, TenantID: tid, Keys: keys, Clock: clock})

	var jwt string
	if *app != "" {
		sp, err := svc.EnsureServicePrincipal(ctx, *app)
		if err != nil {
			return err
		}
		jwt, err = issuer.MintApp(sp, splitList(*roles), *ttl)
		if err != nil {
			return err
		}
	} else {
		u, err := svc.User(ctx, *user)
		if access.IsNotFound(err) {
			return fmt.Errorf("no directory user %q: create it with POST /v1.0/users or a --seed file", *user)
		}
		if err != nil {
			return err
		}
		jwt, err = issuer.MintUser(u, splitList(*scopes), *ttl)
		if err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, jwt)
	return nil
}

// checkPermissions refuses a token Entra could not have issued, so that a
// mistake fails here and not as a puzzling 403 later: a name that is not a
// permission accessd knows (a typo, or one no route asks for), and among an
// application's roles the self-service permission, which Graph has only as
// a delegated permission. An application with no roles at all is fine: it
// may hold entitlement-management roles instead.
func checkPermissions(roles, scopes []string) error {
	known := access.KnownPermissions()
	for _, flagged := range []struct {
		flag  string
		names []string
	}{{"--roles", roles}, {"--scopes", scopes}} {
		for _, name := range flagged.names {
			if !slices.Contains(known, name) {
				return fmt.Errorf("%s: unknown permission %q; known permissions: %s", flagged.flag, name, strings.Join(known, ", "))
			}
		}
	}
	if slices.Contains(roles, access.SubjectAccess) {
		return fmt.Errorf("--roles: %s is a delegated permission, which Graph grants to signed-in users only: mint a user token with --user ID_OR_UPN --scopes %s", access.SubjectAccess, access.SubjectAccess)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
