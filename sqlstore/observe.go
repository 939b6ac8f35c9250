package sqlstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// Observer hears what the store does, so that metrics and traces can show
// it while sqlstore knows neither; cmd/accessd hands it one from the
// telemetry package through Options. Its methods must be quick: some run
// on the SQLite writer, which every write waits for.
type Observer interface {
	// TransactionStarted is called as an Update (write) or View begins; the
	// function it returns, unless nil, is called with the outcome as the
	// transaction ends.
	TransactionStarted(ctx context.Context, write bool) (ended func(error))
	// GroupCommitted is told, on SQLite, how many Update transactions the
	// writer committed together and how long it was busy with them.
	GroupCommitted(transactions int, busy time.Duration)
	// RaceLost is called, on PostgreSQL, each time an Update transaction
	// lost a race with another and is run again.
	RaceLost()
}

// transactionStarted tells the observer, if any, that a transaction begins.
func (s *Store) transactionStarted(ctx context.Context, write bool) (ended func(error)) {
	if s.observer == nil {
		return nil
	}
	return s.observer.TransactionStarted(ctx, write)
}

// MigrationsCurrent answers nil when the database has every migration this
// binary embeds, and otherwise says where each stands: a replica must not
// serve a schema that lacks what it reads. A database ahead of the binary,
// migrated by a newer replica during a rolling upgrade, is current:
// migrations only add what older versions do not read (docs/deploy.md).
// It reads on a read connection, without the migration lock, so it
// neither waits for a migration nor holds one up.
func (s *Store) MigrationsCurrent(ctx context.Context) error {
	p, err := s.migrationProvider(s.read)
	if err != nil {
		return err
	}
	current, newest, err := p.GetVersions(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: reading the database's migration version: %w", err)
	}
	if current < newest {
		return fmt.Errorf("sqlstore: the database is at migration %d, this binary's newest is %d", current, newest)
	}
	return nil
}

// Counts are what the store has done since it opened: the SQL statements
// its transactions ran (reads and writes, not BEGIN, COMMIT or savepoints),
// the JSON documents they wrote, and the Update (write) transactions
// called, each counted once however group commit joined them or races
// made them run again. They measure what one request lifecycle costs
// (accessd bench reports them per lifecycle), so they are plain atomic
// adds, cheap enough to stay compiled in.
type Counts struct {
	Statements        int64
	Documents         int64
	WriteTransactions int64
}

// counters is where a Store and its transactions add up their Counts.
type counters struct {
	statements, documents, writeTransactions atomic.Int64
}

// Counts reads the store's counts so far.
func (s *Store) Counts() Counts {
	return Counts{Statements: s.counts.statements.Load(), Documents: s.counts.documents.Load(),
		WriteTransactions: s.counts.writeTransactions.Load()}
}
