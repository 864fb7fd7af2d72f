package setup

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompute(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "daemon.json")

	// No file: every default is added.
	plan, err := Compute(p, Options{})
	if err != nil || !plan.Changed {
		t.Fatalf("missing file: %+v %v", plan, err)
	}
	var m map[string]any
	if err := json.Unmarshal(plan.After, &m); err != nil || m["live-restore"] != true || m["log-driver"] != "local" {
		t.Fatalf("after: %s %v", plan.After, err)
	}

	// The user's keys stay, as written; a key they set otherwise is kept.
	orig := "{\n  \"data-root\": \"/srv/docker\",\n  \"log-driver\": \"json-file\",\n  \"log-opts\": {\"max-size\": \"10m\"}\n}\n"
	os.WriteFile(p, []byte(orig), 0o644)
	plan, err = Compute(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(plan.After), strings.TrimSuffix(orig, "\n}\n")) {
		t.Fatalf("the user's file was not kept as written:\n%s", plan.After)
	}
	m = nil
	json.Unmarshal(plan.After, &m)
	if m["log-driver"] != "json-file" || m["data-root"] != "/srv/docker" || m["icc"] != false {
		t.Fatalf("merged: %v", m)
	}
	for _, c := range plan.Changes {
		if c.Key == "log-driver" && c.Action != "kept" {
			t.Errorf("log-driver: %s, want kept", c.Action)
		}
	}

	// --override log-driver changes it.
	plan, _ = Compute(p, Options{Override: []string{"log-driver"}})
	m = nil
	json.Unmarshal(plan.After, &m)
	if m["log-driver"] != "local" || m["data-root"] != "/srv/docker" {
		t.Fatalf("override: %v", m)
	}

	// Applied once, nothing more to do.
	os.WriteFile(p, plan.After, 0o644)
	plan, _ = Compute(p, Options{Override: []string{"log-driver"}})
	if plan.Changed {
		t.Fatalf("second run changes: %+v", plan.Changes)
	}

	// Bad files are errors that change nothing.
	for _, bad := range []string{"{\n // c\n}", "[1]", "{} {}"} {
		os.WriteFile(p, []byte(bad), 0o644)
		if _, err := Compute(p, Options{}); err == nil || !strings.Contains(err.Error(), "fix:") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestValidate(t *testing.T) {
	if _, err := Validate(t.Context(), []byte(`{"live-restore": true}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := Validate(t.Context(), []byte(`{"live-restore": tru`)); err == nil {
		t.Fatal("broken JSON validated")
	}
}

// Nothing setup writes may stop dockerd from starting: a key the command
// line sets, live-restore in a swarm, the local driver under log options it
// does not know (from the file or the flags, even with --override).
func TestComputeNeverBreaksStart(t *testing.T) {
	p := filepath.Join(t.TempDir(), "daemon.json")
	os.WriteFile(p, []byte(`{"log-driver": "json-file", "log-opts": {"labels": "app", "max-size": "10m"}}`), 0o644)
	plan, err := Compute(p, Options{Override: []string{"log-driver"}, Swarm: true,
		Flags: map[string]string{"default-ulimits": "docker.service ExecStart"}})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(plan.After, &m)
	if m["log-driver"] != "json-file" {
		t.Errorf("log-driver changed under foreign log-opts: %s", plan.After)
	}
	for _, k := range []string{"live-restore", "default-ulimits"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s was added: %s", k, plan.After)
		}
	}
	if m["icc"] != false {
		t.Errorf("icc not added: %s", plan.After)
	}
	actions := map[string]Change{}
	for _, c := range plan.Changes {
		actions[c.Key] = c
	}
	if a := actions["log-driver"]; a.Action != "skip" || !strings.Contains(a.Reason, "labels") {
		t.Errorf("log-driver: %+v", a)
	}
	if a := actions["live-restore"]; a.Action != "skip" || !strings.Contains(a.Reason, "swarm") {
		t.Errorf("live-restore: %+v", a)
	}
	if actions["default-ulimits"].Action != "flag" {
		t.Errorf("default-ulimits: %+v", actions["default-ulimits"])
	}
	// Log options from the command line count too.
	os.WriteFile(p, []byte(`{}`), 0o644)
	plan, _ = Compute(p, Options{FlagLogOpts: []string{"tag"}})
	m = nil
	json.Unmarshal(plan.After, &m)
	if _, ok := m["log-driver"]; ok {
		t.Errorf("log-driver added under --log-opt tag: %s", plan.After)
	}
	// Compatible options: local is fine.
	os.WriteFile(p, []byte(`{"log-opts": {"max-size": "10m"}}`), 0o644)
	plan, _ = Compute(p, Options{})
	m = nil
	json.Unmarshal(plan.After, &m)
	if m["log-driver"] != "local" {
		t.Errorf("log-driver not added over max-size: %s", plan.After)
	}
	// null is an empty file to dockerd; no panic.
	os.WriteFile(p, []byte("null\n"), 0o644)
	if plan, err = Compute(p, Options{}); err != nil || !plan.Changed {
		t.Errorf("null file: %v", err)
	}
	// An override of a key setup does not set is an error.
	if _, err := Compute(p, Options{Override: []string{"log_driver"}}); err == nil || !strings.Contains(err.Error(), "fix: one of") {
		t.Errorf("unknown override: %v", err)
	}
}
