package client

import (
	"fmt"
	"strings"
	"time"

	"github.com/accessd/accessd/access"
)

// Conversions every wire shape shares. Answers are decoded leniently
// (unknown properties are ignored), so that a client keeps working against
// a newer accessd that writes more.

// graphType writes a Graph type name as accessd reads it in @odata.type.
func graphType(name string) string { return "#microsoft.graph." + name }

// typeName reads an @odata.type as accessd writes it.
func typeName(s string) string { return strings.TrimPrefix(s, "#microsoft.graph.") }

// str reads a nullable string; null is "".
func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// timeText writes a time as accessd writes times: UTC, RFC 3339.
func timeText(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// reader converts the times and durations of one answer and keeps the
// first error, so that a conversion reads as a list of assignments.
type reader struct{ err error }

func (r *reader) time(property string, s *string) time.Time {
	if t := r.timePtr(property, s); t != nil {
		return *t
	}
	return time.Time{}
}

func (r *reader) timePtr(property string, s *string) *time.Time {
	if s == nil || *s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		r.fail(property, err)
		return nil
	}
	t = t.UTC()
	return &t
}

func (r *reader) duration(property string, s *string) access.Duration {
	if s == nil || *s == "" {
		return access.Duration{}
	}
	d, err := access.ParseDuration(*s)
	if err != nil {
		r.fail(property, err)
	}
	return d
}

func (r *reader) fail(property string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("property '%s' in the answer: %w", property, err)
	}
}

// expirationWire is expirationPattern, in policies, schedules and assignments.
type expirationWire struct {
	Type        string  `json:"type,omitempty"`
	EndDateTime *string `json:"endDateTime,omitempty"`
	Duration    *string `json:"duration,omitempty"`
}

func expirationOut(e access.Expiration) expirationWire {
	w := expirationWire{Type: string(e.Type)}
	if e.EndDateTime != nil {
		s := timeText(*e.EndDateTime)
		w.EndDateTime = &s
	}
	if !e.Duration.IsZero() {
		s := e.Duration.String()
		w.Duration = &s
	}
	return w
}

func (w expirationWire) toDomain(r *reader, property string) access.Expiration {
	return access.Expiration{
		Type:        access.ExpirationType(w.Type),
		EndDateTime: r.timePtr(property+".endDateTime", w.EndDateTime),
		Duration:    r.duration(property+".duration", w.Duration),
	}
}

// scheduleWire is entitlementManagementSchedule.
type scheduleWire struct {
	StartDateTime *string         `json:"startDateTime,omitempty"`
	Expiration    *expirationWire `json:"expiration,omitempty"`
}

func scheduleOut(s access.Schedule) scheduleWire {
	var w scheduleWire
	if s.StartDateTime != nil {
		t := timeText(*s.StartDateTime)
		w.StartDateTime = &t
	}
	if s.Expiration != (access.Expiration{}) {
		e := expirationOut(s.Expiration)
		w.Expiration = &e
	}
	return w
}

func (w scheduleWire) toDomain(r *reader, property string) access.Schedule {
	s := access.Schedule{StartDateTime: r.timePtr(property+".startDateTime", w.StartDateTime)}
	if w.Expiration != nil {
		s.Expiration = w.Expiration.toDomain(r, property+".expiration")
	}
	return s
}
