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
	plan, err := Compute(p, nil)
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
	plan, err = Compute(p, nil)
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
	plan, _ = Compute(p, []string{"log-driver"})
	m = nil
	json.Unmarshal(plan.After, &m)
	if m["log-driver"] != "local" || m["data-root"] != "/srv/docker" {
		t.Fatalf("override: %v", m)
	}

	// Applied once, nothing more to do.
	os.WriteFile(p, plan.After, 0o644)
	plan, _ = Compute(p, []string{"log-driver"})
	if plan.Changed {
		t.Fatalf("second run changes: %+v", plan.Changes)
	}

	// Bad files are errors that change nothing.
	for _, bad := range []string{"{\n // c\n}", "[1]", "{} {}"} {
		os.WriteFile(p, []byte(bad), 0o644)
		if _, err := Compute(p, nil); err == nil || !strings.Contains(err.Error(), "fix:") {
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
