package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/keys"
)

// tempPrefix starts the name of a version being written. Key names cannot
// start with '.', so a temporary directory never looks like a key or a
// version, and readers skip it without needing to know about it.
const tempPrefix = ".tmp-"

// staleTempAge is how old a temporary directory must be before a writer
// removes it. A version is written in milliseconds (the key is generated
// before the directory is made), so an hour-old one was left by a crash and
// never by a writer still at work.
const staleTempAge = time.Hour

// writeHook, when set by a test, runs at each stage of writing a version
// ("wrote cert.pem", "wrote key.enc", "wrote meta.json", "before rename").
// An error from it aborts the write as a failed disk would; a test can also
// kill the process there to simulate a crash.
var writeHook func(stage string) error

// errVersionTaken means another writer committed the same version first.
var errVersionTaken = errors.New("version already exists")

type namedFile struct {
	name string
	data []byte
}

// commitVersion writes a version atomically: every file goes into a fresh
// temporary directory inside nameDir and is synced, then the directory is
// renamed to its version and nameDir is synced. A crash leaves either the
// whole version or none of it (plus a temporary directory readers ignore).
// rename(2) refuses to replace a non-empty directory, so of two writers of
// the same version exactly one succeeds; the other gets errVersionTaken.
func commitVersion(nameDir, version string, files []namedFile) (err error) {
	tmp, err := os.MkdirTemp(nameDir, tempPrefix) // mode 0700
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			os.RemoveAll(tmp)
		}
	}()
	for _, f := range files {
		if err := writeFileSync(filepath.Join(tmp, f.name), f.data); err != nil {
			return err
		}
		if err := runHook("wrote " + f.name); err != nil {
			return err
		}
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	if err := runHook("before rename"); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(nameDir, version)); err != nil {
		// EEXIST and ENOTEMPTY both match fs.ErrExist.
		if errors.Is(err, fs.ErrExist) {
			return errVersionTaken
		}
		return err
	}
	committed = true
	return syncDir(nameDir)
}

func runHook(stage string) error {
	if writeHook == nil {
		return nil
	}
	return writeHook(stage)
}

// writeFileSync creates a new 0600 file with data and syncs it to disk.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes a directory's entries durable, so a rename or a new file in
// it survives a power cut.
func syncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}

// ensureDir creates a 0700 directory if it is missing and syncs its parent
// so the new entry is durable.
func ensureDir(path string) error {
	err := os.Mkdir(path, 0o700)
	switch {
	case errors.Is(err, fs.ErrExist):
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", path)
		}
		return nil
	case err != nil:
		return err
	}
	return syncDir(filepath.Dir(path))
}

// removeStaleTemps removes temporary directories left in nameDir by
// writers that crashed. Failures are ignored: a leftover directory is
// harmless, and the write that called this must not fail because of one.
func removeStaleTemps(nameDir string) {
	entries, err := os.ReadDir(nameDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTempAge {
			os.RemoveAll(filepath.Join(nameDir, e.Name()))
		}
	}
}

// readCapped reads a file of at most max bytes; a larger one is reported
// as damaged, since this store never writes one.
func readCapped(path string, max int64) ([]byte, error) {
	data, err := capped.ReadFile(path, max)
	if errors.Is(err, capped.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %v", keys.ErrCorrupt, err)
	}
	return data, err
}
