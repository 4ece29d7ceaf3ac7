package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
)

// ErrLocked means another process holds the named lock.
var ErrLocked = errors.New("held by another process")

// TryLock takes the named lock for as long as this process keeps it (until
// release, or until the process dies: the lock lives in its own database
// session, which PostgreSQL ends when the connection drops). ErrLocked when
// another process holds it. On SQLite it always succeeds at once: a SQLite
// database is served from one data folder, and the folder's own file lock
// (cloud/codepkg) already keeps a second process out.
func (db *DB) TryLock(ctx context.Context, name string) (release func(), err error) {
	if db.dialect != postgresDialect {
		return func() {}, nil
	}
	h := fnv.New64a()
	h.Write([]byte("lambdalab lock " + name))
	key := int64(h.Sum64())
	c, err := db.conn.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	var got bool
	if err := c.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
		c.Close()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if !got {
		c.Close()
		return nil, fmt.Errorf("lock %s: %w", name, ErrLocked)
	}
	return func() {
		c.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key)
		c.Close()
	}, nil
}
