package server

import (
	"context"
	"crypto/sha256"
	"io"
	"os"
	"time"
)

// WatchFiles calls onChange whenever the content of any of paths changes,
// checking every interval (zero or less means DefaultReloadInterval) until
// ctx is done. The CLI uses it to reload its configuration.
//
// It fingerprints the files before it returns and polls in a goroutine of its
// own, so a caller that calls WatchFiles and then loads the files cannot miss
// a change made in between: at worst it reloads content it already has.
//
// Content is hashed through the resolved path on every poll, which sees
// in-place writes, renames over the file and the directory-symlink swap
// Kubernetes uses to update ConfigMap and Secret mounts, none of which an
// inotify watch on the file alone reliably reports. A file that cannot be read
// (deleted, or caught in the middle of a swap) keeps its last fingerprint, so
// its disappearance alone triggers nothing; the next readable content that
// differs does. A file written in two steps may trigger onChange twice, and
// the loader must reject the half-written first version, as the config
// loader does.
//
// onChange runs on the polling goroutine, never concurrently with itself;
// polling resumes when it returns.
func WatchFiles(ctx context.Context, paths []string, interval time.Duration, onChange func()) {
	if interval <= 0 {
		interval = DefaultReloadInterval
	}
	paths = append([]string(nil), paths...)
	sums := make([]fileSum, len(paths))
	for i, p := range paths {
		sums[i] = sumFile(p)
	}
	go Poll(ctx, interval, func() {
		changed := false
		for i, p := range paths {
			s := sumFile(p)
			if !s.ok || s == sums[i] {
				continue
			}
			sums[i] = s
			changed = true
		}
		if changed && ctx.Err() == nil {
			onChange()
		}
	})
}

// Poll calls fn every interval until ctx is done, on the caller's
// goroutine: the one ticker behind every periodic check of the server and
// its runtime (file watches, trust refresh). fn never runs concurrently
// with itself; a slow fn delays the next call rather than piling them up.
func Poll(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// fileSum is a file's content hash; ok is false when it could not be read.
type fileSum struct {
	sum [sha256.Size]byte
	ok  bool
}

// sumFile hashes a file's content, streaming it so a large file costs no
// memory.
func sumFile(path string) fileSum {
	f, err := os.Open(path)
	if err != nil {
		return fileSum{}
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fileSum{}
	}
	var s fileSum
	h.Sum(s.sum[:0])
	s.ok = true
	return s
}
