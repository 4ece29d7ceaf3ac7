package content

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// reloadDelay gathers the burst of events one save produces (editors write a
// temporary file, rename it, touch the folder) into a single reload.
const reloadDelay = 100 * time.Millisecond

// maxReloadDelay caps how long a steady stream of changes (a build tool
// rewriting files in a loop) can put off a reload.
const maxReloadDelay = time.Second

// Watch is author mode. It loads the course in dir and calls fn with the
// course or the load error, then reloads after every change under dir
// (debounced, new folders included) and calls fn again. fn is called from one
// goroutine at a time. Watch returns nil when ctx ends, or an error if dir
// cannot be watched at all.
func Watch(ctx context.Context, dir string, logger *slog.Logger, fn func(*Course, error)) error {
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("watch course folder: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("watch course folder %s: not a directory", dir)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch course folder %s: %w", dir, err)
	}
	defer w.Close()
	// Watch before the first load, so that a change made while loading is
	// not missed.
	if err := watchTree(w, dir); err != nil {
		return fmt.Errorf("watch course folder %s: %w", dir, err)
	}

	fsys := os.DirFS(dir)
	reload := func() {
		start := time.Now()
		c, err := Load(fsys)
		if err != nil {
			logger.WarnContext(ctx, "course load failed", "dir", dir, "err", err)
		} else {
			logger.InfoContext(ctx, "course loaded", "dir", dir, "lessons", len(c.Lessons), "ms", time.Since(start).Milliseconds())
		}
		fn(c, err)
	}
	reload()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var pendingSince time.Time // zero when no reload is due
	schedule := func() {
		now := time.Now()
		if pendingSince.IsZero() {
			pendingSince = now
		}
		timer.Reset(min(reloadDelay, max(0, pendingSince.Add(maxReloadDelay).Sub(now))))
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("watch course folder: watcher closed")
			}
			if isHidden(dir, ev.Name) {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					// A new folder may already hold files (a copy, a
					// git checkout): watch it and everything below.
					if err := watchTree(w, ev.Name); err != nil {
						logger.WarnContext(ctx, "watch new folder", "dir", ev.Name, "err", err)
					}
				}
			}
			schedule()
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("watch course folder: watcher closed")
			}
			// An overflow loses events; reloading is always safe.
			logger.WarnContext(ctx, "course watcher", "dir", dir, "err", err)
			schedule()
		case <-timer.C:
			pendingSince = time.Time{}
			reload()
		}
	}
}

// watchTree adds dir and every folder below it, skipping hidden ones (.git
// changes constantly and is never course content).
func watchTree(w *fsnotify.Watcher, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // vanished while walking: its removal is an event anyway
		}
		if !d.IsDir() {
			return nil
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		return w.Add(p)
	})
}

// isHidden reports whether name is in or below a dot folder, or is a dot
// file (editor swap files), relative to the watched root.
func isHidden(root, name string) bool {
	rel, err := filepath.Rel(root, name)
	if err != nil {
		return false
	}
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if strings.HasPrefix(part, ".") && part != "." && part != ".." {
			return true
		}
	}
	return false
}
