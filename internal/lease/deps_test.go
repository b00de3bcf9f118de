package lease

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// heavy are the packages the election is written to avoid: client-go's
// leaderelection needs the typed clientset, whose scheme registers every
// built-in API type (about two thirds more binary for hallmark).
var heavy = []string{
	"k8s.io/client-go/kubernetes",
	"k8s.io/client-go/tools/leaderelection",
	"k8s.io/api/core/v1",
}

func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."}, heavy...)
}

// TestBinaryStaysLean checks the whole hallmark binary (which has cgo for
// PKCS#11, so deptest.Check does not apply) for the same packages.
func TestBinaryStaysLean(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../cmd/hallmark").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, h := range heavy {
			if pkg == h || strings.HasPrefix(pkg, h+"/") {
				t.Errorf("cmd/hallmark depends on %s", pkg)
			}
		}
	}
}
