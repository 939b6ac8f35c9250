package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	valid := defaultConfig(func(string) string { return "" })
	tests := []struct {
		name   string
		change func(*Config)
		want   string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"free port", func(c *Config) { c.Addr = "127.0.0.1:0" }, ""},
		{"https public url", func(c *Config) { c.PublicURL = "https://accessd.example.com" }, ""},
		{"addr without port", func(c *Config) { c.Addr = "localhost" }, "--addr"},
		{"empty database", func(c *Config) { c.Database = " " }, "--database"},
		{"public url with path", func(c *Config) { c.PublicURL = "https://x.example.com/api" }, "--public-url"},
		{"public url without scheme", func(c *Config) { c.PublicURL = "accessd.example.com" }, "--public-url"},
		{"synchronous off", func(c *Config) { c.SQLiteSynchronous = "off" }, "--sqlite-synchronous"},
		{"zero shutdown", func(c *Config) { c.ShutdownTimeout = 0 }, "--shutdown-timeout"},
		{"log format", func(c *Config) { c.LogFormat = "xml" }, "--log-format"},
		{"zero read timeout", func(c *Config) { c.ReadTimeout = 0 }, "--read-timeout"},
		{"negative idle timeout", func(c *Config) { c.IdleTimeout = -time.Second }, "--idle-timeout"},
		{"header timeout longer than the read timeout", func(c *Config) { c.ReadHeaderTimeout = time.Minute }, "--read-header-timeout"},
		{"write timeout too short for the --dev clock call", func(c *Config) { c.Dev, c.WriteTimeout = true, 30*time.Second }, "--write-timeout"},
		{"a short write timeout without --dev", func(c *Config) { c.WriteTimeout = 5 * time.Second }, ""},
		{"no connections", func(c *Config) { c.MaxConnections = 0 }, "--max-connections"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.change(&c)
			err := c.validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("want an error naming %s, got %v", tt.want, err)
			}
		})
	}
}

func TestEnvironmentOverDefaults(t *testing.T) {
	env := map[string]string{"ACCESSD_ADDR": "0.0.0.0:9000", "ACCESSD_DATABASE": "/tmp/x.db", "ACCESSD_PUBLIC_URL": "https://a.example.com"}
	c := defaultConfig(func(k string) string { return env[k] })
	if c.Addr != "0.0.0.0:9000" || c.Database != "/tmp/x.db" || c.PublicURL != "https://a.example.com" {
		t.Fatalf("environment not applied: %+v", c)
	}
}

func TestTokenRefusesBadArguments(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"neither app nor user", []string{}, "exactly one of"},
		{"both app and user", []string{"--app", "a", "--user", "u@x.test"}, "exactly one of"},
		{"scopes on an app", []string{"--app", "a", "--scopes", "X"}, "--scopes is for --user"},
		{"roles on a user", []string{"--user", "u@x.test", "--roles", "X"}, "--roles is for --app"},
		{"negative ttl", []string{"--app", "a", "--ttl", "-1h"}, "--ttl"},
		{"unknown user", []string{"--user", "nobody@x.test", "--scopes", "X"}, "no directory user"},
		{"bad public url", []string{"--app", "a", "--public-url", "ftp://x"}, "--public-url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"token", "--database", db}, tt.args...)
			if code := run(t.Context(), args, &out, &errOut, func(string) string { return "" }); code != 1 {
				t.Fatalf("exit code %d, want 1; stderr %q", code, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.want) {
				t.Fatalf("stderr %q does not mention %q", errOut.String(), tt.want)
			}
			if out.Len() != 0 {
				t.Fatalf("printed a token on failure: %q", out.String())
			}
		})
	}
}
