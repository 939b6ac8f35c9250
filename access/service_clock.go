package access

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The virtual clock's anchor is stored as "<base> <virtual>", two RFC 3339
// times. Databases written before anchors kept an offset in nanoseconds,
// which LoadClock still reads.
const (
	settingClockAnchor = "clock_anchor"
	settingClockOffset = "clock_offset_ns"
)

// LoadClock sets a virtual clock to the anchor stored in the database.
func (s *Service) LoadClock(ctx context.Context) error {
	vc, ok := s.clock.(*VirtualClock)
	if !ok {
		return nil
	}
	return s.view(ctx, func(tx Tx) error {
		if v, ok, err := tx.Setting(settingClockAnchor); err != nil || ok {
			if err != nil {
				return err
			}
			baseText, virtualText, _ := strings.Cut(v, " ")
			base, err1 := time.Parse(time.RFC3339Nano, baseText)
			virtual, err2 := time.Parse(time.RFC3339Nano, virtualText)
			if err := errors.Join(err1, err2); err != nil {
				return Internal(fmt.Errorf("stored clock anchor %q: %w", v, err))
			}
			vc.SetAnchor(base, virtual)
			return nil
		}
		v, ok, err := tx.Setting(settingClockOffset)
		if err != nil || !ok {
			return err
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return Internal(err)
		}
		base := vc.Base.Now()
		vc.SetAnchor(base, base.Add(time.Duration(n)))
		return nil
	})
}

// MoveClock moves the virtual clock forward by advance, or to set. It never
// moves back, since timers that have fired stay fired, and never past the
// year 9999.
func (s *Service) MoveClock(ctx context.Context, advance *Duration, set *time.Time) (time.Time, error) {
	vc, ok := s.clock.(*VirtualClock)
	if !ok {
		return time.Time{}, NotFoundf("the virtual clock exists only in --dev mode")
	}
	if (advance == nil) == (set == nil) {
		return time.Time{}, Invalidf("give exactly one of advance (an ISO 8601 duration) or set (a date and time)")
	}
	var base, target time.Time
	err := s.update(ctx, func(tx Tx) error {
		if err := tx.Lock(SettingLock(settingClockAnchor)); err != nil {
			return err
		}
		base = vc.Base.Now()
		now := vc.at(base)
		if advance != nil {
			if advance.Approx() < 0 {
				return Invalidf("advance must not be negative; the clock only moves forward")
			}
			var ok bool
			if target, ok = advance.AddWithin(now); !ok {
				return Invalidf("advance %s would move the clock past the year 9999", advance)
			}
		} else {
			if set.Before(now) {
				return Invalidf("set %s is before the clock's now %s; the clock only moves forward", set.Format(time.RFC3339), now.Format(time.RFC3339))
			}
			if !InTimeRange(*set) {
				return Invalidf("set %s is outside the years 0001 to 9999", set.Format(time.RFC3339))
			}
			target = *set
		}
		if err := tx.ShiftLeases(now, target); err != nil {
			return err
		}
		return tx.PutSetting(settingClockAnchor, base.UTC().Format(time.RFC3339Nano)+" "+target.UTC().Format(time.RFC3339Nano))
	})
	if err != nil {
		return time.Time{}, err
	}
	vc.SetAnchor(base, target) // only once the anchor is stored
	s.workQueued()
	return s.Now(), nil
}

// Reset deletes all data except the signing keys and settings, for --dev mode.
func (s *Service) Reset(ctx context.Context) error {
	return s.update(ctx, func(tx Tx) error { return tx.ResetData() })
}

// ExtensionCalloutAttempts lists the recorded attempts of one custom
// extension, newest first, to those who may read the extension. Where
// attempts are not recorded the list is not there (404), so that a client
// can tell "none recorded" from "none made".
func (s *Service) ExtensionCalloutAttempts(ctx context.Context, by Caller, catalogID, extensionID string, p Page) ([]CalloutAttempt, bool, error) {
	if !s.recordCallouts {
		return nil, false, NotFoundf("callout attempts are not recorded on this server: start it with --record-callouts")
	}
	return list(ctx, s, p, func(tx Tx, p Page) ([]CalloutAttempt, error) {
		if _, err := extensionIn(tx, by, catalogID, extensionID); err != nil {
			return nil, err
		}
		return tx.ExtensionCalloutAttempts(extensionID, p)
	})
}

// CalloutAttempts lists recorded callout attempts, newest first (--dev mode).
func (s *Service) CalloutAttempts(ctx context.Context, p Page) ([]CalloutAttempt, bool, error) {
	return list(ctx, s, p, func(tx Tx, p Page) ([]CalloutAttempt, error) { return tx.CalloutAttempts(p) })
}
