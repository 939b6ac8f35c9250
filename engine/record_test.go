package engine

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/accessd/accessd/access"
)

// Callout attempts are recorded only when the service is told to (--dev,
// serve --record-callouts): then each attempt with its time, latency,
// status and the start of the answer's body; otherwise not one row.
func TestCalloutAttemptsAreRecordedOnlyWhenAsked(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprintf("recording %t", on), func(t *testing.T) {
			h := newHarness(t)
			h.svc.RecordCallouts(on)
			long := strings.Repeat("x", 10_000)
			h.ext.script("/hooks/recorded", func(n int, c extCall) extReply {
				if n == 1 {
					return extReply{Status: http.StatusServiceUnavailable, Body: "busy " + long}
				}
				return extReply{Body: `{"accepted":true}`}
			})
			x := h.extension("/hooks/recorded", nil)
			p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
			h.run()
			r := h.submit(p, nil)
			w := h.calloutWork(r.ID)
			h.waitWorkDone(w)
			if n := len(h.ext.callsTo("/hooks/recorded")); n != 2 {
				t.Fatalf("the extension was called %d times, want 2 (a 503, then a retry)", n)
			}
			all, _, err := h.svc.CalloutAttempts(h.ctx, access.Page{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if !on {
				if len(all) != 0 {
					t.Fatalf("%d attempts recorded with recording off, want none: %+v", len(all), all)
				}
				return
			}
			as := h.attempts(w.InstanceID)
			if len(as) != 2 {
				t.Fatalf("%d attempts recorded, want 2", len(as))
			}
			first, second := as[0], as[1]
			if first.ResponseStatus != http.StatusServiceUnavailable || !strings.HasPrefix(first.ResponseBody, "busy xxx") ||
				len(first.ResponseBody) != 4096 || first.SentAt.IsZero() || first.ExtensionID != x.ID {
				t.Errorf("first attempt: status %d, body of %d bytes starting %.10q, sent %v, extension %s; want 503, the body's first 4096 bytes",
					first.ResponseStatus, len(first.ResponseBody), first.ResponseBody, first.SentAt, first.ExtensionID)
			}
			if second.ResponseStatus != http.StatusAccepted || second.ResponseBody != `{"accepted":true}` || second.Attempt != 2 {
				t.Errorf("second attempt %+v, want attempt 2 answered 202 with its body", second)
			}
			byExt, _, err := h.svc.ExtensionCalloutAttempts(h.ctx, admin, h.catalog.ID, x.ID, access.Page{Limit: 100})
			if err != nil || len(byExt) != 2 || byExt[0].ID != second.ID {
				t.Errorf("the extension's attempts: %d, %v; want both, newest first", len(byExt), err)
			}
		})
	}
}
