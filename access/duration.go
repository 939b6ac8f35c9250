package access

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is an ISO 8601 duration such as P14D or PT5M, as Graph sends them.
// Calendar parts (years, months, days) are kept apart from the clock part so
// that adding P1M to a date means "one calendar month later".
type Duration struct {
	Years, Months, Days int
	Clock               time.Duration // the part after T
}

// Limits that keep every accepted duration writable and readable again.
const (
	maxDurationDays  = 100000
	maxDurationClock = 99999 * time.Hour
)

// ParseDuration reads PnYnMnWnDTnHnMnS (fractional seconds allowed), each
// designator at most once and in that order.
func ParseDuration(s string) (Duration, error) {
	var d Duration
	bad := func() (Duration, error) {
		return Duration{}, fmt.Errorf("%q is not an ISO 8601 duration such as P14D or PT5M", s)
	}
	rest, ok := strings.CutPrefix(strings.ToUpper(strings.TrimSpace(s)), "P")
	if !ok || rest == "" {
		return bad()
	}
	const dateOrder, timeOrder = "YMWD", "HMS"
	order := dateOrder
	last := -1 // index in order of the last designator read
	inTime, any := false, false
	for rest != "" {
		if rest[0] == 'T' {
			if inTime || rest == "T" {
				return bad()
			}
			inTime, order, last = true, timeOrder, -1
			rest = rest[1:]
			continue
		}
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 || i == len(rest) {
			return bad()
		}
		num, unit := rest[:i], rest[i]
		rest = rest[i+1:]
		pos := strings.IndexByte(order, unit)
		if pos <= last {
			return bad() // unknown, repeated or out of order
		}
		last, any = pos, true
		if unit == 'S' {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f > maxDurationClock.Seconds() {
				return bad()
			}
			d.Clock += time.Duration(math.Round(f * float64(time.Second)))
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || n > maxDurationDays {
			return bad()
		}
		switch {
		case !inTime && unit == 'Y':
			d.Years = n
		case !inTime && unit == 'M':
			d.Months = n
		case !inTime && unit == 'W':
			d.Days += 7 * n
		case !inTime && unit == 'D':
			d.Days += n
		case unit == 'H':
			d.Clock += time.Duration(n) * time.Hour
		case unit == 'M':
			d.Clock += time.Duration(n) * time.Minute
		}
	}
	if !any || d.Days > maxDurationDays || d.Clock > maxDurationClock {
		return bad()
	}
	return d, nil
}

// MustDuration is for constants in code and tests.
func MustDuration(s string) Duration {
	d, err := ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

// IsZero reports whether the duration is absent.
func (d Duration) IsZero() bool { return d == Duration{} }

// AddTo moves t forward by the duration. Years and months that land past
// the end of a month stop at its last day (31 January + P1M is 28 February),
// as ISO 8601 and .NET do. A result past the year 9999 stops at MaxTime, so
// no computed end or deadline ever leaves the years Graph can write; rules
// that must refuse such a duration use AddWithin.
func (d Duration) AddTo(t time.Time) time.Time {
	end, ok := d.AddWithin(t)
	if !ok {
		return MaxTime
	}
	return end
}

// AddWithin is AddTo that reports, instead of stopping at MaxTime, whether
// the result stays within the years 0001 to 9999.
func (d Duration) AddWithin(t time.Time) (time.Time, bool) {
	if months := d.Years*12 + d.Months; months != 0 {
		y, m, day := t.Date()
		first := time.Date(y, m+time.Month(months), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
		lastDay := first.AddDate(0, 1, -1).Day()
		t = first.AddDate(0, 0, min(day, lastDay)-1)
	}
	t = t.AddDate(0, 0, d.Days).Add(d.Clock)
	return t, InTimeRange(t)
}

// Approx converts to a fixed length (a day is 24 h, a month 30 days, a year
// 365 days), which is what range checks such as PT5M–P14D need.
func (d Duration) Approx() time.Duration {
	days := int64(d.Years)*365 + int64(d.Months)*30 + int64(d.Days)
	const maxDays = int64(math.MaxInt64/(24*time.Hour)) - 1
	if days > maxDays || d.Clock > time.Duration(math.MaxInt64)-time.Duration(days)*24*time.Hour {
		return time.Duration(math.MaxInt64) // longer than any limit accessd checks
	}
	return time.Duration(days)*24*time.Hour + d.Clock
}

// String writes the canonical form, e.g. P1DT2H or PT5M.
func (d Duration) String() string {
	if d.IsZero() {
		return "PT0S"
	}
	var b strings.Builder
	b.WriteByte('P')
	if d.Years != 0 {
		fmt.Fprintf(&b, "%dY", d.Years)
	}
	if d.Months != 0 {
		fmt.Fprintf(&b, "%dM", d.Months)
	}
	if d.Days != 0 {
		fmt.Fprintf(&b, "%dD", d.Days)
	}
	if d.Clock != 0 {
		b.WriteByte('T')
		c := d.Clock
		if h := c / time.Hour; h > 0 {
			fmt.Fprintf(&b, "%dH", h)
			c -= h * time.Hour
		}
		if m := c / time.Minute; m > 0 {
			fmt.Fprintf(&b, "%dM", m)
			c -= m * time.Minute
		}
		if c > 0 {
			b.WriteString(strconv.FormatFloat(c.Seconds(), 'f', -1, 64))
			b.WriteByte('S')
		}
	}
	return b.String()
}

// MarshalText and UnmarshalText let stores and wire types carry a Duration as its ISO string.
func (d Duration) MarshalText() ([]byte, error) {
	if d.IsZero() {
		return []byte{}, nil
	}
	return []byte(d.String()), nil
}

func (d *Duration) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Duration{}
		return nil
	}
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
