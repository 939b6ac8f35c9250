package access

import (
	"context"
	"strconv"
	"time"
)

// settingClockOffset keeps the virtual clock's offset, in nanoseconds.
const settingClockOffset = "clock_offset_ns"

// LoadClock sets a virtual clock to the offset stored in the database.
func (s *Service) LoadClock(ctx context.Context) error {
	vc, ok := s.clock.(*VirtualClock)
	if !ok {
		return nil
	}
	return s.view(ctx, func(tx Tx) error {
		v, ok, err := tx.Setting(settingClockOffset)
		if err != nil || !ok {
			return err
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return Internal(err)
		}
		vc.SetOffset(time.Duration(n))
		return nil
	})
}

// MoveClock moves the virtual clock forward by advance, or to set. It never
// moves back: timers that have fired stay fired.
func (s *Service) MoveClock(ctx context.Context, advance *Duration, set *time.Time) (time.Time, error) {
	vc, ok := s.clock.(*VirtualClock)
	if !ok {
		return time.Time{}, NotFoundf("the virtual clock exists only in --dev mode")
	}
	if (advance == nil) == (set == nil) {
		return time.Time{}, Invalidf("give exactly one of advance (an ISO 8601 duration) or set (a date and time)")
	}
	var offset time.Duration
	err := s.update(ctx, func(tx Tx) error {
		now := vc.Now()
		target := now
		if advance != nil {
			if advance.Approx() < 0 {
				return Invalidf("advance must not be negative; the clock only moves forward")
			}
			target = advance.AddTo(now)
		} else {
			if set.Before(now) {
				return Invalidf("set %s is before the clock's now %s; the clock only moves forward", set.Format(time.RFC3339), now.Format(time.RFC3339))
			}
			target = *set
		}
		offset = vc.Offset() + target.Sub(now)
		return tx.PutSetting(settingClockOffset, strconv.FormatInt(int64(offset), 10))
	})
	if err != nil {
		return time.Time{}, err
	}
	vc.SetOffset(offset) // only once the offset is stored
	s.workQueued()
	return s.Now(), nil
}

// Reset deletes all data except the signing keys and settings, for --dev mode.
func (s *Service) Reset(ctx context.Context) error {
	return s.update(ctx, func(tx Tx) error { return tx.ResetData() })
}

// CalloutAttempts lists recorded callout attempts, newest first (--dev mode).
func (s *Service) CalloutAttempts(ctx context.Context, p Page) ([]CalloutAttempt, bool, error) {
	return list(ctx, s, p, func(tx Tx, p Page) ([]CalloutAttempt, error) { return tx.CalloutAttempts(p) })
}
