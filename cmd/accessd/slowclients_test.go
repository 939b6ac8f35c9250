package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/client"
)

// Regression: the server once set only a header timeout, so a POST whose
// body never arrived, or an idle keep-alive connection, was held forever,
// and 20,000 such connections without a token exhausted the process's file
// descriptors. Now every connection ends within a timeout and at most
// --max-connections are open, so clients that never finish cannot starve
// the others. The limits here are short so the test is quick; the bounds
// the test waits for are generous, since they check that a connection
// ends, not how fast.
//
// The slow clients write to raw connections: they send half a request, or
// hold a keep-alive connection idle and watch it close, which no HTTP
// client does or shows. The one well-behaved call goes through the client.
func TestSlowClientsCannotHoldTheServer(t *testing.T) {
	bin := buildBinary(t)
	s := startServer(t, bin, "--database", filepath.Join(t.TempDir(), "accessd.db"),
		"--max-connections", "3", "--read-header-timeout", "300ms", "--read-timeout", "600ms", "--idle-timeout", "600ms")
	addr := strings.TrimPrefix(s.url, "http://")

	// Three clients take every slot: two never finish their headers, one
	// sends a body's headers and never the body.
	var held []net.Conn
	for _, partial := range []string{
		"GET /healthz HTTP/1.1\r\nHost: x\r\n",
		"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",
		"POST /v1.0/identityGovernance/entitlementManagement/catalogs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"display",
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, partial); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}

	// A fourth client still gets its answer, once the server has dropped them.
	api, err := client.New(client.Config{BaseURL: s.url, HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := api.Raw(t.Context(), http.MethodGet, "/healthz", nil)
	if err != nil {
		t.Fatalf("GET /healthz while slow clients held every connection: %v\n%s", err, s.stderr)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /healthz: %d", resp.Status)
	}

	// Each slow connection was ended by the server (with an error answer at most).
	for i, c := range held {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		rest, err := io.ReadAll(bufio.NewReader(c))
		if err != nil {
			t.Errorf("slow connection %d was not closed by the server: %v (read %q)", i, err, rest)
		}
	}

	// An idle keep-alive connection is closed too.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	idle.SetReadDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(idle)
	first, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("keep-alive request: %v", err)
	}
	io.Copy(io.Discard, first.Body)
	first.Body.Close()
	if _, err := r.ReadByte(); err != io.EOF {
		t.Errorf("an idle keep-alive connection was not closed: %v", err)
	}
}
