package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthhq/berth/internal/config"
)

func loadPolicyFile(t *testing.T, body string) (Policy, error) {
	t.Helper()
	dir := t.TempDir()
	f := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.LoadPolicy(f)
	if err != nil {
		return Policy{}, err
	}
	return FromConfig(c)
}

// TestPolicyFileBadInput: every mistake in a policy file is an error that
// names the file, line and column, and none of them loads a policy.
func TestPolicyFileBadInput(t *testing.T) {
	cases := []struct {
		name, body string
		want       []string
	}{
		{"not yaml", "mode: [enforce\n", []string{"policy.yaml:"}},
		{"unknown key", "mode: enforce\nwaviers: []\n", []string{":2:1:", `unknown key "waviers"`, "waivers"}},
		{"bad mode", "mode: block\n", []string{":1:7:", `"block" is not allowed`, "enforce, warn, off"}},
		{"waiver without reason", "waivers:\n  - rule: privileged\n    service: web\n", []string{":2:5:", "a waiver needs a reason"}},
		{"waiver for unknown rule", "waivers:\n  - rule: privilegd\n    service: web\n    reason: r\n", []string{":2:5:", "waiver for unknown rule privilegd"}},
		{"unknown rule mode", "rules:\n  host-pdi: off\n", []string{":2:3:", "unknown rule host-pdi"}},
		{"cel typo", "custom:\n  - id: x\n    violation: spec.privilegd\n    message: m\n", []string{":3:20:", "undefined field 'privilegd'"}},
		{"cel syntax", "custom:\n  - id: x\n    violation: 'spec.user == '\n    message: m\n", []string{":3:", "CEL:"}},
		{"cel not bool", "custom:\n  - id: x\n    violation: spec.memory\n    message: m\n", []string{"not a bool"}},
		{"custom without message", "custom:\n  - id: x\n    violation: spec.privileged\n", []string{":2:5:", "needs a message"}},
		{"custom taking a built-in ID", "custom:\n  - id: privileged\n    violation: spec.privileged\n    message: m\n", []string{"already taken"}},
		{"custom bad id", "custom:\n  - id: No Spaces\n    violation: spec.privileged\n    message: m\n", []string{"not a valid rule ID"}},
		{"guard not a boolean", "waivers:\n  - rule: privileged\n    service: web\n    reason: r\n    guard: maybe\n", []string{":5:12:"}},
		{"bad registry", "registries: ['not a registry']\n", []string{"is not a registry"}},
		{"bad severity", "custom:\n  - id: x\n    severity: urgent\n    violation: spec.privileged\n    message: m\n", []string{`"urgent" is not allowed`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadPolicyFile(t, c.body)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !config.IsConfigError(err) {
				t.Errorf("error %T is not a config error (exit code 2)", err)
			}
		})
	}
}

func TestPolicyFileLoads(t *testing.T) {
	p, err := loadPolicyFile(t, `
mode: enforce
threshold: medium
registries: [registry.internal:5000, ghcr.io/acme]
rules:
  no-healthcheck: off
custom:
  - id: team-label
    severity: high
    violation: '!("team" in spec.labels)'
    message: has no team label
waivers:
  - rule: team-label
    container: legacy
    reason: nobody owns it yet
    guard: true
`)
	if err != nil {
		t.Fatal(err)
	}
	if p.Threshold != Medium || len(p.Custom) != 1 || len(p.Registries) != 2 || p.Rules["no-healthcheck"] != Off || len(p.Waivers) != 1 || !p.Waivers[0].Guard {
		t.Fatalf("policy = %+v", p)
	}
	fs := p.Evaluate(&Spec{Name: "x", Image: "docker.io/library/nginx:1.27"})
	var rules []string
	for _, f := range fs {
		rules = append(rules, f.Rule)
	}
	for _, want := range []string{"team-label", "registry-not-allowed"} {
		if !strings.Contains(strings.Join(rules, ","), want) {
			t.Errorf("findings %v lack %s", rules, want)
		}
	}
	if strings.Contains(strings.Join(rules, ","), "no-healthcheck") {
		t.Error("no-healthcheck is off but reported")
	}
}

func TestNormalizeRepository(t *testing.T) {
	cases := map[string]string{
		"nginx":                             "docker.io/library/nginx",
		"nginx:1.27":                        "docker.io/library/nginx",
		"acme/app:2":                        "docker.io/acme/app",
		"docker.io/nginx":                   "docker.io/library/nginx",
		"index.docker.io/acme/app":          "docker.io/acme/app",
		"ghcr.io/acme/app@sha256:abcd":      "ghcr.io/acme/app",
		"registry.internal:5000/shop/web:1": "registry.internal:5000/shop/web",
		"localhost/app":                     "localhost/app",
		"localhost:5000/app:v1":             "localhost:5000/app",
	}
	for in, want := range cases {
		if got := NormalizeRepository(in); got != want {
			t.Errorf("NormalizeRepository(%q) = %q, want %q", in, got, want)
		}
	}
	p := Default()
	p.Registries = []string{"ghcr.io/acme", "registry.internal:5000"}
	for img, allowed := range map[string]bool{
		"ghcr.io/acme/app:1": true, "ghcr.io/acmeevil/app:1": false, "registry.internal:5000/x:1": true,
		"registry.internal/x:1": false, "nginx:1.27": false, "sha256:" + strings.Repeat("a", 64): true,
	} {
		found := false
		for _, f := range p.Evaluate(&Spec{Image: img}) {
			found = found || f.Rule == "registry-not-allowed"
		}
		if found == allowed {
			t.Errorf("image %s: registry-not-allowed fired=%v, want allowed=%v", img, found, allowed)
		}
	}
}

// Compile errors are placed where the file shows them, or, where the YAML
// style makes the column unknowable, where the expression starts with the
// position inside it.
func TestCELErrorPositions(t *testing.T) {
	for _, c := range []struct {
		name, violation string
		want            []string
	}{
		{"plain", "violation: spec.usr == \"\"", []string{"policy.yaml:3:20:", "undefined field 'usr'"}},
		{"single-quoted", "violation: 'spec.usr == \"\"'", []string{"policy.yaml:3:21:"}},
		{"double-quoted with an escape", `violation: "spec.image == \"x\" && spec.usr == \"\""`, []string{"policy.yaml:3:16:", "expression line 1, column"}},
		{"literal block", "violation: |\n      spec.privileged ||\n        spec.usr == \"\"", []string{"policy.yaml:5:", "expression line 2, column 7"}},
		{"folded block", "violation: >\n      spec.privileged ||\n        spec.usr == \"\"", []string{"policy.yaml:3:16:", "expression line"}},
		{"wrapped plain", "violation: spec.privileged ||\n      spec.usr == \"\"", []string{"policy.yaml:3:16:", "expression line 1, column 24"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadPolicyFile(t, "custom:\n  - id: x\n    "+c.violation+"\n    message: m\n")
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
