package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthhq/berth/internal/testenv"
)

func berthIn(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(testenv.Berth(t), args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

// guard install shows the change and makes it only with --yes; uninstall
// takes it back; a daemon.json berth cannot read is left alone.
func TestGuardInstall(t *testing.T) {
	dir := t.TempDir()
	daemon := filepath.Join(dir, "daemon.json")
	unit := filepath.Join(dir, "berth-guard.service")
	orig := "{\n  \"log-driver\": \"local\",\n  \"live-restore\": true\n}\n"
	write(t, daemon, orig)
	args := []string{"guard", "install", "--daemon-json", daemon, "--unit-file", unit, "--policy", "/etc/berth/policy.yaml"}

	out, code := berthIn(t, dir, args...)
	if code != 0 || !strings.Contains(out, `+   "authorization-plugins": ["berth"]`) || !strings.Contains(out, "nothing was changed") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(daemon); string(b) != orig {
		t.Fatal("the dry run changed daemon.json")
	}
	if _, err := os.Stat(unit); err == nil {
		t.Fatal("the dry run wrote the unit")
	}

	out, code = berthIn(t, dir, append(args, "--yes")...)
	if code != 0 || !strings.Contains(out, "previous file kept as") {
		t.Fatalf("install --yes: exit %d\n%s", code, out)
	}
	var cfg map[string]any
	b, _ := os.ReadFile(daemon)
	if err := json.Unmarshal(b, &cfg); err != nil || cfg["log-driver"] != "local" || cfg["live-restore"] != true {
		t.Fatalf("daemon.json after install: %s (%v)", b, err)
	}
	if ps, _ := cfg["authorization-plugins"].([]any); len(ps) != 1 || ps[0] != "berth" {
		t.Fatalf("authorization-plugins: %v", cfg["authorization-plugins"])
	}
	if u, err := os.ReadFile(unit); err != nil || !strings.Contains(string(u), `guard -f "/etc/berth/policy.yaml" --name berth`) {
		t.Fatalf("unit: %s %v", u, err)
	}
	backups, _ := filepath.Glob(daemon + ".berth-*.bak")
	if len(backups) != 1 {
		t.Fatalf("backups: %v", backups)
	}
	if bb, _ := os.ReadFile(backups[0]); string(bb) != orig {
		t.Fatal("the backup is not the original file")
	}

	// Installing again changes nothing.
	out, code = berthIn(t, dir, append(args, "--yes", "--format", "json")...)
	if code != 0 || strings.Contains(out, `"changed": true`) {
		t.Fatalf("second install: exit %d\n%s", code, out)
	}

	// Uninstall: back to the user's file, key for key.
	out, code = berthIn(t, dir, "guard", "uninstall", "--daemon-json", daemon, "--unit-file", unit, "--yes")
	if code != 0 {
		t.Fatalf("uninstall: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(daemon); string(b) != orig {
		t.Fatalf("after uninstall daemon.json is\n%s\nwant\n%s", b, orig)
	}

	// A daemon.json with comments is not JSON to dockerd: error, untouched.
	bad := "{\n  // mine\n  \"debug\": true\n}\n"
	write(t, daemon, bad)
	out, code = berthIn(t, dir, append(args, "--yes")...)
	if code != 2 || !strings.Contains(out, "line 2") || !strings.Contains(out, "fix:") {
		t.Fatalf("commented daemon.json: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(daemon); string(b) != bad {
		t.Fatal("a daemon.json berth could not read was changed")
	}
}

// A policy file that does not load stops the guard before it listens, with
// the file, line and column.
func TestGuardBadPolicy(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "policy.yaml"), "custom:\n  - id: x\n    violation: spec.privilegd\n    message: m\n")
	out, code := berthIn(t, dir, "guard", "-f", "policy.yaml", "--socket", filepath.Join(dir, "g.sock"))
	if code != 2 || !strings.Contains(out, "policy.yaml:3:20") || !strings.Contains(out, "privilegd") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "g.sock")); err == nil {
		t.Fatal("the guard listened with a policy that does not load")
	}
}
