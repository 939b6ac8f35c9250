// Command extension is a small custom extension for accessd: copy it and put
// your own decision in decide. It checks each callout's token against
// accessd's JWKS (and, with -webhook-secret, its Standard Webhooks
// signature), answers 202 at once and then, as a Logic App does after its
// own 202, calls resume on accessd with a bearer token. See README.md.
package main

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/client"
	"github.com/golang-jwt/jwt/v5"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// entitlementManagementAppID is the appid accessd's callout tokens carry.
const entitlementManagementAppID = "810dcf14-1858-4bf2-8134-4c369fa3235b"

// callout is the part of accessd's flat PascalCase callout body we read.
type callout struct {
	RequestID             string          `json:"AccessPackageAssignmentRequestId"`
	InstanceID            string          `json:"CustomExtensionStageInstanceId"`
	Stage                 string          `json:"Stage"`
	CallbackURIPath       string          `json:"CallbackUriPath"`
	CallbackConfiguration json.RawMessage `json:"CallbackConfiguration"` // null: launch and continue
	Assignment            struct {
		Target struct {
			PrincipalName string `json:"PrincipalName"`
		} `json:"Target"`
	} `json:"Assignment"`
}

type extension struct {
	accessd            string         // accessd's URL: the issuer its callout tokens must name
	api                *client.Client // calls resume on accessd with our token
	denySuffix, ignore string
	keys               *keySet
	webhook            *standardwebhooks.Webhook // nil: callouts need no signature
	taken              *replayWindow             // signed callouts already taken
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9090", "address to listen on")
	accessd := flag.String("accessd", "http://127.0.0.1:8080", "accessd's URL: its token issuer and where resume is sent")
	token := flag.String("token", "", "bearer token for resume (default $ACCESSD_TOKEN)")
	deny := flag.String("deny-upn-suffix", "", "deny requests whose target's principal name ends with this")
	ignore := flag.String("ignore-upn-suffix", "", "never call back for these targets (the request times out)")
	secret := flag.String("webhook-secret", "", "Standard Webhooks secret (whsec_…) accessd signs our callouts with: callouts must then carry a valid signature at most five minutes old (default $ACCESSD_WEBHOOK_SECRET)")
	flag.Parse()
	if *token == "" {
		*token = os.Getenv("ACCESSD_TOKEN")
	}
	if *secret == "" {
		*secret = os.Getenv("ACCESSD_WEBHOOK_SECRET")
	}
	if *token == "" {
		log.Fatal("no token for resume: pass -token or set ACCESSD_TOKEN (accessd token --app NAME --roles EntitlementManagement.ReadWrite.All)")
	}
	url := strings.TrimSuffix(*accessd, "/")
	api, err := client.New(client.Config{BaseURL: url, Token: *token, HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	if err != nil {
		log.Fatal(err)
	}
	x := &extension{accessd: url, api: api, denySuffix: *deny, ignore: *ignore,
		keys: &keySet{issuer: url, keys: map[string]*rsa.PublicKey{}}, taken: newReplayWindow()}
	if *secret != "" {
		if x.webhook, err = standardwebhooks.NewWebhook(*secret); err != nil {
			log.Fatalf("-webhook-secret: %v", err)
		}
	}
	log.Printf("extension listening on http://%s, trusting %s, signatures required: %t", *addr, url, x.webhook != nil)
	log.Fatal(http.ListenAndServe(*addr, x))
}

// ServeHTTP takes one callout: check the token, answer 202, call back later.
func (x *extension) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST callouts here", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if x.webhook != nil {
		// Verify checks the signature over webhook-id, webhook-timestamp and
		// the body exactly as sent, and refuses a timestamp more than five
		// minutes away from our clock.
		if err := x.webhook.Verify(body, r.Header); err != nil {
			log.Printf("refused callout to %s: webhook signature: %v", r.URL.Path, err)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	if err := x.verify(r); err != nil {
		log.Printf("refused callout to %s: %v", r.URL.Path, err)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var c callout
	if err := json.Unmarshal(body, &c); err != nil {
		log.Printf("refused callout: body: %v", err)
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if x.webhook != nil && !x.taken.first(r.Header.Get("webhook-id"), time.Now()) {
		// Within five minutes a copy of a signed callout still verifies. It
		// is either a replay or accessd sending again after it lost our
		// answer (webhook-id is the callout instance's id, the same on every
		// attempt). Neither is acted on twice; a 2xx, not a refusal, so that
		// accessd's resend does not count as a failed callout.
		log.Printf("callout instance=%s already taken (webhook-id seen): not acted on again", c.InstanceID)
		w.WriteHeader(http.StatusOK)
		fmt.Fprintln(w, "already received")
		return
	}
	action := x.decide(c)
	log.Printf("callout stage=%s request=%s instance=%s target=%s action=%s",
		c.Stage, c.RequestID, c.InstanceID, c.Assignment.Target.PrincipalName, action)
	w.WriteHeader(http.StatusAccepted)
	if action == "continue" || action == "deny" {
		go x.resume(c, action == "deny")
	}
}

// decide says what to do with a callout: continue, deny, ignore or none.
func (x *extension) decide(c callout) string {
	upn := strings.ToLower(c.Assignment.Target.PrincipalName)
	switch {
	case c.Stage == "CustomExtensionConnectionTest", c.CallbackURIPath == "",
		len(c.CallbackConfiguration) == 0, string(c.CallbackConfiguration) == "null":
		return "none" // launch and continue: accessd is not waiting for us
	case x.ignore != "" && strings.HasSuffix(upn, strings.ToLower(x.ignore)):
		return "ignore"
	case x.denySuffix != "" && strings.HasSuffix(upn, strings.ToLower(x.denySuffix)) &&
		(c.Stage == "assignmentRequestCreated" || c.Stage == "assignmentRequestApproved"):
		return "deny" // a request can be denied only before access is granted
	}
	return "continue"
}

// resume calls POST {accessd}/v1.0{CallbackUriPath}; accessd answers 204.
func (x *extension) resume(c callout, deny bool) {
	cb := access.Callback{Source: "accessd-example", Type: "microsoft.graph.accessPackageCustomExtensionStage." + c.Stage,
		HasData: true, DataType: access.CallbackDataRequest, Stage: c.Stage, InstanceID: c.InstanceID,
		Detail: "Approved by accessd-example"}
	if deny {
		cb.State = "denied"
		cb.Detail = "Denied by accessd-example: " + x.denySuffix + " targets are not allowed"
	}
	for attempt := 1; attempt <= 3; attempt++ { // retry accessd's own failures, as Logic Apps do
		time.Sleep(time.Duration(attempt-1) * time.Second)
		err := x.api.ResumeAt(context.Background(), c.CallbackURIPath, cb)
		var refused *client.Error
		switch {
		case err == nil:
			// The client returns nil only for a 2xx answer: accessd accepted the callback.
			log.Printf("resume request=%s instance=%s denied=%t accepted", c.RequestID, c.InstanceID, deny)
			return
		case errors.As(err, &refused):
			log.Printf("resume request=%s instance=%s denied=%t status=%d %s: %s",
				c.RequestID, c.InstanceID, deny, refused.Status, refused.Code, refused.Message)
			if refused.Status < 500 && refused.Status != http.StatusTooManyRequests {
				return
			}
		default:
			log.Printf("resume request=%s instance=%s failed: %v", c.RequestID, c.InstanceID, err)
		}
	}
}

// verify checks the callout's Authorization header: "PoP <jwt>" or
// "Bearer <jwt>", RS256, signed by accessd, from the entitlement-management
// app; a PoP token must also name this request's method, host and path.
func (x *extension) verify(r *http.Request) error {
	scheme, raw, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || (scheme != "PoP" && scheme != "Bearer") {
		return errors.New("no PoP or Bearer token in the Authorization header")
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithLeeway(2*time.Minute), jwt.WithExpirationRequired()).
		ParseWithClaims(strings.TrimSpace(raw), claims, func(t *jwt.Token) (any, error) {
			kid, _ := t.Header["kid"].(string)
			return x.keys.key(kid)
		})
	if err != nil {
		return err
	}
	str := func(name string) string { s, _ := claims[name].(string); return s }
	switch {
	case strings.TrimSuffix(str("iss"), "/") != x.accessd:
		return fmt.Errorf("iss %q is not %s", str("iss"), x.accessd)
	case str("appid") != entitlementManagementAppID:
		return fmt.Errorf("appid %q is not entitlement management's", str("appid"))
	case scheme == "Bearer":
		return nil
	case str("m") != http.MethodPost:
		return fmt.Errorf("PoP m %q is not POST", str("m"))
	case str("u") != strings.ToLower(r.Host):
		return fmt.Errorf("PoP u %q is not this host %q", str("u"), strings.ToLower(r.Host))
	case str("p") != r.URL.EscapedPath():
		return fmt.Errorf("PoP p %q is not this path %q", str("p"), r.URL.EscapedPath())
	}
	return nil
}

// replayWindow remembers the webhook-ids of the signed callouts taken
// lately. A copy of a callout verifies for five minutes after its
// timestamp, which may itself lie up to five minutes ahead of our clock, so
// an id is kept ten minutes; after that its copies fail the timestamp check.
type replayWindow struct {
	mu    sync.Mutex
	until map[string]time.Time // webhook-id → when it may be forgotten
}

func newReplayWindow() *replayWindow { return &replayWindow{until: map[string]time.Time{}} }

// first records id and reports whether it was not taken before.
func (w *replayWindow) first(id string, now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for seen, until := range w.until {
		if now.After(until) {
			delete(w.until, seen)
		}
	}
	if _, ok := w.until[id]; ok {
		return false
	}
	w.until[id] = now.Add(10 * time.Minute)
	return true
}

// keySet caches accessd's signing keys. An unknown kid fetches the JWKS
// again, at most once every 10 seconds, so forged kids cost us nothing.
type keySet struct {
	issuer  string
	mu      sync.Mutex
	keys    map[string]*rsa.PublicKey
	fetched time.Time
}

func (k *keySet) key(kid string) (*rsa.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if key, ok := k.keys[kid]; ok {
		return key, nil
	}
	if time.Since(k.fetched) < 10*time.Second {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	k.fetched = time.Now()
	keys, err := fetchKeys(k.issuer)
	if err != nil {
		return nil, fmt.Errorf("fetching accessd's keys: %w", err)
	}
	k.keys = keys
	if key, ok := k.keys[kid]; ok {
		return key, nil
	}
	return nil, fmt.Errorf("unknown kid %q", kid)
}

// fetchKeys reads the discovery document, then the RSA keys of its jwks_uri.
func fetchKeys(issuer string) (map[string]*rsa.PublicKey, error) {
	var disc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := getJSON(issuer+"/.well-known/openid-configuration", &disc); err != nil {
		return nil, err
	}
	var jwks struct {
		Keys []struct{ Kty, Kid, N, E string } `json:"keys"`
	}
	if err := getJSON(disc.JWKSURI, &jwks); err != nil {
		return nil, err
	}
	keys := map[string]*rsa.PublicKey{}
	for _, j := range jwks.Keys {
		n, errN := base64.RawURLEncoding.DecodeString(j.N)
		e, errE := base64.RawURLEncoding.DecodeString(j.E)
		if j.Kty != "RSA" || errN != nil || errE != nil {
			continue
		}
		keys[j.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	return keys, nil
}

func getJSON(url string, v any) error {
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
