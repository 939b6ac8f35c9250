package engine

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// newSecret makes a Standard Webhooks secret: whsec_ and 32 random bytes in base64.
func newSecret(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// writeSecrets writes a secrets file of lines and returns its path.
func writeSecrets(t *testing.T, path string, lines ...string) string {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "callout-secrets")
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// verifies says whether secret verifies the callout's signature, with the
// Standard Webhooks library, as an extension would.
func verifies(t *testing.T, secret string, body []byte, header http.Header) error {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh.Verify(body, header)
}

func TestParseSigningSecrets(t *testing.T) {
	secret := newSecret(t)
	short := "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 16))
	long := "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65))
	tests := []struct {
		name string
		file string
		want string // part of the error; "" means valid
	}{
		{"ids, a rotation, the wildcard, comments and blank lines",
			"# the CRM extension, rotating\nAAAA-1 " + secret + "\naaaa-1 " + newSecret(t) + "\n\n  * " + newSecret(t) + "  \n", ""},
		{"an empty file", "", ""},
		{"a line with one field", "aaaa-1\n", "line 1: want an extension id (or *) and a secret"},
		{"a line with three fields", "# x\naaaa-1 " + secret + " extra\n", "line 2: want an extension id (or *) and a secret"},
		{"a secret without whsec_", "aaaa-1 " + strings.TrimPrefix(secret, "whsec_") + "\n", "line 1: the secret does not start with whsec_"},
		{"a secret that is not base64", "aaaa-1 whsec_not-base64!\n", "line 1: the secret after whsec_ is not standard base64"},
		{"a secret of 16 bytes", "aaaa-1 " + short + "\n", "line 1: the secret is 16 bytes; Standard Webhooks secrets are 24 to 64"},
		{"a secret of 65 bytes", "aaaa-1 " + long + "\n", "line 1: the secret is 65 bytes"},
		{"a third secret for one id", "aaaa-1 " + secret + "\nAAAA-1 " + newSecret(t) + "\naaaa-1 " + newSecret(t) + "\n",
			"line 3: a third secret for aaaa-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSigningSecrets(strings.NewReader(tt.file))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error naming %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), strings.TrimPrefix(secret, "whsec_")[:16]) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

// Every attempt of a callout to an extension with secrets carries Standard
// Webhooks headers that the library verifies with each of its secrets;
// retries share the webhook-id, the instance's id; an extension without a
// secret gets no such headers; --dev records the signatures reduced to
// their versions.
func TestSignedCallouts(t *testing.T) {
	oldSecret, newSecret, ownSecret := newSecret(t), newSecret(t), newSecret(t)
	path := writeSecrets(t, "", "# filled in once the extensions have ids")
	signing, err := LoadSigningSecrets(path)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config) { c.Signing = signing })
	rotating := h.extension("/signed/rotating", client(intp(1), 0))
	own := h.extension("/signed/own", nil)
	unsigned := h.extension("/signed/none", nil)
	writeSecrets(t, path, rotating.ID+" "+oldSecret, rotating.ID+" "+newSecret, strings.ToUpper(own.ID)+" "+ownSecret)
	if err := signing.Reload(); err != nil {
		t.Fatal(err)
	}
	h.ext.script("/signed/rotating", func(n int, _ extCall) extReply {
		if n == 1 {
			return extReply{Status: http.StatusInternalServerError}
		}
		return extReply{}
	})
	signed := h.policy(map[access.Stage]string{access.StageRequestCreated: rotating.ID, access.StageRequestGranted: own.ID}, nil)
	notSigned := h.policy(map[access.Stage]string{access.StageRequestCreated: unsigned.ID}, nil)
	h.run()
	h.submit(signed, nil)
	h.submit(notSigned, nil)

	rotatingCalls := h.waitCalls("/signed/rotating", 2)
	instance, _ := rotatingCalls[0].Payload["CustomExtensionStageInstanceId"].(string)
	for i, c := range rotatingCalls {
		for _, secret := range []string{oldSecret, newSecret} {
			if err := verifies(t, secret, c.Body, c.Header); err != nil {
				t.Errorf("attempt %d does not verify with each secret of the rotation: %v", i+1, err)
			}
		}
		if err := verifies(t, ownSecret, c.Body, c.Header); err == nil {
			t.Errorf("attempt %d verifies with another extension's secret", i+1)
		}
		if id := c.Header.Get("webhook-id"); id != instance {
			t.Errorf("attempt %d: webhook-id %q, want the instance id %s", i+1, id, instance)
		}
		if sigs := strings.Fields(c.Header.Get("webhook-signature")); len(sigs) != 2 {
			t.Errorf("attempt %d: webhook-signature %q, want one signature per secret", i+1, sigs)
		}
	}
	ownCalls := h.waitCalls("/signed/own", 1)
	if err := verifies(t, ownSecret, ownCalls[0].Body, ownCalls[0].Header); err != nil {
		t.Errorf("a secret named with the id in upper case: %v", err)
	}
	if err := verifies(t, oldSecret, ownCalls[0].Body, ownCalls[0].Header); err == nil {
		t.Error("a callout to one extension verifies with another's secret")
	}
	for _, c := range h.waitCalls("/signed/none", 1) {
		for _, name := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
			if v := c.Header.Get(name); v != "" {
				t.Errorf("a callout to an extension without a secret has %s: %q", name, v)
			}
		}
	}

	var as []access.CalloutAttempt
	h.eventually("both attempts recorded", func() (bool, string) {
		as = h.attempts(instance)
		return len(as) == 2, itoa(len(as)) + " recorded"
	})
	for _, a := range as {
		if a.RequestHeaders["webhook-signature"] != "v1 v1" || a.RequestHeaders["webhook-id"] != instance ||
			a.RequestHeaders["webhook-timestamp"] == "" {
			t.Errorf("recorded headers %v: want the webhook-id, the timestamp and the signatures reduced to their versions", a.RequestHeaders)
		}
	}
}

// Reload swaps the secrets whole; a file that is bad or gone keeps the
// secrets in use. "*" signs for every extension without lines of its own.
func TestReloadSigningSecrets(t *testing.T) {
	first, second, shared := newSecret(t), newSecret(t), newSecret(t)
	path := writeSecrets(t, "", "ext-a "+first)
	s, err := LoadSigningSecrets(path)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"Stage":"assignmentRequestCreated"}`)
	// sign signs a callout to extension and says which secrets verify it ("" when unsigned).
	sign := func(extension string) string {
		t.Helper()
		headers, err := s.webhookHeaders(extension, "instance-1", time.Now(), body)
		if err != nil {
			t.Fatal(err)
		}
		if headers == nil {
			return ""
		}
		h := http.Header{}
		for k, v := range headers {
			h.Set(k, v)
		}
		var names []string
		for name, secret := range map[string]string{"first": first, "second": second, "shared": shared} {
			if verifies(t, secret, body, h) == nil {
				names = append(names, name)
			}
		}
		return strings.Join(names, " ")
	}
	if got := sign("ext-a"); got != "first" {
		t.Fatalf("ext-a verifies with %q, want first", got)
	}
	if got := sign("ext-b"); got != "" {
		t.Fatalf("ext-b, with no secret, verifies with %q, want no signature", got)
	}

	writeSecrets(t, path, "ext-a "+second, "* "+shared)
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if got, got2 := sign("ext-a"), sign("ext-b"); got != "second" || got2 != "shared" {
		t.Fatalf("after the reload ext-a verifies with %q and ext-b with %q, want second and shared", got, got2)
	}

	writeSecrets(t, path, "ext-a "+first, "ext-b whsec_???")
	if err := s.Reload(); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("reloading a bad file: %v, want an error naming line 2", err)
	}
	if got := sign("ext-a"); got != "second" {
		t.Fatalf("after a bad file ext-a verifies with %q, want the secrets in use before: second", got)
	}
	os.Remove(path)
	if err := s.Reload(); err == nil {
		t.Fatal("reloading a file that is gone succeeded")
	}
	if got := sign("ext-a"); got != "second" {
		t.Fatalf("after the file went ext-a verifies with %q, want second", got)
	}
}

func TestSignatureVersions(t *testing.T) {
	for in, want := range map[string]string{"v1,abc=": "v1", "v1,abc= v1,def=": "v1 v1", "v1a,xyz v1,abc": "v1a v1", "": ""} {
		if got := signatureVersions(in); got != want {
			t.Errorf("signatureVersions(%q) = %q, want %q", in, got, want)
		}
	}
}
