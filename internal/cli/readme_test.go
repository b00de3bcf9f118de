package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/proctest"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// walkthroughBlocks returns the shell blocks between the README's
// walkthrough markers, in order.
func walkthroughBlocks(readme string) ([]string, error) {
	start := strings.Index(readme, "<!-- walkthrough -->")
	end := strings.Index(readme, "<!-- /walkthrough -->")
	if start < 0 || end < start {
		return nil, fmt.Errorf("README.md has no <!-- walkthrough --> ... <!-- /walkthrough --> section")
	}
	re := regexp.MustCompile("(?s)```sh\n(.*?)```")
	var blocks []string
	for _, m := range re.FindAllStringSubmatch(readme[start:end], -1) {
		blocks = append(blocks, m[1])
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("the README's walkthrough section has no sh block")
	}
	return blocks, nil
}

// TestReadmeWalkthrough runs the README's walkthrough as a reader pastes
// it: every shell block in order, in one bash, from the clone, in a fresh
// HOME. Only the registry's port changes, to a free one. It builds hallmark,
// the distribution registry and oras as the README says (from tools/, the
// same module the test peers come from), so the README cannot drift from
// what works.
func TestReadmeWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hallmark and the registry, and runs the README walkthrough")
	}
	// The peers' build fills the Go build cache the README's builds then use.
	testpeers.Path(t, "registry")
	root := proctest.ModuleRoot()
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := walkthroughBlocks(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	host := fmt.Sprintf("127.0.0.1:%d", testpeers.FreePort(t))
	script := "set -euo pipefail\n" + strings.ReplaceAll(strings.Join(blocks, "\n"), "127.0.0.1:5000", host)

	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	goEnv := func(name string) string {
		out, err := exec.Command("go", "env", name).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", name, err)
		}
		return strings.TrimSpace(string(out))
	}
	// A fresh HOME, but the Go caches of this machine, so that the builds
	// neither download every module again nor compile from scratch.
	env := proctest.Environ(
		[]string{"HOME", "HALLMARK_HOME", "HALLMARK_PASSPHRASE", "DOCKER_CONFIG", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "KUBECONFIG", "NOTATION_CONFIG", "GOCACHE", "GOMODCACHE", "GOPATH"},
		"HOME="+home, "GOCACHE="+goEnv("GOCACHE"), "GOMODCACHE="+goEnv("GOMODCACHE"), "GOPATH="+filepath.Join(dir, "gopath"))

	before := topLevel(t, root)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = root
	cmd.Env = env
	// The registry runs in the background: stop everything the script
	// started, whatever happens.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Start()
	if err == nil {
		t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
		err = cmd.Wait()
	}
	text := out.String()
	if err != nil {
		t.Fatalf("the README walkthrough failed: %v\n%s", err, text)
	}
	for _, want := range []string{"Signature manifest: sha256:", "Using hallmark's trust policy", "PASS " + host + "/net-monitor:v1"} {
		if !strings.Contains(text, want) {
			t.Errorf("the walkthrough's output lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "PASS "); n != 2 {
		t.Errorf("the walkthrough verifies twice; %d PASS lines:\n%s", n, text)
	}
	for _, unwanted := range []string{"Warning", "WARNING", "level=", "msg="} {
		if strings.Contains(text, unwanted) {
			t.Errorf("the walkthrough's output has %q (a warning, or registry logs):\n%s", unwanted, text)
		}
	}
	if after := topLevel(t, root); !slices.Equal(before, after) {
		t.Errorf("the walkthrough wrote into the clone:\nbefore %v\nafter  %v", before, after)
	}
}

// topLevel lists the names in dir.
func topLevel(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestWalkthroughBlocks: the extraction finds every block of the section
// and none outside it, so a block cannot silently drop out of the test.
func TestWalkthroughBlocks(t *testing.T) {
	readme := "```sh\nbefore\n```\n<!-- walkthrough -->\n```sh\none\n```\ntext\n```sh\ntwo\nlines\n```\n<!-- /walkthrough -->\n```sh\nafter\n```\n"
	got, err := walkthroughBlocks(readme)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"one\n", "two\nlines\n"}; !slices.Equal(got, want) {
		t.Fatalf("blocks = %q, want %q", got, want)
	}
	if _, err := walkthroughBlocks("```sh\nx\n```\n"); err == nil {
		t.Fatal("a README without markers gave no error")
	}
	data, err := os.ReadFile(filepath.Join(proctest.ModuleRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := walkthroughBlocks(string(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) < 4 {
		t.Fatalf("the README's walkthrough has %d sh blocks, want at least 4", len(blocks))
	}
}
