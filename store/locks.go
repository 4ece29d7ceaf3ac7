package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"
)

// ErrLocked means another process holds the named lock.
var ErrLocked = errors.New("held by another process")

// lockCheckEvery is how often a held lock's session is checked. A holder
// learns it has lost the lock at most this long (plus the round trip)
// after its connection broke.
const lockCheckEvery = time.Second

// Lock is a named lock this process holds: a PostgreSQL session advisory
// lock, held by one connection kept for it alone.
type Lock struct {
	conn    *sql.Conn // nil on SQLite
	key     int64
	lost    chan struct{}
	stop    chan struct{}
	once    sync.Once
	checker sync.WaitGroup
}

// TryLock takes the named lock for as long as this process keeps it (until
// Release, or until the process dies: the lock lives in its own database
// session, which PostgreSQL ends when the connection drops). ErrLocked when
// another process holds it. On SQLite it always succeeds at once: a SQLite
// database is served from one data folder, and the folder's own file lock
// (cloud/codepkg) already keeps a second process out.
func (db *DB) TryLock(ctx context.Context, name string) (*Lock, error) {
	return db.lock(ctx, name, "SELECT pg_try_advisory_lock($1)")
}

// WaitLock is TryLock that waits, for as long as ctx allows, until the
// holder releases the lock or dies. The database wakes the waiter the
// moment the holder's session ends, so a standby learns at once.
func (db *DB) WaitLock(ctx context.Context, name string) (*Lock, error) {
	return db.lock(ctx, name, "SELECT pg_advisory_lock($1) IS NOT NULL")
}

func (db *DB) lock(ctx context.Context, name, query string) (*Lock, error) {
	l := &Lock{lost: make(chan struct{}), stop: make(chan struct{})}
	if db.dialect != postgresDialect {
		return l, nil
	}
	h := fnv.New64a()
	h.Write([]byte("lambdalab lock " + name))
	l.key = int64(h.Sum64())
	c, err := db.conn.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	var got bool
	if err := c.QueryRowContext(ctx, query, l.key).Scan(&got); err != nil {
		c.Close()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if !got {
		c.Close()
		return nil, fmt.Errorf("lock %s: %w", name, ErrLocked)
	}
	l.conn = c
	l.checker.Add(1)
	go l.check(context.WithoutCancel(ctx))
	return l, nil
}

// Lost is closed when the lock's session has ended while held (the
// connection broke, the server restarted, an operator ended it): another
// process may hold the lock now, so its holder must stop doing what the
// lock guarded. On SQLite it is never closed.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// check asks the lock's own session, now and then, whether it is still
// there. Only a broken or ended session loses the lock; an answer slower
// than the check's timeout counts as broken.
func (l *Lock) check(ctx context.Context) {
	defer l.checker.Done()
	t := time.NewTicker(lockCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		// The session holds the lock until it ends (nothing but this Lock
		// unlocks it), so a session that still answers still holds it.
		qctx, cancel := context.WithTimeout(ctx, 10*lockCheckEvery)
		_, err := l.conn.ExecContext(qctx, "SELECT 1")
		cancel()
		select {
		case <-l.stop:
			return // released meanwhile: whatever the answer, not a loss
		default:
		}
		if err != nil {
			close(l.lost)
			return
		}
	}
}

// Release gives the lock up. It is safe to call more than once, and after
// the lock was lost.
func (l *Lock) Release() {
	l.once.Do(func() {
		close(l.stop)
		l.checker.Wait()
		if l.conn == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l.conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", l.key)
		l.conn.Close()
	})
}
