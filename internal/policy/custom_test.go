package policy

import (
	"errors"
	"strings"
	"testing"
)

func compile(t *testing.T, expr string) Rule {
	t.Helper()
	r, err := CustomRule{ID: "t", Severity: High, Violation: expr, Message: "violates t", Fix: "fix t"}.Compile()
	if err != nil {
		t.Fatalf("compile %q: %v", expr, err)
	}
	return r
}

func TestCustomRuleFires(t *testing.T) {
	cases := []struct {
		expr string
		spec Spec
		want bool
	}{
		{`spec.user == ""`, Spec{}, true},
		{`spec.user == ""`, Spec{User: "10001"}, false},
		// Absent lists and maps are empty, never null.
		{`spec.cap_add.exists(c, c == "NET_RAW")`, Spec{}, false},
		{`size(spec.cap_add) == 0`, Spec{}, true},
		{`spec.cap_add.exists(c, c == "NET_RAW")`, Spec{CapAdd: []string{"NET_RAW"}}, true},
		{`!("team" in spec.labels)`, Spec{}, true},
		{`!("team" in spec.labels)`, Spec{Labels: map[string]string{"team": "pay"}}, false},
		{`spec.mounts.exists(m, m.type == "bind" && m.source.startsWith("/srv"))`, Spec{Mounts: []Mount{{Type: "bind", Source: "/srv/data"}}}, true},
		{`spec.ports.exists(p, p.host_port == 22)`, Spec{Ports: []Port{{HostPort: 22}}}, true},
		{`spec.memory > 0 && spec.memory < 64 * 1024 * 1024`, Spec{Memory: 32 << 20}, true},
		{`spec.env.exists(e, e.name == "DEBUG" && e.value == "1")`, Spec{Env: []EnvVar{{Name: "DEBUG", Value: "1"}}}, true},
		{`!spec.image.startsWith("registry.internal/")`, Spec{Image: "registry.internal/app:1"}, false},
		{`spec.sysctls.size() > 0`, Spec{}, false},
	}
	for _, c := range cases {
		r := compile(t, c.expr)
		got := len(r.check(&c.spec)) > 0
		if got != c.want {
			t.Errorf("%s on %+v: violation=%v, want %v", c.expr, c.spec, got, c.want)
		}
	}
}

func TestCustomRuleCompileErrors(t *testing.T) {
	cases := []struct {
		expr       string
		line, col  int
		msgContain string
	}{
		{`spec.usr == ""`, 1, 5, "usr"},
		{`spec.user == `, 1, 14, ""},
		{`spec.user`, 1, 1, "not a bool"},
		{`spec.memory > "1g"`, 1, 13, "no matching overload"},
		{"spec.privileged ||\n  spec.cap_ad.exists(c, c == \"X\")", 2, 7, "cap_ad"},
		{`nosuch.field`, 1, 1, "nosuch"},
	}
	for _, c := range cases {
		_, err := CustomRule{ID: "bad", Severity: Low, Violation: c.expr, Message: "m"}.Compile()
		var ce *CELError
		if !errors.As(err, &ce) {
			t.Errorf("%q: error %v, want a CELError", c.expr, err)
			continue
		}
		p := ce.Problems[0]
		if p.Line != c.line || p.Column != c.col || !strings.Contains(p.Msg, c.msgContain) {
			t.Errorf("%q: got line %d col %d %q, want line %d col %d containing %q", c.expr, p.Line, p.Column, p.Msg, c.line, c.col, c.msgContain)
		}
		if !strings.Contains(err.Error(), "custom rule bad") {
			t.Errorf("%q: error %q does not name the rule", c.expr, err)
		}
	}
}

func TestCustomRuleEvalErrorIsAViolation(t *testing.T) {
	r := compile(t, `spec.labels["team"] == "payments"`)
	msgs := r.check(&Spec{})
	if len(msgs) != 1 || !strings.Contains(msgs[0], "could not be evaluated") {
		t.Fatalf("got %q, want one violation saying the rule could not be evaluated", msgs)
	}
	// CEL quotes values in its errors; a value may be a secret.
	r = compile(t, `spec.env.exists(e, spec.labels[e.value] == "x")`)
	msgs = r.check(&Spec{Env: []EnvVar{{Name: "DB_PASSWORD", Value: "hunter2"}}})
	if len(msgs) != 1 || strings.Contains(msgs[0], "hunter2") {
		t.Fatalf("got %q: a violation without the value", msgs)
	}
}

func TestCustomRulesInPolicy(t *testing.T) {
	r := compile(t, `!("team" in spec.labels)`)
	r.ID = "team-label"
	p := Default()
	p.Custom = []Rule{r}
	p.Threshold = High
	fs := p.Evaluate(&Spec{Name: "web"})
	var got *Finding
	for i := range fs {
		if fs[i].Rule == "team-label" {
			got = &fs[i]
		}
	}
	if got == nil || !got.Enforced || got.Message != "violates t" || got.Fix != "fix t" {
		t.Fatalf("custom finding = %+v", got)
	}
	p.Rules = map[string]Mode{"team-label": Warn}
	for _, f := range p.Evaluate(&Spec{Name: "web"}) {
		if f.Rule == "team-label" && f.Enforced {
			t.Fatal("per-rule warn mode did not apply to a custom rule")
		}
	}
	p.Waivers = []Waiver{{Rule: "team-label", Container: "web", Reason: "legacy"}}
	for _, f := range p.Evaluate(&Spec{Name: "web"}) {
		if f.Rule == "team-label" && !f.Waived {
			t.Fatal("waiver did not apply to a custom rule")
		}
	}
	if _, ok := p.RuleByID("team-label"); !ok {
		t.Fatal("RuleByID does not find the custom rule")
	}
}

// benchRules are ten custom rules of the kinds teams write.
var benchRules = []string{
	`!("team" in spec.labels)`,
	`!spec.image.startsWith("registry.internal/")`,
	`spec.cap_add.exists(c, c in ["NET_RAW", "SYS_PTRACE", "CHOWN"])`,
	`spec.mounts.exists(m, m.type == "bind" && !m.read_only && m.source.startsWith("/srv"))`,
	`spec.memory > 2 * 1024 * 1024 * 1024`,
	`spec.ports.exists(p, p.host_port == 22 || p.host_port == 3306)`,
	`spec.env.exists(e, e.name == "DEBUG" && e.value == "1")`,
	`spec.user == "0" || spec.user == "root"`,
	`spec.network_mode == "host" || spec.pid_mode == "host"`,
	`spec.log_driver == "none"`,
}

func benchPolicy(b *testing.B) Policy {
	p := Default()
	p.Registries = []string{"registry.internal"}
	for i, e := range benchRules {
		r, err := CustomRule{ID: "c" + string(rune('a'+i)), Severity: Medium, Violation: e, Message: "m"}.Compile()
		if err != nil {
			b.Fatal(err)
		}
		p.Custom = append(p.Custom, r)
	}
	return p
}

func benchSpec() Spec {
	return Spec{
		Name: "shop-web-12", Service: "web", Image: "registry.internal/shop/web:1.4.2", User: "10001",
		CapDrop: []string{"ALL"}, CapAdd: []string{"NET_BIND_SERVICE"},
		Mounts:          []Mount{{Type: "volume", Source: "data", Target: "/data"}, {Type: "bind", Source: "/srv/shop/config", Target: "/config", ReadOnly: true}},
		NoNewPrivileges: true, ReadOnlyRootfs: true, Memory: 256 << 20, NanoCPUs: 5e8, PidsLimit: 256,
		RestartPolicy: "unless-stopped", Healthcheck: true, LogDriver: "json-file", LogOpts: map[string]string{"max-size": "10m"},
		Ports:  []Port{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 8080}},
		Env:    []EnvVar{{Name: "PORT", Value: "8080"}, {Name: "LOG_LEVEL", Value: "info"}, {Name: "DATABASE_URL", Value: "postgres://db/shop"}},
		Labels: map[string]string{"team": "shop", "berth.app": "shop"},
	}
}

// BenchmarkEvaluate is one spec judged by every built-in rule and ten CEL
// rules; run with -cpu 1 for the one-core rate (bench/policy.sh).
func BenchmarkEvaluate(b *testing.B) {
	p := benchPolicy(b)
	s := benchSpec()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = p.Evaluate(&s)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "specs/s")
}

func TestCustomRuleTooCostly(t *testing.T) {
	_, err := CustomRule{ID: "slow", Severity: Low, Message: "m",
		Violation: `spec.env.exists(a, spec.env.exists(b, spec.env.exists(c, a.name == b.name && b.name == c.name)))`}.Compile()
	if err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("a triple-nested comprehension compiled: %v", err)
	}
	// One level of nesting over small lists is fine.
	compile(t, `spec.mounts.exists(m, spec.cap_add.exists(c, c == "SYS_ADMIN") && m.type == "bind")`)
}
