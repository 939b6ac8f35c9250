package engine

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
)

func TestAddressGuard(t *testing.T) {
	const never = "always refused"
	const private = "refused without --callout-allow-private"
	tests := []struct {
		addr string
		want string // the whole refusal without AllowPrivate; "" means allowed
		// allowed with AllowPrivate; the refusal must be the same otherwise
		allowedWithPrivate bool
	}{
		{"169.254.169.254", "169.254.169.254 is a cloud metadata address (169.254.169.254/32), " + never, false},
		{"169.254.170.2", "169.254.170.2 is a cloud metadata address (169.254.170.2/32), " + never, false},
		{"169.254.170.23", "169.254.170.23 is a cloud metadata address (169.254.170.23/32), " + never, false},
		{"100.100.100.200", "100.100.100.200 is a cloud metadata address (100.100.100.200/32), " + never, false},
		{"168.63.129.16", "168.63.129.16 is a cloud metadata address (168.63.129.16/32), " + never, false},
		// In fc00::/7, but metadata: refused even with AllowPrivate.
		{"fd00:ec2::254", "fd00:ec2::254 is a cloud metadata address (fd00:ec2::254/128), " + never, false},
		{"fd00:ec2::23", "fd00:ec2::23 is a cloud metadata address (fd00:ec2::23/128), " + never, false},
		{"169.254.1.1", "169.254.1.1 is a link-local address (169.254.0.0/16), " + never, false},
		{"fe80::1", "fe80::1 is a link-local address (fe80::/10), " + never, false},
		{"fe80::1%eth0", "fe80::1 is a link-local address (fe80::/10), " + never, false},
		{"0.0.0.0", "0.0.0.0 is an unspecified address (0.0.0.0/8), " + never, false},
		{"0.1.2.3", "0.1.2.3 is an unspecified address (0.0.0.0/8), " + never, false},
		{"::", ":: is an unspecified address (::/128), " + never, false},
		{"224.0.0.1", "224.0.0.1 is a multicast address (224.0.0.0/4), " + never, false},
		{"ff02::1", "ff02::1 is a multicast address (ff00::/8), " + never, false},
		{"255.255.255.255", "255.255.255.255 is a broadcast or reserved address (240.0.0.0/4), " + never, false},
		{"::ffff:169.254.169.254", "::ffff:169.254.169.254 (the IPv4-mapped form of 169.254.169.254) is a cloud metadata address (169.254.169.254/32), " + never, false},
		{"::ffff:0.0.0.0", "::ffff:0.0.0.0 (the IPv4-mapped form of 0.0.0.0) is an unspecified address (0.0.0.0/8), " + never, false},
		{"64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe (the NAT64 form of 169.254.169.254) is a cloud metadata address (169.254.169.254/32), " + never, false},
		{"2002:a9fe:a9fe::1", "2002:a9fe:a9fe::1 (the 6to4 form of 169.254.169.254) is a cloud metadata address (169.254.169.254/32), " + never, false},

		{"127.0.0.1", "127.0.0.1 is a loopback address (127.0.0.0/8), " + private, true},
		{"127.1.2.3", "127.1.2.3 is a loopback address (127.0.0.0/8), " + private, true},
		{"::1", "::1 is a loopback address (::1/128), " + private, true},
		{"::ffff:127.0.0.1", "::ffff:127.0.0.1 (the IPv4-mapped form of 127.0.0.1) is a loopback address (127.0.0.0/8), " + private, true},
		{"10.1.2.3", "10.1.2.3 is a private address (10.0.0.0/8), " + private, true},
		{"172.16.0.1", "172.16.0.1 is a private address (172.16.0.0/12), " + private, true},
		{"172.31.255.255", "172.31.255.255 is a private address (172.16.0.0/12), " + private, true},
		{"192.168.1.1", "192.168.1.1 is a private address (192.168.0.0/16), " + private, true},
		{"100.64.0.1", "100.64.0.1 is a private address (100.64.0.0/10), " + private, true},
		{"fd12:3456::1", "fd12:3456::1 is a private address (fc00::/7), " + private, true},
		{"64:ff9b::a00:1", "64:ff9b::a00:1 (the NAT64 form of 10.0.0.1) is a private address (10.0.0.0/8), " + private, true},

		{"93.184.216.34", "", true},
		{"172.32.0.1", "", true},  // just past 172.16.0.0/12
		{"100.128.0.1", "", true}, // just past 100.64.0.0/10
		{"169.255.0.1", "", true}, // just past 169.254.0.0/16
		{"2606:4700::1111", "", true},
		{"64:ff9b::808:808", "", true}, // NAT64 of 8.8.8.8
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.addr)
			err := addressGuard{}.check(ip)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Fatalf("got %v, want the refusal %q", err, tt.want)
			}
			err = addressGuard{allowPrivate: true}.check(ip)
			switch {
			case tt.allowedWithPrivate && err != nil:
				t.Fatalf("refused with AllowPrivate: %v", err)
			case !tt.allowedWithPrivate && (err == nil || err.Error() != tt.want):
				t.Fatalf("with AllowPrivate got %v, want the refusal %q", err, tt.want)
			}
		})
	}
}

// fakeResolver answers lookups from a table and counts them.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]string
	calls   int
}

func (r *fakeResolver) lookup(_ context.Context, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	answer, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range answer {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

// dialRecorder is a net.Dialer Control that records every address a
// connection is made to, at the socket, and refuses none.
type dialRecorder struct {
	mu    sync.Mutex
	addrs []string
}

func (d *dialRecorder) control(_, address string, _ syscall.RawConn) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.addrs = append(d.addrs, address)
	return nil
}

func (d *dialRecorder) dialed() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

// listenLoopback accepts connections on 127.0.0.1 until the test ends; it
// returns the port.
func listenLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// The dialer checks every address of a DNS answer and connects only to
// allowed ones: what reaches the socket is what was checked. (Every address
// these tests may connect to is on loopback.)
func TestGuardedDialerChecksEveryAddress(t *testing.T) {
	port := listenLoopback(t)
	resolver := &fakeResolver{answers: map[string][]string{
		"metadata.test":  {"169.254.169.254"},
		"mapped.test":    {"::ffff:169.254.169.254"},
		"loopback.test":  {"127.0.0.1"},
		"mixed.test":     {"169.254.169.254", "fe80::1", "127.0.0.1"},
		"forbidden.test": {"169.254.169.254", "10.0.0.5"},
	}}
	tests := []struct {
		name         string
		address      string
		allowPrivate bool
		dialed       []string // what reached the socket
		refusal      string   // the whole error; "" means connected
	}{
		{"a name for the metadata service", "metadata.test:80", true, nil,
			"callout refused: metadata.test resolves to 169.254.169.254, a cloud metadata address (169.254.169.254/32), always refused"},
		{"a name for an IPv4-mapped metadata address", "mapped.test:80", true, nil,
			"callout refused: mapped.test resolves to ::ffff:169.254.169.254 (the IPv4-mapped form of 169.254.169.254), a cloud metadata address (169.254.169.254/32), always refused"},
		{"a literal metadata address", "169.254.169.254:80", true, nil,
			"callout refused: 169.254.169.254 is a cloud metadata address (169.254.169.254/32), always refused"},
		{"a literal IPv4-mapped address", "[::ffff:169.254.169.254]:80", true, nil,
			"callout refused: ::ffff:169.254.169.254 (the IPv4-mapped form of 169.254.169.254) is a cloud metadata address (169.254.169.254/32), always refused"},
		{"loopback without AllowPrivate", "loopback.test:" + port, false, nil,
			"callout refused: loopback.test resolves to 127.0.0.1, a loopback address (127.0.0.0/8), refused without --callout-allow-private"},
		{"loopback with AllowPrivate", "loopback.test:" + port, true, []string{"127.0.0.1:" + port}, ""},
		{"forbidden addresses of an answer are skipped", "mixed.test:" + port, true, []string{"127.0.0.1:" + port}, ""},
		{"an answer of forbidden addresses only", "forbidden.test:" + port, false, nil,
			"callout refused: forbidden.test resolves to 169.254.169.254, a cloud metadata address (169.254.169.254/32), always refused; " +
				"10.0.0.5, a private address (10.0.0.0/8), refused without --callout-allow-private"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &dialRecorder{}
			d := &guardedDialer{guard: addressGuard{allowPrivate: tt.allowPrivate}, lookup: resolver.lookup,
				dialer: net.Dialer{Timeout: 5 * time.Second, Control: rec.control}}
			conn, err := d.DialContext(t.Context(), "tcp", tt.address)
			if conn != nil {
				conn.Close()
			}
			switch {
			case tt.refusal == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.refusal != "" && (err == nil || err.Error() != tt.refusal):
				t.Fatalf("got %v, want %q", err, tt.refusal)
			}
			if got := rec.dialed(); strings.Join(got, " ") != strings.Join(tt.dialed, " ") {
				t.Errorf("connected to %q, want %q", got, tt.dialed)
			}
		})
	}
}

// A name that answers a harmless address once and the metadata address the
// next time (DNS rebinding) is checked against the answer each connection
// actually uses.
func TestGuardedDialerChecksEachConnection(t *testing.T) {
	port := listenLoopback(t)
	var mu sync.Mutex
	answers := []string{"127.0.0.1", "169.254.169.254"}
	lookup := func(context.Context, string) ([]netip.Addr, error) {
		mu.Lock()
		defer mu.Unlock()
		a := netip.MustParseAddr(answers[0])
		answers = answers[1:]
		return []netip.Addr{a}, nil
	}
	rec := &dialRecorder{}
	d := &guardedDialer{guard: addressGuard{allowPrivate: true}, lookup: lookup, dialer: net.Dialer{Control: rec.control}}
	conn, err := d.DialContext(t.Context(), "tcp", "rebind.test:"+port)
	if err != nil {
		t.Fatalf("first connection: %v", err)
	}
	conn.Close()
	if _, err := d.DialContext(t.Context(), "tcp", "rebind.test:"+port); err == nil || !strings.Contains(err.Error(), "169.254.169.254, a cloud metadata address") {
		t.Fatalf("second connection, after the name moved to the metadata address: %v", err)
	}
	if got := rec.dialed(); len(got) != 1 || got[0] != "127.0.0.1:"+port {
		t.Errorf("connected to %q, want only the first answer", got)
	}
}

// recordingProxy is a forward proxy that answers every request itself, 202,
// and records the URLs it was asked for.
type recordingProxy struct {
	*httptest.Server
	mu   sync.Mutex
	urls []string
}

func newRecordingProxy(t *testing.T) *recordingProxy {
	t.Helper()
	p := &recordingProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.urls = append(p.urls, r.URL.String())
		p.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *recordingProxy) asked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.urls...)
}

func post(t *testing.T, c *http.Client, target string) (*http.Response, error) {
	t.Helper()
	resp, err := c.Post(target, "application/json", strings.NewReader("{}"))
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

// With --callout-proxy every callout goes through the proxy, whose own
// address (here loopback) is the operator's choice and is not checked; a
// URL that names a forbidden address is refused before the proxy sees it.
func TestCalloutProxy(t *testing.T) {
	proxy := newRecordingProxy(t)
	proxyURL, _ := url.Parse(proxy.URL)
	c := calloutNetwork{proxy: proxyURL}.client()

	resp, err := post(t, c, "http://ext.test/hooks/created")
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("callout through the proxy: %v %v", resp, err)
	}
	_, err = post(t, c, "http://169.254.169.254/latest/meta-data")
	want := "callout refused: 169.254.169.254 is a cloud metadata address (169.254.169.254/32), always refused"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("callout to the metadata address through the proxy: %v, want %q", err, want)
	}
	if got := proxy.asked(); len(got) != 1 || got[0] != "http://ext.test/hooks/created" {
		t.Errorf("the proxy was asked for %q, want only http://ext.test/hooks/created", got)
	}
}

// HTTP_PROXY must not carry callouts. Go reads the proxy variables once per
// process, so the test runs itself again in a process of its own whose
// environment names a proxy from the start.
func TestCalloutsIgnoreProxyEnvironment(t *testing.T) {
	if os.Getenv("ACCESSD_TEST_PROXY_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCalloutsIgnoreProxyEnvironment$", "-test.v")
		cmd.Env = append(os.Environ(), "ACCESSD_TEST_PROXY_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestCalloutsIgnoreProxyEnvironment") {
			t.Fatalf("the test in a process of its own: %v\n%s", err, out)
		}
		return
	}
	proxy := newRecordingProxy(t)
	ext := newRecordingProxy(t) // answers 202 and records, as an extension
	for _, name := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		t.Setenv(name, proxy.URL)
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ext.URL, "http://"))
	target := "http://ext.test:" + port + "/hooks/created"

	// The environment is in force: a client that read it would use the proxy.
	req, _ := http.NewRequest(http.MethodPost, target, nil)
	if u, err := http.ProxyFromEnvironment(req); err != nil || u == nil || u.String() != proxy.URL {
		t.Fatalf("http.ProxyFromEnvironment = %v, %v; want %s, or this test proves nothing", u, err, proxy.URL)
	}

	resolver := &fakeResolver{answers: map[string][]string{"ext.test": {"127.0.0.1"}}}
	c := calloutNetwork{allowPrivate: true, lookup: resolver.lookup}.client()
	if resp, err := post(t, c, target); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("callout: %v %v", resp, err)
	}
	if got := proxy.asked(); len(got) != 0 {
		t.Errorf("the environment's proxy carried the callout: %q", got)
	}
	if got := ext.asked(); len(got) != 1 {
		t.Errorf("the extension received %q, want the callout, directly", got)
	}
}

// A callout the guard refuses is a failed callout, like any other that
// never got an answer: each attempt is refused, the request ends
// deliveryFailed / CalloutFailed, and the instance, the history and --dev's
// attempts say which address and which rule.
func TestRefusedCalloutFails(t *testing.T) {
	resolver := &fakeResolver{answers: map[string][]string{"metadata.test": {"169.254.169.254"}}}
	tests := []struct {
		name    string
		network calloutNetwork
		url     func(h *harness) string
		refusal string
	}{
		{"a name for the metadata service", calloutNetwork{allowPrivate: true, lookup: resolver.lookup},
			func(*harness) string { return "http://metadata.test/latest/meta-data" },
			"callout refused: metadata.test resolves to 169.254.169.254, a cloud metadata address (169.254.169.254/32), always refused"},
		{"the metadata address", calloutNetwork{allowPrivate: true},
			func(*harness) string { return "http://169.254.169.254/latest/meta-data" },
			"callout refused: 169.254.169.254 is a cloud metadata address (169.254.169.254/32), always refused"},
		{"an extension on loopback without AllowPrivate", calloutNetwork{},
			func(h *harness) string { return h.ext.URL + "/hooks/created" },
			"callout refused: 127.0.0.1 is a loopback address (127.0.0.0/8), refused without --callout-allow-private"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Client = tt.network.client() })
			x := h.extension("/unused", func(x *access.CustomExtension) {
				waiting("PT5M")(x)
				client(intp(1), 0)(x)
				x.Endpoint.TargetURL = tt.url(h)
			})
			p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
			h.run()
			r := h.submit(p, nil)
			got := h.waitRequest(r.ID, "failed", func(r access.Request) bool { return r.State.IsFinal() })
			if got.State != access.StateDeliveryFailed || got.Status != access.StatusCalloutFailed {
				t.Errorf("request %s/%s, want deliveryFailed/CalloutFailed", got.State, got.Status)
			}
			inst := onlyInstance(t, got)
			if inst.Status != access.CalloutFailedState || !strings.Contains(inst.Detail, tt.refusal) {
				t.Errorf("instance %s with detail %q, want calloutFailed naming %q", inst.Status, inst.Detail, tt.refusal)
			}
			history, _, err := h.svc.History(h.ctx, admin, r.ID, access.Page{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			var failed []string
			for _, e := range history {
				if e.Action == "calloutFailed" {
					failed = append(failed, e.Detail)
				}
			}
			if len(failed) != 1 || !strings.Contains(failed[0], tt.refusal) {
				t.Errorf("calloutFailed history details %q, want one naming %q", failed, tt.refusal)
			}
			as := h.attempts(inst.ID)
			if len(as) != 2 {
				t.Fatalf("%d attempts recorded, want 2 (maximumRetries 1), each refused", len(as))
			}
			for _, a := range as {
				if !strings.Contains(a.Error, tt.refusal) || a.ResponseStatus != 0 {
					t.Errorf("attempt %d: error %q, status %d; want no answer and the refusal %q", a.Attempt, a.Error, a.ResponseStatus, tt.refusal)
				}
			}
			if n := len(h.ext.callsTo("/hooks/created")); n != 0 {
				t.Errorf("the extension received %d calls, want none", n)
			}
		})
	}
}
