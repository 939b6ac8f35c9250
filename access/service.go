package access

import (
	"context"
	"time"
)

// Service holds the use cases of accessd. Handlers decode input into domain
// types and call it; it checks the rules and stores the result in one
// transaction, so a change is either whole or absent.
type Service struct {
	store  Store
	clock  Clock
	ids    IDSource
	onWork func()

	recordCallouts bool
	// nounsAtBegin is set when the store writes in parallel: a callout's
	// package, catalog and policy are read as it is begun (ParallelWriter).
	nounsAtBegin     bool
	local            LocalEngine // hands callouts over at enqueue (handoff.go)
	provisioner      Provisioner
	deliveryRetryFor time.Duration

	// subjects caches what Subjects found, where the store can say that
	// the directory has not changed since (DirectoryVersioner).
	subjects subjectCache
}

// NewService wires the use cases to a store, a clock and an id source. It
// provisions access in its own directory until SetProvisioner says otherwise.
func NewService(store Store, clock Clock, ids IDSource) *Service {
	pw, ok := store.(ParallelWriter)
	return &Service{store: store, clock: clock, ids: ids, nounsAtBegin: ok && pw.WritesInParallel(),
		provisioner: DirectoryProvisioner{Clock: clock, IDs: ids}, deliveryRetryFor: DefaultDeliveryRetryFor}
}

// Now is the service's idea of the current time, truncated to what the API shows.
func (s *Service) Now() time.Time { return s.clock.Now().UTC().Truncate(time.Millisecond) }

// Ping reports whether the database answers; /healthz uses it.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

func (s *Service) newID(given string) string {
	if given != "" {
		return given
	}
	return s.ids.NewID()
}

// view and update are shorthands that keep the use cases short.
func (s *Service) view(ctx context.Context, fn func(Tx) error) error { return s.store.View(ctx, fn) }
func (s *Service) update(ctx context.Context, fn func(Tx) error) error {
	if s.local != nil {
		return s.updateWithEngine(ctx, fn)
	}
	return s.store.Update(ctx, fn)
}

// get runs one getter in a read transaction.
func get[T any](ctx context.Context, s *Service, fn func(Tx) (T, error)) (T, error) {
	var out T
	err := s.view(ctx, func(tx Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}

// list fetches one page plus one item, so the caller knows whether a next page exists.
func list[T any](ctx context.Context, s *Service, p Page, fn func(Tx, Page) ([]T, error)) ([]T, bool, error) {
	var items []T
	err := s.view(ctx, func(tx Tx) error {
		var err error
		items, err = fn(tx, Page{After: p.After, Limit: p.Limit + 1})
		return err
	})
	if err != nil {
		return nil, false, err
	}
	more := len(items) > p.Limit
	if more {
		items = items[:p.Limit]
	}
	return items, more, nil
}
