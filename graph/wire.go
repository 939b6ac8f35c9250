package graph

import (
	"strings"
	"time"

	"github.com/accessd/accessd/access"
)

// This file holds the small conversions every wire type shares: type names,
// enums, durations and times, each reporting the property at fault.

// graphType writes a Graph type name as the API emits it.
func graphType(name string) string { return "#microsoft.graph." + name }

// typeName reads an @odata.type as clients send it: with or without "#", with
// the namespace once, twice (a documented typo) or not at all.
func typeName(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	for {
		rest, ok := strings.CutPrefix(s, "microsoft.graph.")
		if !ok {
			return s
		}
		s = rest
	}
}

// enum parses an enum member case-insensitively, naming the property when it fails.
func enum[T ~string](path string, s *string, parse func(string) (T, bool)) (T, error) {
	if s == nil || *s == "" {
		return "", nil
	}
	v, ok := parse(*s)
	if !ok {
		return "", access.Invalidf("property '%s': %q is not a member of its enumeration", path, *s)
	}
	return v, nil
}

// duration parses an ISO 8601 duration, naming the property when it fails.
func duration(path string, s *string) (access.Duration, error) {
	if s == nil || *s == "" {
		return access.Duration{}, nil
	}
	d, err := access.ParseDuration(*s)
	if err != nil {
		return access.Duration{}, access.Invalidf("property '%s': %v", path, err)
	}
	return d, nil
}

// dateTime parses a DateTimeOffset, naming the property when it fails.
func dateTime(path string, s *string) (*time.Time, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return nil, access.Invalidf("property '%s': %q is not an ISO 8601 date and time such as 2026-01-31T09:00:00Z", path, *s)
	}
	t = t.UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		return nil, access.Invalidf("property '%s': %q is outside the years 0001 to 9999", path, *s)
	}
	return &t, nil
}

// timeOut writes a time as Graph does: UTC with a Z; nil when unset.
func timeOut(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

// durationOut writes a duration, nil when unset.
func durationOut(d access.Duration) *string {
	if d.IsZero() {
		return nil
	}
	s := d.String()
	return &s
}

// optional writes "" as null, as Graph does for unset strings.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func boolean(p *bool) bool { return p != nil && *p }

// ignored accepts any JSON for read-only properties a client sends back from a GET.
type ignored = any
