package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3/lock"
)

// Defaults of the PostgreSQL connection pool; Options documents them.
const (
	defaultMaxOpenConns    = 20
	defaultConnMaxIdleTime = 5 * time.Minute
	defaultConnMaxLifetime = time.Hour
)

// openPostgres opens one pool for Update and View alike. It goes through
// pgx's database/sql driver, so that transactions, queries and scanning are
// the same code as on SQLite; only WorkNotifications uses pgx directly.
func openPostgres(ctx context.Context, dsn string, opt Options) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn) // its errors never repeat a password
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "accessd" // names the connections in pg_stat_activity
	}
	db := stdlib.OpenDB(*cfg.Copy())
	maxOpen := orDefault(opt.MaxOpenConns, defaultMaxOpenConns)
	db.SetMaxOpenConns(maxOpen)
	db.SetMaxIdleConns(min(orDefault(opt.MaxIdleConns, maxOpen), maxOpen))
	db.SetConnMaxIdleTime(orDefault(opt.ConnMaxIdleTime, defaultConnMaxIdleTime))
	db.SetConnMaxLifetime(orDefault(opt.ConnMaxLifetime, defaultConnMaxLifetime))
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: connect to PostgreSQL database %q on %s: %w", cfg.Database, cfg.Host, err)
	}
	return &Store{dialect: postgresDialect, write: db, read: db, pg: cfg, log: opt.Logger, cache: newSharedRowCache()}, nil
}

// orDefault is v, or def when v is zero.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// migrationLocker returns the advisory lock Migrate holds on PostgreSQL.
// Its id is derived from the database and schema, so that migrations of
// one schema wait for each other and not for those of another schema.
func (s *Store) migrationLocker(ctx context.Context) (lock.SessionLocker, error) {
	var db, schema string
	if err := s.write.QueryRowContext(ctx, "SELECT current_database(), COALESCE(current_schema(), '')").Scan(&db, &schema); err != nil {
		return nil, fmt.Errorf("sqlstore: migrate: %w", err)
	}
	if schema == "" {
		return nil, errors.New("sqlstore: migrate: no schema to migrate: the search_path names none that exists")
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "accessd migrations\x00%s\x00%s", db, schema)
	// Probe every second, for 5 minutes at most: a replica that starts
	// while another migrates waits about a second longer than it has to.
	l, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64())), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return l, nil
}

// WorkNotifications reports work queued in the database by any process,
// this one included, so that an engine on one replica starts work another
// replica queued within milliseconds instead of at its next poll. On
// PostgreSQL it listens on a connection of its own for the notification
// (NOTIFY accessd_work, with the schema's name) that every transaction
// which queued or rescheduled work in this schema sends when it commits,
// and sends one value on the channel per notification, unless a
// value is waiting there already: a receiver that is busy finds one value
// when it looks again, however many notifications came meanwhile. After it
// lost its connection and got it back (it tries again with backoff, for as
// long as it runs) it sends a value too, since it may have missed some. It
// ends, and closes the channel, when ctx is done or the Store closes.
//
// On SQLite, where only one process uses the database and the Service's
// in-process wake-up covers it, the channel is nil and so is the error.
func (s *Store) WorkNotifications(ctx context.Context) (<-chan struct{}, error) {
	if s.pg == nil {
		return nil, nil
	}
	conn, schema, err := s.listen(ctx)
	if err != nil {
		return nil, access.Internal(fmt.Errorf("listen for work: %w", err))
	}
	ctx, stop := context.WithCancel(ctx)
	stopOnClose := context.AfterFunc(s.closing, stop)
	ch := make(chan struct{}, 1)
	s.listeners.Add(1)
	go func() {
		defer s.listeners.Done()
		defer stopOnClose()
		defer stop()
		defer close(ch)
		s.listenLoop(ctx, conn, schema, ch)
	}()
	return ch, nil
}

// listen opens a connection outside the pool, listens on it, and returns
// it with the schema whose notifications count.
func (s *Store) listen(ctx context.Context) (*pgx.Conn, string, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pg.Copy())
	if err != nil {
		return nil, "", err
	}
	var schema string
	if err := conn.QueryRow(ctx, "SELECT COALESCE(current_schema(), '')").Scan(&schema); err != nil {
		closeConn(conn)
		return nil, "", err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+workChannel); err != nil {
		closeConn(conn)
		return nil, "", err
	}
	s.listenerPID.Store(conn.PgConn().PID())
	return conn, schema, nil
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn.Close(ctx)
}

// listenLoop waits for notifications on conn, and for a new connection
// whenever it loses one, until ctx is done.
func (s *Store) listenLoop(ctx context.Context, conn *pgx.Conn, schema string, ch chan<- struct{}) {
	for {
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				closeConn(conn)
				if ctx.Err() != nil {
					return
				}
				s.log.Warn("lost the connection that listens for work; connecting again", "err", err)
				break
			}
			if n.Payload == schema {
				signal(ch)
			}
		}
		for attempt := 0; ; attempt++ {
			if sleep(ctx, reconnectPause(attempt)) != nil {
				return
			}
			var err error
			if conn, schema, err = s.listen(ctx); err == nil {
				s.log.Info("listening for work again")
				signal(ch) // notifications sent meanwhile are lost
				break
			}
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("cannot listen for work yet", "err", err, "attempt", attempt+1)
		}
	}
}

// reconnectPause grows from about 100 ms to about 5 s, with jitter so that
// replicas that lost the server together do not all come back at once.
func reconnectPause(attempt int) time.Duration {
	d := min(100*time.Millisecond<<min(attempt, 6), 5*time.Second)
	return d/2 + rand.N(d/2)
}

// signal sends a value on ch unless one is waiting there already.
func signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
