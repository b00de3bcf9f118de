package admission

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPolicyWithDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Policy
		want Policy
	}{
		{
			name: "zero",
			want: Policy{Mode: ModeDeny, ExcludeNamespaces: []string{"kube-system"}, Deadline: DefaultDeadline},
		},
		{
			name: "explicit empty exclusions stay empty",
			in:   Policy{Mode: ModeAudit, ExcludeNamespaces: []string{}, Deadline: time.Second},
			want: Policy{Mode: ModeAudit, ExcludeNamespaces: []string{}, Deadline: time.Second},
		},
		{
			name: "explicit exclusions replace the default",
			in:   Policy{ExcludeNamespaces: []string{"infra"}},
			want: Policy{Mode: ModeDeny, ExcludeNamespaces: []string{"infra"}, Deadline: DefaultDeadline},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.in.WithDefaults()); diff != "" {
				t.Errorf("WithDefaults() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name  string
		in    Policy
		wants []string // substrings, one per expected problem
	}{
		{name: "zero is valid"},
		{name: "full valid", in: Policy{
			Mode: ModeAudit, NamespaceModes: map[string]Mode{"prod": ModeDeny},
			IncludeNamespaces: []string{"prod"}, ExcludeNamespaces: []string{},
			ExemptImages: []string{"registry.k8s.io/**", "ghcr.io/org/tool:*"}, Deadline: time.Second,
		}},
		{
			name: "every problem at once",
			in: Policy{
				Mode:              "enforce",
				NamespaceModes:    map[string]Mode{"a": "warn", "": ModeDeny},
				IncludeNamespaces: []string{""},
				ExcludeNamespaces: []string{""},
				ExemptImages:      []string{"", "[", "**", "a/**/b", "/**"},
				Deadline:          -time.Second,
			},
			wants: []string{
				`mode "enforce"`,
				"namespaceModes: empty namespace name",
				`namespaceModes[a]: mode "warn"`,
				"includeNamespaces[0]",
				"excludeNamespaces[0]",
				"exemptImages[0]: empty pattern",
				"exemptImages[1]",
				"exemptImages[2]",
				"exemptImages[3]",
				"exemptImages[4]",
				"deadline -1s is negative",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if len(tt.wants) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("Validate() = %v, want ErrInvalidPolicy", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.wants) {
				t.Errorf("Validate() reported %d problems, want %d:\n%v", len(lines), len(tt.wants), err)
			}
			for _, want := range tt.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %v\nwant a problem containing %q", err, want)
				}
			}
		})
	}
}

func TestModeFor(t *testing.T) {
	p := Policy{Mode: ModeAudit, NamespaceModes: map[string]Mode{"prod": ModeDeny, "typo": "Audit"}}
	tests := []struct {
		ns   string
		want Mode
	}{
		{"team-a", ModeAudit},
		{"prod", ModeDeny},
		{"typo", ModeDeny}, // an unknown mode fails closed
	}
	for _, tt := range tests {
		t.Run(tt.ns, func(t *testing.T) {
			if got := p.ModeFor(tt.ns); got != tt.want {
				t.Errorf("ModeFor(%q) = %q, want %q", tt.ns, got, tt.want)
			}
		})
	}
	if got := (Policy{Mode: "nonsense"}).ModeFor("x"); got != ModeDeny {
		t.Errorf("ModeFor with an unknown default mode = %q, want deny", got)
	}
}

func TestSkipNamespace(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		ns   string
		want string
	}{
		{"default excludes kube-system", Policy{}.WithDefaults(), "kube-system", "namespace kube-system is excluded"},
		{"default verifies others", Policy{}.WithDefaults(), "default", ""},
		{"not included", Policy{IncludeNamespaces: []string{"prod"}}.WithDefaults(), "dev", "namespace dev is not included"},
		{"included", Policy{IncludeNamespaces: []string{"prod"}}.WithDefaults(), "prod", ""},
		{"exclusion wins over inclusion", Policy{IncludeNamespaces: []string{"prod"}, ExcludeNamespaces: []string{"prod"}}, "prod", "namespace prod is excluded"},
		{"empty exclusions verify kube-system", Policy{ExcludeNamespaces: []string{}}.WithDefaults(), "kube-system", ""},
		{"no namespace is verified under an inclusion list", Policy{IncludeNamespaces: []string{"prod"}}.WithDefaults(), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.skipNamespace(tt.ns); got != tt.want {
				t.Errorf("skipNamespace(%q) = %q, want %q", tt.ns, got, tt.want)
			}
		})
	}
}

func TestMatchImage(t *testing.T) {
	tests := []struct {
		pattern, image string
		want           bool
	}{
		{"registry.k8s.io/*", "registry.k8s.io/pause:3.9", true},
		{"registry.k8s.io/*", "registry.k8s.io/pause@sha256:abc", true},
		{"registry.k8s.io/*", "registry.k8s.io/coredns/coredns:v1.11.1", false}, // '*' stops at '/'
		{"registry.k8s.io/**", "registry.k8s.io/coredns/coredns:v1.11.1", true},
		{"registry.k8s.io/**", "registry.k8s.io/pause:3.9", true},
		{"registry.k8s.io/**", "registry.k8s.io", false},
		{"registry.k8s.io/**", "registry.k8s.io/", false},
		{"registry.k8s.io/**", "registry.k8s.io.evil.com/pause:3.9", false},
		{"registry.k8s.io/**", "evil.com/registry.k8s.io/pause:3.9", false},
		{"ghcr.io/org/*/**", "ghcr.io/org/team/app/x:v1", true},
		{"ghcr.io/org/*/**", "ghcr.io/org/app:v1", false},
		{"ghcr.io/org/tool:*", "ghcr.io/org/tool:v1", true},
		{"ghcr.io/org/tool:*", "ghcr.io/org/tool@sha256:abc", false},
		{"ghcr.io/org/tool:v?", "ghcr.io/org/tool:v1", true},
		{"ghcr.io/org/tool:v[12]", "ghcr.io/org/tool:v3", false},
		{"nginx*", "nginx:1.25", true},
		{"[", "[", false},          // malformed patterns match nothing
		{"a/**/b", "a/x/b", false}, // '**' only at the end
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.image, func(t *testing.T) {
			if got := MatchImage(tt.pattern, tt.image); got != tt.want {
				t.Errorf("MatchImage(%q, %q) = %v, want %v", tt.pattern, tt.image, got, tt.want)
			}
		})
	}
}

// TestExemptionCoversSpellings: an exemption written for a repository
// covers every spelling the container runtime pulls from it, and still
// nothing else.
func TestExemptionCoversSpellings(t *testing.T) {
	p := Policy{ExemptImages: []string{"docker.io/library/busybox*", "registry.k8s.io/pause*"}}.WithDefaults()
	for _, image := range []string{
		"docker.io/library/busybox:1.36",
		"docker.io/busybox:1.36",
		"index.docker.io/busybox:1.36",
		"registry-1.docker.io/library/busybox:1.36",
		"REGISTRY.k8s.io/pause:3.9",
		"registry.k8s.io:443/pause:3.9",
	} {
		if why := p.skip("default", image); why == "" {
			t.Errorf("%s: not exempt; want it to match its repository's exemption", image)
		}
	}
	for _, image := range []string{
		"docker.io/team/busybox:1.36",
		"registry.k8s.io:5000/pause:3.9",
		"evil.example/registry.k8s.io/pause:3.9",
	} {
		if why := p.skip("default", image); why != "" {
			t.Errorf("%s: %s; want it verified", image, why)
		}
	}
}
