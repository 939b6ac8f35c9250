package sdk

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // only to make and drop the PostgreSQL schema a run uses
	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/authentication"
	"github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoft/kiota-abstractions-go/store"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// accessdBinary is cmd/accessd, built once for the whole test binary by TestMain.
var accessdBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "accessd-sdk-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin, err := buildAccessd(dir)
	if err != nil {
		// Fail, never skip: the suite proves nothing without the server.
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	accessdBinary = bin
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildAccessd builds cmd/accessd of the repository this module sits in.
func buildAccessd(dir string) (string, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !bytes.HasPrefix(mod, []byte("module github.com/accessd/accessd\n")) {
		return "", fmt.Errorf("%s is not the root of the accessd repository (go.mod: %v)", root, err)
	}
	bin := filepath.Join(dir, "accessd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/accessd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/accessd: %v\n%s", err, out)
	}
	return bin, nil
}

// backends are the databases the suite runs on: SQLite always, and
// PostgreSQL too when ACCESSD_TEST_STORE=postgres, as in the main module's
// harnesses.
func backends(t *testing.T) []string {
	t.Helper()
	if os.Getenv("ACCESSD_TEST_STORE") != "postgres" {
		return []string{"sqlite"}
	}
	if os.Getenv("ACCESSD_TEST_POSTGRES") == "" {
		t.Fatal("ACCESSD_TEST_STORE=postgres needs ACCESSD_TEST_POSTGRES, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	return []string{"sqlite", "postgres"}
}

// database is a new, empty database on the backend for one server: a
// SQLite file in a temporary directory, or a PostgreSQL schema made for the
// test and dropped after it.
func database(t *testing.T, backend string) string {
	t.Helper()
	if backend == "sqlite" {
		return filepath.Join(t.TempDir(), "sdk.db")
	}
	base := os.Getenv("ACCESSD_TEST_POSTGRES")
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open ACCESSD_TEST_POSTGRES: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	suffix := make([]byte, 8)
	rand.Read(suffix)
	schema := "accessd_sdk_" + hex.EncodeToString(suffix)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema in ACCESSD_TEST_POSTGRES: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("ACCESSD_TEST_POSTGRES is not a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// accessd is one running `accessd serve`.
type accessd struct {
	url      string // http://127.0.0.1:port
	database string
	log      *syncBuffer
}

// startAccessd starts the server on a free port; the test's cleanup stops it.
func startAccessd(t *testing.T, backend string) *accessd {
	t.Helper()
	a := &accessd{database: database(t, backend), log: &syncBuffer{}}
	cmd := exec.Command(accessdBinary, "serve", "--addr", "127.0.0.1:0", "--database", a.database, "--callout-allow-private")
	cmd.Env = cleanEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = a.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start accessd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("accessd's log:\n%s", a.log)
		}
	})
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- sc.Text()
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-first:
		addr, ok := strings.CutPrefix(line, "listening on ")
		if !ok {
			t.Fatalf("accessd's first line %q is not 'listening on URL'", line)
		}
		a.url = strings.TrimSuffix(addr, "/")
	case err := <-exited:
		t.Fatalf("accessd exited before listening: %v\n%s", err, a.log)
	case <-time.After(60 * time.Second):
		t.Fatalf("accessd did not say where it listens\n%s", a.log)
	}
	return a
}

// cleanEnv is this process's environment without accessd's own settings,
// so that only the command line configures the server and its tokens.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ACCESSD_") {
			env = append(env, kv)
		}
	}
	return env
}

// token mints a token with `accessd token`: an application's with
// "--app NAME --roles A,B", a signed-in user's with "--user UPN --scopes A,B".
func (a *accessd) token(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(accessdBinary, append([]string{"token", "--database", a.database}, args...)...)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("accessd token %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// appToken is an administrator application's token with the tenant-wide
// permissions.
func (a *accessd) appToken(t *testing.T, name string, roles ...string) string {
	t.Helper()
	return a.token(t, "--app", name, "--roles", strings.Join(roles, ","))
}

// userToken is a signed-in user's token.
func (a *accessd) userToken(t *testing.T, upn string, scopes ...string) string {
	t.Helper()
	return a.token(t, "--user", upn, "--scopes", strings.Join(scopes, ","))
}

// staticToken hands kiota one token minted by accessd. Kiota's Azure
// identity providers refuse http; this one lets loopback through, as the
// only hosts it serves are accessd's.
type staticToken struct {
	token string
	hosts *authentication.AllowedHostsValidator
}

func (s staticToken) GetAuthorizationToken(_ context.Context, u *url.URL, _ map[string]any) (string, error) {
	if !s.hosts.IsUrlHostValid(u) {
		return "", nil
	}
	return s.token, nil
}

func (s staticToken) GetAllowedHostsValidator() *authentication.AllowedHostsValidator { return s.hosts }

// graphClient is Microsoft's Graph client pointed at accessd's /v1.0,
// sending token.
type graphClient struct {
	*msgraphsdk.GraphServiceClient
	adapter *msgraphsdk.GraphRequestAdapter
}

func (a *accessd) client(t *testing.T, token string) graphClient {
	t.Helper()
	u, err := url.Parse(a.url)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := authentication.NewAllowedHostsValidatorErrorCheck([]string{u.Hostname()})
	if err != nil {
		t.Fatal(err)
	}
	auth := authentication.NewBaseBearerTokenAuthenticationProvider(staticToken{token: token, hosts: hosts})
	adapter, err := msgraphsdk.NewGraphRequestAdapter(auth)
	if err != nil {
		t.Fatalf("NewGraphRequestAdapter: %v", err)
	}
	adapter.SetBaseUrl(a.url + "/v1.0")
	return graphClient{GraphServiceClient: msgraphsdk.NewGraphServiceClient(adapter), adapter: adapter}
}

// postBeta sends body to a beta path (under /beta) through the SDK's own
// request adapter: the beta Go SDK is not published where this module's
// dependencies come from, so beta calls are raw request information
// objects on the same adapter, authentication and middleware.
func (c graphClient) postBeta(ctx context.Context, path string, body []byte) error {
	base := strings.TrimSuffix(c.adapter.GetBaseUrl(), "/v1.0")
	u, err := url.Parse(base + "/beta" + path)
	if err != nil {
		return err
	}
	info := abstractions.NewRequestInformation()
	info.Method = abstractions.POST
	info.SetUri(*u)
	info.Headers.Add("Accept", "application/json")
	info.SetStreamContentAndContentType(body, "application/json")
	return c.adapter.SendNoContent(ctx, info, abstractions.ErrorMappings{
		"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue,
	})
}

// syncBuffer is a log that a test may read while the server writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// callout is what the test reads of the flat PascalCase body accessd sends
// an extension.
type callout struct {
	AccessPackageAssignmentRequestID string          `json:"AccessPackageAssignmentRequestId"`
	CallbackURIPath                  string          `json:"CallbackUriPath"`
	CustomExtensionStageInstanceID   string          `json:"CustomExtensionStageInstanceId"`
	Stage                            string          `json:"Stage"`
	RequestType                      string          `json:"RequestType"`
	State                            string          `json:"State"`
	Status                           string          `json:"Status"`
	CallbackConfiguration            json.RawMessage `json:"CallbackConfiguration"`
	AccessPackage                    struct {
		ID string `json:"Id"`
	} `json:"AccessPackage"`
	Assignment struct {
		ID     *string `json:"Id"`
		Target struct {
			ObjectID string `json:"ObjectId"`
		} `json:"Target"`
	} `json:"Assignment"`

	authorization string // the scheme of the Authorization header it came with
}

// extensionEndpoint is the extension's side: an HTTP server that takes
// accessd's callouts, answers 202 as a Logic App trigger does, and hands
// each to the test.
type extensionEndpoint struct {
	url      string
	callouts chan callout
}

func newExtensionEndpoint(t *testing.T) *extensionEndpoint {
	t.Helper()
	e := &extensionEndpoint{callouts: make(chan callout, 32)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c callout
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.authorization, _, _ = strings.Cut(r.Header.Get("Authorization"), " ")
		select {
		case e.callouts <- c:
		default:
			t.Errorf("more callouts than the test reads: %+v", c)
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	e.url = srv.URL + "/callout"
	return e
}

// next is the next callout; it must come for the stage within a minute.
func (e *extensionEndpoint) next(t *testing.T, stage string) callout {
	t.Helper()
	select {
	case c := <-e.callouts:
		if c.Stage != stage {
			t.Fatalf("callout for stage %q, want %q: %+v", c.Stage, stage, c)
		}
		return c
	case <-time.After(time.Minute):
		t.Fatalf("no callout for stage %s within a minute", stage)
	}
	return callout{}
}

// eventually polls check until it reports done, failing after a minute.
func eventually(t *testing.T, what string, check func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		done, err := check()
		if err != nil {
			t.Fatalf("%s: %v", what, describe(err))
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// describe spells out an ODataError, whose Error() says little.
func describe(err error) string {
	if oe, ok := err.(*odataerrors.ODataError); ok {
		code, msg := "", ""
		if main := oe.GetErrorEscaped(); main != nil {
			code, msg = deref(main.GetCode()), deref(main.GetMessage())
		}
		return fmt.Sprintf("ODataError %d %s: %s", oe.ResponseStatusCode, code, msg)
	}
	return err.Error()
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

// is reports whether an enum the SDK read is want. The SDK reads a value it
// does not know as nil, which deref would turn into the enum's first member.
func is[T comparable](p *T, want T) bool { return p != nil && *p == want }

// allKnown fails the test when the SDK found no place for a property of
// what it read, at any depth: the SDK keeps such properties aside as
// additional data, so a misspelt or misplaced name in accessd's answer
// would otherwise pass unnoticed while the real property reads as nil.
func allKnown(t *testing.T, what string, model any) {
	t.Helper()
	if unknown := unknownProperties(what, model); len(unknown) > 0 {
		slices.Sort(unknown)
		t.Errorf("the SDK does not know these properties accessd sent: %s", strings.Join(unknown, ", "))
	}
}

// newerThanTheSDK are properties of Graph's v1.0 metadata that the models
// of msgraph-sdk-go v1.89.0 do not have yet; the SDK keeps them as
// additional data, and they are not accessd's to drop.
var newerThanTheSDK = map[string]bool{
	"approverInformationVisibility": true, // accessPackageApprovalStage
	"subjectLifecycle":              true, // accessPackageSubject
}

// unknownProperties lists what the SDK kept aside as additional data.
// OData annotations are not properties: "@odata.…" ones, and accessd's own
// ("customExtensionId@accessd.displayName", the name of a callout's
// extension), which clients that do not know them ignore.
func unknownProperties(path string, model any) []string {
	var out []string
	if h, ok := model.(serialization.AdditionalDataHolder); ok {
		for name := range h.GetAdditionalData() {
			if !strings.HasPrefix(name, "@odata.") && !strings.Contains(name, "@accessd.") && !newerThanTheSDK[name] {
				out = append(out, path+"."+name)
			}
		}
	}
	backed, ok := model.(store.BackedModel)
	if !ok || backed.GetBackingStore() == nil {
		return out
	}
	for name, value := range backed.GetBackingStore().Enumerate() {
		if name == "additionalData" || value == nil {
			continue
		}
		v := reflect.ValueOf(value)
		if v.Kind() == reflect.Slice {
			for i := range v.Len() {
				out = append(out, unknownProperties(fmt.Sprintf("%s.%s[%d]", path, name, i), v.Index(i).Interface())...)
			}
			continue
		}
		out = append(out, unknownProperties(path+"."+name, value)...)
	}
	return out
}
