package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/testenv"
)

type auditOut struct {
	Results []struct {
		ID, Target, Status, Reason string
	}
	Incomplete []string
}

func runAudit(t *testing.T, dir string, args ...string) (auditOut, int, string) {
	t.Helper()
	out, code := berthIn(t, dir, append([]string{"audit", "--format", "json"}, args...)...)
	var a auditOut
	// stderr follows the JSON document: decode the first value only.
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&a); err != nil {
		t.Fatalf("berth audit %v: exit %d, not JSON: %v\n%s", args, code, err, out)
	}
	return a, code, out
}

// failures lists "ID target status" for every fail and warn, sorted: the
// shape of the golden file.
func failures(a auditOut) []string {
	var out []string
	for _, r := range a.Results {
		if r.Status == "fail" || r.Status == "warn" {
			out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s %s", r.Status, r.ID, r.Target)))
		}
	}
	slices.Sort(out)
	return out
}

// TestAuditBadEngineThenSetup starts a second dockerd with deliberately bad
// settings (no log rotation, icc on, an insecure registry, the API on TCP
// without TLS, experimental on), runs containers with known
// misconfigurations, and checks that the audit reports exactly the expected
// failures (testdata/audit-bad-engine.golden); then `berth setup --yes` and
// a restart turn the engine checks setup covers to pass.
func TestAuditBadEngineThenSetup(t *testing.T) {
	badArgs := []string{"--insecure-registry=10.213.0.250:5000", "--experimental", "-H", "tcp://0.0.0.0:2375"}
	eng := testenv.StartEngine(t, testenv.ExtraEngineOptions{Args: append([]string{"--icc=true"}, badArgs...)})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const image = "berth-audit/app:1.0"
	testenv.AppImage(t, eng.Client(t), image)
	for _, args := range [][]string{
		// This sandbox cannot start a privileged container: created is enough,
		// the audit judges every container in any state.
		{"create", "--name", "bad-privileged", "--privileged", image},
		{"run", "-d", "--name", "bad-host-root", "--user", "10001", "-v", "/:/host:ro", image},
		{"run", "-d", "--name", "plain", image},
	} {
		if out, err := eng.Docker(ctx, args...); err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
	}
	dir := t.TempDir() // no berth.yaml: the audit takes -H
	tcp := "tcp://" + eng.Addr + ":2375"
	a, code, raw := runAudit(t, dir, "engine", "containers", "-H", tcp)
	if code != 7 {
		t.Errorf("audit of a bad engine: exit %d, want 7\n%s", code, raw)
	}
	got := failures(a)
	golden := filepath.Join("testdata", "audit-bad-engine.golden")
	if os.Getenv("BERTH_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(golden, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n")+"\n" != string(want) {
		t.Errorf("audit failures differ from %s (BERTH_UPDATE_GOLDEN=1 rewrites it)\n--- got\n%s\n--- want\n%s", golden, strings.Join(got, "\n"), want)
	}
	// Remote: the host checks say why they were skipped.
	h, _, _ := runAudit(t, dir, "host", "-H", tcp)
	for _, r := range h.Results {
		if r.Status != "skipped" || !strings.Contains(r.Reason, "host file access") {
			t.Errorf("host check %s on a remote engine: %s %q", r.ID, r.Status, r.Reason)
			break
		}
	}

	// berth setup on that engine's daemon.json, then a restart.
	daemonJSON := filepath.Join(eng.Dir, "daemon.json")
	out, code := berthIn(t, dir, "setup", "--daemon-json", daemonJSON, "-H", eng.Host)
	if code != 0 || !strings.Contains(out, "nothing was changed") {
		t.Fatalf("setup without --yes: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(daemonJSON); string(b) != "{}\n" {
		t.Fatalf("setup without --yes wrote the file: %s", b)
	}
	out, code = berthIn(t, dir, "setup", "--daemon-json", daemonJSON, "-H", eng.Host, "--yes")
	if code != 0 || !strings.Contains(out, "written") {
		t.Fatalf("setup --yes: exit %d\n%s", code, out)
	}
	// The bad flags setup does not own stay; --icc=true would conflict with
	// daemon.json's "icc" and is dropped, as an operator would.
	eng.Restart(t, badArgs)
	after, _, raw := runAudit(t, dir, "engine", "-H", tcp)
	status := map[string]string{}
	for _, r := range after.Results {
		status[r.ID] = r.Status
	}
	for _, id := range []string{"engine-live-restore", "engine-icc", "engine-log-driver"} {
		if status[id] != "pass" {
			t.Errorf("after setup, %s is %s, want pass\n%s", id, status[id], raw)
		}
	}
	// What setup does not touch is still reported.
	for _, id := range []string{"engine-api-tls", "engine-insecure-registries"} {
		if status[id] != "fail" {
			t.Errorf("after setup, %s is %s, want fail (setup does not change it)", id, status[id])
		}
	}
	// Running setup again changes nothing.
	out, code = berthIn(t, dir, "setup", "--daemon-json", daemonJSON, "-H", eng.Host)
	if code != 0 || !strings.Contains(out, "nothing to do") {
		t.Errorf("second setup: exit %d\n%s", code, out)
	}
}
