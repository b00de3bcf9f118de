// Package capped reads files and streams under a size cap. Every file hallmark
// reads (policies, certificates, keys, configuration) has a known upper size;
// a larger one is the wrong file or an attack, and is refused before it is
// held in memory.
package capped

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLarge is returned, wrapped, for input over the cap.
var ErrTooLarge = errors.New("larger than allowed")

// Read reads all of r, refusing more than max bytes. It reads one byte past
// the cap to tell input that fits exactly from input that does not.
func Read(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, max)
	}
	return data, nil
}

// ReadFile reads the file at path, refusing one over max bytes; the error
// names the path.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := Read(f, max)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}
