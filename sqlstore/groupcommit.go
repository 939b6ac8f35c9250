package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/accessd/accessd/access"
)

// SQLite has one writer, so Update transactions run one after another. Each
// used to pay for its own BEGIN and COMMIT, and a commit writes every page
// the transaction touched to the WAL: under load that was a third of the
// writer's time, while every other write waited. Group commit runs the
// Update transactions that are waiting together in one SQLite transaction,
// each inside a savepoint of its own, and commits once. A transaction whose
// fn fails is rolled back to its savepoint and leaves the others' writes
// alone; no caller hears back before the commit that holds its writes, so
// nothing a caller was told is committed can be lost.

// maxGroup bounds how many Update transactions share one commit, and so how
// long the first of them waits for the others to run.
const maxGroup = 64

// writeJob is one Update transaction waiting for the writer.
type writeJob struct {
	ctx  context.Context
	fn   func(access.Tx) error
	done chan error // receives exactly one answer, after the commit
}

// updateGrouped hands fn to the writer goroutine and waits for its outcome.
func (s *Store) updateGrouped(ctx context.Context, fn func(access.Tx) error) error {
	job := writeJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.jobs <- job:
	case <-ctx.Done():
		return access.Internal(fmt.Errorf("begin transaction: %w", ctx.Err()))
	case <-s.closing.Done():
		return access.Internal(errors.New("begin transaction: the store is closed"))
	}
	// The writer answers every job it took, so waiting here cannot hang; and
	// the caller must not go before it knows whether its writes committed.
	err := <-job.done
	var p *panicked
	if errors.As(err, &p) {
		panic(p.value) // in the caller's goroutine, as if fn had run here
	}
	return err
}

// runWriter takes waiting Update transactions in groups until the store
// closes. s.jobs is unbuffered: a job is either taken by the writer, which
// then answers it, or never sent.
func (s *Store) runWriter() {
	defer s.listeners.Done()
	for {
		var first writeJob
		select {
		case first = <-s.jobs:
		case <-s.closing.Done():
			return
		}
		group := []writeJob{first}
	more:
		for len(group) < maxGroup {
			select {
			case j := <-s.jobs:
				group = append(group, j)
			default:
				break more
			}
		}
		start := time.Now()
		s.commitGroup(group)
		if s.observer != nil {
			s.observer.GroupCommitted(len(group), time.Since(start))
		}
	}
}

// commitGroup runs a group in one transaction and answers every job. If
// anything fails outside the jobs' own fn (begin, a savepoint, the commit),
// the transaction is rolled back and each job runs again alone, so one
// broken job cannot fail the others.
func (s *Store) commitGroup(group []writeJob) {
	if len(group) == 1 {
		group[0].done <- s.runAlone(group[0])
		return
	}
	results, err := s.tryGroup(group)
	if err != nil {
		s.log.Warn("a group of transactions failed as a whole; running each alone", "transactions", len(group), "err", err)
		for _, j := range group {
			j.done <- s.runAlone(j)
		}
		return
	}
	for i, j := range group {
		j.done <- results[i]
	}
}

// runAlone runs one job in a transaction of its own, as Update does on an
// engine without group commit.
func (s *Store) runAlone(j writeJob) error {
	if err := j.ctx.Err(); err != nil {
		return access.Internal(fmt.Errorf("begin transaction: %w", err))
	}
	var err error
	func() {
		defer recoverInto(&err)
		err, _ = s.runOnce(context.WithoutCancel(j.ctx), true, j.fn)
	}()
	return err
}

// tryGroup runs every job of group in one transaction, each in a savepoint,
// and commits. results holds each job's own outcome; err is set when the
// group as a whole failed and nothing was committed.
func (s *Store) tryGroup(group []writeJob) (results []error, err error) {
	// Statements run without the callers' cancellation: SQLite answers an
	// interrupted write by rolling back the whole transaction, which would
	// take the other jobs' writes with it.
	ctx := context.Background()
	gen := s.cache.generation()
	sqlTx, err := s.write.BeginTx(ctx, s.dialect.updateTx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	var txs []*tx
	committed := false
	defer func() {
		if !committed {
			if err := sqlTx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
				s.log.Error("rolling back a group of transactions failed", "err", err)
			}
		}
		for _, t := range txs {
			t.ended()
		}
	}()
	results = make([]error, len(group))
	for i, j := range group {
		if err := j.ctx.Err(); err != nil {
			results[i] = access.Internal(fmt.Errorf("begin transaction: %w", err))
			continue
		}
		if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT job"); err != nil {
			return nil, fmt.Errorf("savepoint: %w", err)
		}
		t := s.newTx(context.WithoutCancel(j.ctx), sqlTx, gen, true)
		txs = append(txs, t)
		func() {
			defer recoverInto(&results[i])
			results[i] = j.fn(t)
		}()
		if results[i] != nil {
			if _, err := sqlTx.ExecContext(ctx, "ROLLBACK TO job"); err != nil {
				return nil, fmt.Errorf("rollback to savepoint: %w", err)
			}
		}
		if _, err := sqlTx.ExecContext(ctx, "RELEASE job"); err != nil {
			return nil, fmt.Errorf("release savepoint: %w", err)
		}
	}
	committed = true
	if err := sqlTx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return results, nil
}

// panicked carries a panic in a job's fn back to the goroutine that called
// Update, which panics again with it; the writer goroutine, which every
// Update shares, survives it.
type panicked struct {
	value any
	stack []byte
}

func (p *panicked) Error() string {
	return fmt.Sprintf("panic in a transaction: %v\n%s", p.value, p.stack)
}

func recoverInto(err *error) {
	if v := recover(); v != nil {
		*err = &panicked{value: v, stack: debug.Stack()}
	}
}
