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
	plan, err := Compute(p, nil, nil)
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
	plan, err = Compute(p, nil, nil)
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
	plan, _ = Compute(p, []string{"log-driver"}, nil)
	m = nil
	json.Unmarshal(plan.After, &m)
	if m["log-driver"] != "local" || m["data-root"] != "/srv/docker" {
		t.Fatalf("override: %v", m)
	}

	// Applied once, nothing more to do.
	os.WriteFile(p, plan.After, 0o644)
	plan, _ = Compute(p, []string{"log-driver"}, nil)
	if plan.Changed {
		t.Fatalf("second run changes: %+v", plan.Changes)
	}

	// Bad files are errors that change nothing.
	for _, bad := range []string{"{\n // c\n}", "[1]", "{} {}"} {
		os.WriteFile(p, []byte(bad), 0o644)
		if _, err := Compute(p, nil, nil); err == nil || !strings.Contains(err.Error(), "fix:") {
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

// A key dockerd's command line sets is never added: dockerd refuses a
// setting given both ways. log-driver is not added over the user's
// log-opts, which were written for the current driver.
func TestComputeFlagsAndLogOpts(t *testing.T) {
	p := filepath.Join(t.TempDir(), "daemon.json")
	os.WriteFile(p, []byte(`{"log-opts": {"labels": "app", "max-size": "10m"}}`), 0o644)
	plan, err := Compute(p, nil, map[string]string{"live-restore": "docker.service ExecStart", "default-ulimits": "docker.service ExecStart"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(plan.After, &m)
	for _, k := range []string{"live-restore", "default-ulimits", "log-driver"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s was added: %s", k, plan.After)
		}
	}
	if m["icc"] != false {
		t.Errorf("icc not added: %s", plan.After)
	}
	actions := map[string]string{}
	for _, c := range plan.Changes {
		actions[c.Key] = c.Action
	}
	if actions["live-restore"] != "flag" || actions["log-driver"] != "kept" {
		t.Errorf("actions: %v", actions)
	}
}
