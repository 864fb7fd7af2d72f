package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berthhq/berth/internal/config"
)

// policyProject writes a berth.yaml and compose.yaml and returns Globals
// pointing at them, output captured.
func policyProject(t *testing.T, compose string, format string) (*Globals, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"berth.yaml": "app: shop\n", "compose.yaml": compose} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := &bytes.Buffer{}
	return &Globals{File: filepath.Join(dir, "berth.yaml"), Format: format, Stdout: out, Stderr: out}, out
}

// TestPolicyCheckSARIFLines: each result sits at its service's line in
// the compose file (before: every result at line 1).
func TestPolicyCheckSARIFLines(t *testing.T) {
	g, out := policyProject(t, `services:
  web:
    image: shop:1.0
    privileged: true

  worker:
    image: shop:1.0
`, "sarif")
	err := runPolicyCheck(context.Background(), g, "")
	if ExitCode(err) != ExitPolicy {
		t.Errorf("exit %d (%v), want %d for a privileged service", ExitCode(err), err, ExitPolicy)
	}
	var doc struct {
		Runs []struct {
			Results []struct {
				RuleID    string
				Message   struct{ Text string }
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine, StartColumn int }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("not SARIF: %v\n%s", err, out)
	}
	lines := map[string]int{"web": 2, "worker": 6}
	n := 0
	for _, r := range doc.Runs[0].Results {
		svc, _, _ := strings.Cut(r.Message.Text, ":")
		loc := r.Locations[0].PhysicalLocation
		if want := lines[svc]; loc.Region.StartLine != want || loc.Region.StartColumn != 3 || !strings.HasSuffix(loc.ArtifactLocation.URI, "compose.yaml") {
			t.Errorf("%s %s at %s:%d:%d, want compose.yaml:%d:3", svc, r.RuleID, loc.ArtifactLocation.URI, loc.Region.StartLine, loc.Region.StartColumn, want)
		}
		n++
	}
	if n == 0 {
		t.Fatalf("no results:\n%s", out)
	}
}

// TestPolicyCheckUnplannableService: a service whose container berth
// cannot plan (a secret it cannot mount) is a configuration error at the
// service's position in the compose file, from policy check and validate
// alike (before: validate said valid, and policy check failed with exit 1
// and no position). A secret whose file: is missing is config's to report,
// at its file: line, when the compose file is loaded.
func TestPolicyCheckUnplannableService(t *testing.T) {
	compose := "services:\n  web:\n    image: shop:1.0\n    secrets: [db_password]\nsecrets:\n  db_password:\n    external: true\n"
	g, _ := policyProject(t, compose, "text")
	want := regexp.MustCompile(`compose\.yaml:[1-9][0-9]*:[1-9][0-9]*: .*db_password`)
	err := runPolicyCheck(context.Background(), g, "")
	if err == nil || ExitCode(err) != ExitConfig || !want.MatchString(err.Error()) {
		t.Errorf("policy check: exit %d, %v; want exit %d, positioned, naming db_password", ExitCode(err), err, ExitConfig)
	}
	// validate says invalid, with the same position (its exit code is
	// docs/exit-codes.md's, whichever the table gives it).
	err = runValidate(context.Background(), g)
	if err == nil || !config.IsConfigError(err) || !want.MatchString(err.Error()) {
		t.Errorf("validate: %v; want a configuration error, positioned, naming db_password", err)
	}
}

// TestPolicyExplainSplitSeverity: a rule whose findings differ in severity
// says what each does under the policy.
func TestPolicyExplainSplitSeverity(t *testing.T) {
	g, out := policyProject(t, "services:\n  web:\n    image: shop:1.0\n", "text")
	if err := runPolicyExplain(g, "secret-in-env"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "in this policy: blocks at high, warns at medium") {
		t.Errorf("explain secret-in-env:\n%s", out)
	}
}
