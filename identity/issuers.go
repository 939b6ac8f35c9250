package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/accessd/accessd/access"
)

// Settings this package keeps in the database.
const (
	// settingPublicURL is the URL the database was served at last: the
	// issuer `accessd token` names unless told otherwise.
	settingPublicURL = "public_url"
	// settingIssuers lists, newest first, the public URLs the database has
	// been served at, as a JSON array of strings.
	settingIssuers = "accepted_issuers"
)

// MaxIssuers bounds how many public URLs a database remembers as issuers.
// Every start on a new port adds one (a server started with --addr
// 127.0.0.1:0 and no --public-url gets a new URL each time); without a
// bound the list would grow for ever. A token naming a URL that has fallen
// off the end is refused.
const MaxIssuers = 50

// RecordPublicURL records that the database is now served at url: url
// names the issuer of the tokens minted from now on, and joins the accepted
// issuers at the front, so that tokens minted for the URLs served before
// keep working after a restart on another address, and every replica
// accepts the tokens of every other.
func RecordPublicURL(ctx context.Context, store access.Store, url string) error {
	err := store.Update(ctx, func(tx access.Tx) error {
		// Replicas that start together each add their own URL: one at a time,
		// or one would write back a list without the other's.
		if err := tx.Lock(access.SettingLock(settingIssuers)); err != nil {
			return err
		}
		urls, err := storedIssuers(tx)
		if err != nil {
			return err
		}
		if len(urls) == 0 {
			// A database served by a version that kept only the last URL
			// accepted that URL's tokens; they stay accepted.
			last, ok, err := tx.Setting(settingPublicURL)
			if err != nil {
				return err
			}
			if ok {
				urls = []string{last}
			}
		}
		urls = slices.DeleteFunc(urls, func(u string) bool { return u == url })
		urls = slices.Insert(urls, 0, url)
		if len(urls) > MaxIssuers {
			urls = urls[:MaxIssuers]
		}
		encoded, err := json.Marshal(urls)
		if err != nil {
			return err
		}
		if err := tx.PutSetting(settingIssuers, string(encoded)); err != nil {
			return err
		}
		return tx.PutSetting(settingPublicURL, url)
	})
	if err != nil {
		return fmt.Errorf("record the public URL %s: %w", url, err)
	}
	return nil
}

// LastPublicURL is the URL the database was served at last; ok is false
// when no server has started on it yet.
func LastPublicURL(ctx context.Context, store access.Store) (url string, ok bool, err error) {
	err = store.View(ctx, func(tx access.Tx) error {
		url, ok, err = tx.Setting(settingPublicURL)
		return err
	})
	return url, ok, err
}

// storedIssuers reads the accepted issuers, newest first.
func storedIssuers(tx access.Tx) ([]string, error) {
	v, ok, err := tx.Setting(settingIssuers)
	if err != nil || !ok {
		return nil, err
	}
	var urls []string
	if err := json.Unmarshal([]byte(v), &urls); err != nil {
		return nil, fmt.Errorf("setting %s is not a JSON list of URLs: %w", settingIssuers, err)
	}
	return urls, nil
}

// AcceptedIssuers are the public URLs the database has been served at, as
// last read. A replica reads them at start; a token naming an issuer it
// does not know makes it read them again, at most once per refreshInterval,
// so that it accepts the tokens of a replica that started after it. It is
// safe for concurrent use.
type AcceptedIssuers struct {
	store access.Store
	clock access.Clock

	urls atomic.Pointer[[]string] // replaced whole on refresh; readers never lock

	refreshMu   sync.Mutex // one refresh at a time; others wait and find it fresh
	lastRefresh time.Time  // guarded by refreshMu
}

// LoadAcceptedIssuers reads the accepted issuers from the store.
func LoadAcceptedIssuers(ctx context.Context, store access.Store, clock access.Clock) (*AcceptedIssuers, error) {
	a := &AcceptedIssuers{store: store, clock: clock}
	urls, err := a.read(ctx)
	if err != nil {
		return nil, err
	}
	a.urls.Store(&urls)
	return a, nil
}

// accepts reports whether iss is one of the accepted issuers, reading them
// again (within the refresh limit) when it is not among those last read. A
// store that cannot be read is an internal error.
func (a *AcceptedIssuers) accepts(ctx context.Context, iss string) (bool, error) {
	if slices.Contains(*a.urls.Load(), iss) {
		return true, nil
	}
	if err := a.refresh(ctx); err != nil {
		return false, access.Internal(err)
	}
	return slices.Contains(*a.urls.Load(), iss), nil
}

// refresh reads the accepted issuers again, unless it read them less than
// refreshInterval ago (by the clock): every request naming an unknown
// issuer would otherwise cost a database round trip.
func (a *AcceptedIssuers) refresh(ctx context.Context) error {
	a.refreshMu.Lock()
	defer a.refreshMu.Unlock()

	now := a.clock.Now()
	if !a.lastRefresh.IsZero() && !now.Before(a.lastRefresh) && now.Sub(a.lastRefresh) < refreshInterval {
		return nil
	}
	// A failed read counts too: a database in trouble should not be asked
	// again by every request that names an unknown issuer.
	a.lastRefresh = now
	urls, err := a.read(ctx)
	if err != nil {
		return err
	}
	a.urls.Store(&urls)
	return nil
}

func (a *AcceptedIssuers) read(ctx context.Context) ([]string, error) {
	var urls []string
	err := a.store.View(ctx, func(tx access.Tx) error {
		var err error
		urls, err = storedIssuers(tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the accepted issuers: %w", err)
	}
	return urls, nil
}
