package engine

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Graph's extension model has no place for a shared secret, so accessd keeps
// them itself, in a file of lines "<extension id> <secret>" (or "*" for
// every extension without lines of its own). An extension with a secret gets
// Standard Webhooks headers on every callout, besides its token: a
// signature over the body that an extension can check without fetching
// accessd's keys, and a timestamp that bounds replays.

// maxSecretsPerExtension is two: the old and the new secret during a rotation.
const maxSecretsPerExtension = 2

// SigningSecrets are the secrets callouts are signed with. Reload reads the
// file again (on SIGHUP) and swaps them whole, so a callout is signed with
// the old secrets or the new ones, never a mix.
type SigningSecrets struct {
	path    string
	current atomic.Pointer[signingTable]
}

// signingTable maps a lower-case extension id, or "*", to its secrets.
type signingTable map[string][]*standardwebhooks.Webhook

// LoadSigningSecrets reads the secrets file at path.
func LoadSigningSecrets(path string) (*SigningSecrets, error) {
	s := &SigningSecrets{path: path}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads the file again. A file that cannot be read, or has a bad
// line, changes nothing: the secrets in use stay, so a typo made while
// rotating does not leave extensions with callouts they refuse.
func (s *SigningSecrets) Reload() error {
	f, err := os.Open(s.path)
	if err != nil {
		return err
	}
	defer f.Close()
	t, err := parseSigningSecrets(f)
	if err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	s.current.Store(&t)
	return nil
}

// parseSigningSecrets reads lines of an extension id (or "*") and a secret;
// blank lines and lines starting with # are skipped. Errors name the line,
// never the secret.
func parseSigningSecrets(r io.Reader) (signingTable, error) {
	t := signingTable{}
	lines := bufio.NewScanner(r)
	for n := 1; lines.Scan(); n++ {
		line := strings.TrimSpace(lines.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("line %d: want an extension id (or *) and a secret, separated by a space", n)
		}
		id := strings.ToLower(fields[0])
		secret, err := parseWebhookSecret(fields[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if len(t[id]) == maxSecretsPerExtension {
			return nil, fmt.Errorf("line %d: a third secret for %s; two at most, the old and the new during a rotation", n, fields[0])
		}
		t[id] = append(t[id], secret)
	}
	if err := lines.Err(); err != nil {
		return nil, err
	}
	return t, nil
}

// parseWebhookSecret reads a secret in the Standard Webhooks format: whsec_
// and the base64 of 24 to 64 random bytes. The prefix is required, so that a
// password pasted by mistake is refused rather than used.
func parseWebhookSecret(s string) (*standardwebhooks.Webhook, error) {
	encoded, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return nil, errors.New("the secret does not start with whsec_ (Standard Webhooks secrets are whsec_ and base64)")
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, errors.New("the secret after whsec_ is not standard base64")
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("the secret is %d bytes; Standard Webhooks secrets are 24 to 64", len(key))
	}
	return standardwebhooks.NewWebhookRaw(key)
}

// webhookHeaders are the Standard Webhooks headers of one attempt of a
// callout to extensionID, or nil when the extension has no secret.
// webhook-id is the callout instance's id: the standard's id names the
// message, not the attempt, so retries (and a resend after a crash) share
// it and an extension can tell them apart from new callouts. With two
// secrets there are two signatures, so the extension may hold either.
func (s *SigningSecrets) webhookHeaders(extensionID, instanceID string, at time.Time, body []byte) (map[string]string, error) {
	t := *s.current.Load()
	secrets, ok := t[strings.ToLower(extensionID)]
	if !ok {
		secrets = t["*"]
	}
	if len(secrets) == 0 {
		return nil, nil
	}
	signatures := make([]string, len(secrets))
	for i, secret := range secrets {
		sig, err := secret.Sign(instanceID, at, body)
		if err != nil {
			return nil, err
		}
		signatures[i] = sig
	}
	return map[string]string{
		standardwebhooks.HeaderWebhookID:        instanceID,
		standardwebhooks.HeaderWebhookTimestamp: strconv.FormatInt(at.Unix(), 10),
		standardwebhooks.HeaderWebhookSignature: strings.Join(signatures, " "),
	}, nil
}

// signatureVersions is a webhook-signature header with each signature
// reduced to its version ("v1 v1"), as --dev mode records it: like the
// token, a signature is not kept where API readers can replay it.
func signatureVersions(header string) string {
	sigs := strings.Fields(header)
	for i, sig := range sigs {
		sigs[i], _, _ = strings.Cut(sig, ",")
	}
	return strings.Join(sigs, " ")
}
