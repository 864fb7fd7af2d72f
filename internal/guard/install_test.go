package guard

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlanDaemonConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "daemon.json")
		if s == "<missing>" {
			os.Remove(p)
			return p
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, before string
		add          bool
		changed      bool
		want         map[string]any
		err          string
	}{
		{"missing file", "<missing>", true, true, map[string]any{"authorization-plugins": []any{"berth"}}, ""},
		{"empty object", "{}", true, true, map[string]any{"authorization-plugins": []any{"berth"}}, ""},
		{"keeps the user's keys", `{"log-driver": "local", "live-restore": true}`, true, true, map[string]any{"log-driver": "local", "live-restore": true, "authorization-plugins": []any{"berth"}}, ""},
		{"adds to other plugins", `{"authorization-plugins": ["opa"]}`, true, true, map[string]any{"authorization-plugins": []any{"opa", "berth"}}, ""},
		{"already there", `{"authorization-plugins": ["berth"]}`, true, false, map[string]any{"authorization-plugins": []any{"berth"}}, ""},
		{"remove", "{\n  \"debug\": true,\n  \"authorization-plugins\": [\"berth\"]\n}\n", false, true, map[string]any{"debug": true}, ""},
		{"remove keeps other plugins", `{"authorization-plugins": ["opa", "berth"]}`, false, true, map[string]any{"authorization-plugins": []any{"opa"}}, ""},
		{"comments", "{\n  // no\n}", true, false, nil, "line 2"},
		{"not an object", `["x"]`, true, false, nil, "not a JSON object"},
		{"plugins not a list", `{"authorization-plugins": "berth"}`, true, false, nil, "not a list"},
		{"trailing garbage", `{} {}`, true, false, nil, "after its JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := write(c.before)
			plan, err := PlanDaemonConfig(p, "berth", c.add)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if plan.Changed != c.changed {
				t.Fatalf("changed = %v", plan.Changed)
			}
			var got map[string]any
			if err := json.Unmarshal(plan.After, &got); err != nil {
				t.Fatalf("result is not JSON: %v\n%s", err, plan.After)
			}
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(c.want)
			if string(gb) != string(wb) {
				t.Fatalf("after = %s, want %s", gb, wb)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	got := Diff("f", []byte("a\nb\nc\n"), []byte("a\nc\nd\n"))
	want := "--- f\n+++ f\n  a\n- b\n  c\n+ d\n"
	if got != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
	}
	if !strings.HasPrefix(Diff("f", nil, []byte("x\n")), "--- /dev/null\n+++ f\n+ x\n") {
		t.Fatal("new file diff")
	}
}

func TestSystemdUnit(t *testing.T) {
	u := SystemdUnit("/usr/local/bin/berth", "/etc/berth/policy.yaml", "berth")
	for _, want := range []string{`ExecStart="/usr/local/bin/berth" guard -f "/etc/berth/policy.yaml" --name berth`, "Before=docker.service", "Restart=always", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !strings.Contains(u, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
}

// A diff never shows the credentials of a URL in the file.
func TestDiffRedactsCredentials(t *testing.T) {
	before := []byte(`{"proxies": {"http-proxy": "http://alice:s3cret@proxy.internal:3128"}}` + "\n")
	after := []byte(`{"proxies": {"http-proxy": "http://alice:s3cret@proxy.internal:3128"}, "icc": false}` + "\n")
	d := Diff("daemon.json", before, after)
	if strings.Contains(d, "s3cret") || strings.Contains(d, "alice") || !strings.Contains(d, "http://***@proxy.internal:3128") {
		t.Fatalf("diff:\n%s", d)
	}
	if Diff("f", nil, []byte("x\n")) != "--- /dev/null\n+++ f\n+ x\n" {
		t.Fatal("a new file is no longer shown as new")
	}
}
