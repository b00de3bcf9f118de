package testpeers

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// tool is one Go program of a module of its own under tools/, built at most
// once per test binary into the user cache folder, in a folder named for
// the module and keyed by its go.mod and go.sum (buildModule), so a
// version change rebuilds it and nothing else does. A binary of its name
// in HALLMARK_TOOLS_BIN is used as it is.
type tool struct {
	name   string   // the binary's name
	module string   // the module's folder under tools/
	pkg    string   // the main package to build
	env    []string // added to the go command's environment

	once sync.Once
	bin  string
	err  error
}

// build returns the path of the binary, building it if the cache lacks it.
func (tl *tool) build() (string, error) {
	tl.once.Do(func() {
		if dir := os.Getenv("HALLMARK_TOOLS_BIN"); dir != "" {
			if p := filepath.Join(dir, tl.name); fileExists(p) {
				tl.bin = p
				return
			}
		}
		dir, err := buildModule(filepath.Join(moduleRoot(), "tools", tl.module), tl.module+"-", map[string]string{tl.name: tl.pkg}, tl.env)
		if err != nil {
			tl.err = err
			return
		}
		tl.bin = filepath.Join(dir, tl.name)
	})
	return tl.bin, tl.err
}

// path is build for a test, which fails if the tool cannot be built.
func (tl *tool) path(t testing.TB) string {
	t.Helper()
	p, err := tl.build()
	if err != nil {
		t.Fatalf("test peers: %s: %v", tl.name, err)
	}
	return p
}
