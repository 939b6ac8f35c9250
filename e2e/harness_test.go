package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The harness: a real accessd process built from this checkout, a real
// extension on a loopback port, and the API called over HTTP as any
// program would. Nothing here imports accessd's packages: this module
// sees accessd from the outside only.

// repoRoot is the accessd checkout this module lives in.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "accessd")); err != nil {
		t.Fatalf("no cmd/accessd under %s: run the tests from e2e/ of an accessd checkout", root)
	}
	return root
}

// buildAccessd builds the server binary once per test.
func buildAccessd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "accessd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/accessd")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/accessd: %v\n%s", err, out)
	}
	return bin
}

// server is a running `accessd serve`.
type server struct {
	bin, db, url string
	stderr       *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startAccessd starts `accessd serve --dev --callout-allow-private` on a
// port the system picks and waits until it says where it listens.
func startAccessd(t *testing.T, bin string) *server {
	t.Helper()
	s := &server{bin: bin, db: filepath.Join(t.TempDir(), "accessd.db"), stderr: &lockedBuffer{}}
	cmd := exec.Command(bin, "serve", "--dev", "--callout-allow-private", "--database", s.db, "--addr", "127.0.0.1:0")
	cmd.Stderr = s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start accessd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("accessd's log:\n%s", s.stderr.String())
		}
	})
	lines := bufio.NewScanner(stdout)
	found := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if addr, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
				found <- addr
			}
		}
	}()
	select {
	case s.url = <-found:
	case <-time.After(60 * time.Second):
		t.Fatalf("accessd did not say where it listens; its log:\n%s", s.stderr.String())
	}
	return s
}

// token mints a token with `accessd token`.
func (s *server) token(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(s.bin, append([]string{"token", "--database", s.db}, args...)...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("accessd token %v: %v\n%s", args, err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// api calls accessd's API with a token, as any client would.
type api struct {
	base, token string
}

// call sends body (nil for none) and decodes a 2xx answer into out; any
// other status is returned as an error naming the answer.
func (a api) call(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return &apiError{status: resp.StatusCode, body: string(raw), what: method + " " + path}
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		return json.Unmarshal(raw, out)
	}
	return nil
}

type apiError struct {
	status     int
	what, body string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s: %d %s", e.what, e.status, e.body) }

// create posts body and returns the new object's id.
func (a api) create(t *testing.T, path string, body any) string {
	t.Helper()
	var out struct {
		ID string `json:"id"`
	}
	if err := a.call(http.MethodPost, path, body, &out); err != nil {
		t.Fatalf("create: %v", err)
	}
	return out.ID
}

// callout is what the test's extension received.
type callout struct {
	RequestID       string `json:"AccessPackageAssignmentRequestId"`
	InstanceID      string `json:"CustomExtensionStageInstanceId"`
	Stage           string `json:"Stage"`
	CallbackURIPath string `json:"CallbackUriPath"`
}

// extension is a launch-and-wait custom extension: it accepts every
// callout with 202 and hands it to the test, which resumes the request
// when it chooses.
type extension struct {
	url      string
	callouts chan callout
}

func startExtension(t *testing.T) *extension {
	t.Helper()
	x := &extension{callouts: make(chan callout, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /callout", func(w http.ResponseWriter, r *http.Request) {
		var c callout
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&c); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		select {
		case x.callouts <- c:
		default:
		}
		w.WriteHeader(http.StatusAccepted)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	x.url = "http://" + ln.Addr().String() + "/callout"
	return x
}

func (x *extension) next(t *testing.T) callout {
	t.Helper()
	select {
	case c := <-x.callouts:
		return c
	case <-time.After(60 * time.Second):
		t.Fatal("the extension received no callout")
	}
	return callout{}
}

// resume answers the callout as the extension would, with the app token.
func (x *extension) resume(t *testing.T, a api, c callout, detail string) {
	t.Helper()
	body := map[string]any{
		"source": "accessd-e2e",
		"type":   "microsoft.graph.accessPackageCustomExtensionStage." + c.Stage,
		"data": map[string]any{
			"@odata.type":                        "#microsoft.graph.accessPackageAssignmentRequestCallbackData",
			"stage":                              c.Stage,
			"customExtensionStageInstanceId":     c.InstanceID,
			"customExtensionStageInstanceDetail": detail,
		},
	}
	if err := a.call(http.MethodPost, "/v1.0"+c.CallbackURIPath, body, nil); err != nil {
		t.Fatalf("resume: %v", err)
	}
}
