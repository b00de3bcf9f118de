package server

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestWatchFiles changes watched files between two polls on a fake clock and
// counts the onChange calls one poll later.
func TestWatchFiles(t *testing.T) {
	const interval = time.Second
	tests := []struct {
		name   string
		change func(t *testing.T, sd *secretDir, plain string)
		want   int32
	}{
		{"unchanged", func(*testing.T, *secretDir, string) {}, 0},
		{"rewritten with the same content", func(t *testing.T, _ *secretDir, plain string) {
			writeFile(t, plain, []byte("a: 1\n"))
		}, 0},
		{"plain file rewritten", func(t *testing.T, _ *secretDir, plain string) {
			writeFile(t, plain, []byte("a: 2\n"))
		}, 1},
		{"plain file replaced by rename", func(t *testing.T, _ *secretDir, plain string) {
			tmp := plain + ".tmp"
			writeFile(t, tmp, []byte("a: 2\n"))
			if err := os.Rename(tmp, plain); err != nil {
				t.Fatal(err)
			}
		}, 1},
		{"ConfigMap symlink swap", func(_ *testing.T, sd *secretDir, _ string) {
			sd.update(map[string][]byte{"config.yaml": []byte("b: 2\n")})
		}, 1},
		{"both files change in one interval", func(t *testing.T, sd *secretDir, plain string) {
			sd.update(map[string][]byte{"config.yaml": []byte("b: 2\n")})
			writeFile(t, plain, []byte("a: 2\n"))
		}, 1},
		{"plain file removed", func(t *testing.T, _ *secretDir, plain string) {
			if err := os.Remove(plain); err != nil {
				t.Fatal(err)
			}
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sd := newSecretDir(t, map[string][]byte{"config.yaml": []byte("b: 1\n")})
				plain := filepath.Join(t.TempDir(), "policy.yaml")
				writeFile(t, plain, []byte("a: 1\n"))

				var calls atomic.Int32
				WatchFiles(t.Context(), []string{sd.path("config.yaml"), plain}, interval, func() { calls.Add(1) })
				time.Sleep(interval / 2)
				tt.change(t, sd, plain)
				time.Sleep(interval)
				synctest.Wait()
				if got := calls.Load(); got != tt.want {
					t.Errorf("onChange called %d times, want %d", got, tt.want)
				}
				// A change is reported once, not on every poll.
				time.Sleep(5 * interval)
				synctest.Wait()
				if got := calls.Load(); got != tt.want {
					t.Errorf("onChange called %d times after more polls, want %d", got, tt.want)
				}
			})
		})
	}
}

// TestWatchFilesSequence follows one file through removal, a return with the
// old content, and a return with new content, and checks that nothing is
// reported after ctx is done.
func TestWatchFilesSequence(t *testing.T) {
	const interval = time.Second
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "config.yaml")
		ctx, cancel := context.WithCancel(t.Context())
		var calls atomic.Int32
		// The file does not exist yet: its appearance is a change.
		WatchFiles(ctx, []string{path}, interval, func() { calls.Add(1) })
		time.Sleep(interval / 2)

		steps := []struct {
			name   string
			change func()
			want   int32
		}{
			{"created", func() { writeFile(t, path, []byte("v1")) }, 1},
			{"removed", func() { os.Remove(path) }, 1},
			{"back with the same content", func() { writeFile(t, path, []byte("v1")) }, 1},
			{"new content", func() { writeFile(t, path, []byte("v2")) }, 2},
			{"changed after ctx is done", func() { cancel(); writeFile(t, path, []byte("v3")) }, 2},
		}
		for _, st := range steps {
			st.change()
			time.Sleep(interval)
			synctest.Wait()
			if got := calls.Load(); got != st.want {
				t.Errorf("after %s: onChange called %d times, want %d", st.name, got, st.want)
			}
		}
	})
}
