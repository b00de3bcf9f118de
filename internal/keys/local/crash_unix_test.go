//go:build unix

package local

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const (
	crashDirEnv   = "HALLMARK_TEST_CRASH_DIR"
	crashStageEnv = "HALLMARK_TEST_CRASH_STAGE"
)

// TestCrashDuringWrite kills a process (SIGKILL, so no deferred cleanup
// runs) at each stage of writing a new version, then checks the store as
// the next process finds it. The test binary plays the child when the
// environment says so.
func TestCrashDuringWrite(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(t, dir, os.Getenv(crashStageEnv))
		return
	}
	ctx := context.Background()
	for _, stage := range []string{"wrote cert.pem", "wrote key.enc", "wrote meta.json", "before rename"} {
		t.Run(stage, func(t *testing.T) {
			s := testStore(t, "pw")
			v1 := mustCreate(t, s, "k", ecDoc)

			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDuringWrite$")
			cmd.Env = append(os.Environ(), crashDirEnv+"="+s.Dir(), crashStageEnv+"="+stage)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed at %q: %v\n%s", stage, err, out)
			}

			list, err := s.List(ctx)
			if err != nil || len(list) != 1 || list[0].Version != "1" {
				t.Fatalf("after the crash List = %v, %v; want only k/1", list, err)
			}
			k := mustSigner(t, openAt(t, s.Dir(), "pw", nil), "k")
			if !k.Chain[0].Equal(v1.Chain[0]) {
				t.Fatal("version 1 changed")
			}
			checkSigns(t, k)
			// The crash left a temporary directory, which readers ignored.
			entries, _ := os.ReadDir(filepath.Join(s.Dir(), keysDir, "k"))
			temps := 0
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), tempPrefix) {
					temps++
				}
			}
			if temps != 1 {
				t.Errorf("found %d temporary directories; want the crashed one", temps)
			}
			if info, err := s.Rotate(ctx, "k", nil); err != nil || info.Version != "2" {
				t.Fatalf("Rotate after the crash = %v, %v; want version 2", info.Version, err)
			}
		})
	}
}

// crashChild rotates key k and dies at the given stage.
func crashChild(t *testing.T, dir, stage string) {
	writeHook = func(at string) error {
		if at == stage {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
		return nil
	}
	s, err := Open(dir, Options{Passphrase: []byte("pw")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Rotate(context.Background(), "k", nil)
	t.Fatalf("Rotate returned (%v) instead of dying at %q", err, stage)
}
