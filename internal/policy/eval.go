package policy

import (
	"fmt"
	"strings"
	"time"
)

// Finding is one violation of a rule by one container.
type Finding struct {
	Rule      string   `json:"rule"`
	Severity  Severity `json:"severity"`
	Container string   `json:"container"`
	Message   string   `json:"message"`
	Fix       string   `json:"fix"`
	CIS       string   `json:"cis,omitempty"`
	// Enforced is true when the finding blocks (mode enforce and severity
	// at or above the threshold).
	Enforced bool `json:"enforced"`
	// Waiver is the reason of the waiver that covers the finding; waived
	// findings are shown, never hidden, and do not block. An expired waiver
	// no longer covers: WaiverExpired says so and the finding counts again.
	Waived        bool   `json:"waived,omitempty"`
	Waiver        string `json:"waiver,omitempty"`
	WaiverExpired string `json:"waiver_expired,omitempty"`
}

// Waiver excuses a rule for the containers it selects, for a stated reason,
// until an optional expiry.
type Waiver struct {
	Rule      string
	Service   string // compose service; or
	Container string // container name; or
	Label     string // key=value
	Reason    string
	Expires   time.Time // zero: no expiry
	Guard     bool      // the guard honours it too (see docs/guard.md)
}

func (w Waiver) selects(s *Spec) bool {
	switch {
	case w.Service != "":
		return w.Service == s.Service || w.Service == s.Name && s.Service == ""
	case w.Container != "":
		return w.Container == s.Name
	case w.Label != "":
		k, v, _ := strings.Cut(w.Label, "=")
		got, ok := s.Labels[k]
		return ok && got == v
	}
	return false
}

// Mode says what a violation does.
type Mode string

// Modes.
const (
	Enforce Mode = "enforce" // violations at or above the threshold block
	Warn    Mode = "warn"    // violations are reported and allowed
	Off     Mode = "off"     // the rule is not evaluated
)

// Policy is the rules' configuration: a global mode, the severity from
// which enforce blocks (default high: what hands a container the host), and
// per-rule modes.
type Policy struct {
	Mode      Mode
	Threshold Severity
	Rules     map[string]Mode
	Waivers   []Waiver
	// Custom are the user's compiled CEL rules, evaluated after the
	// built-in ones.
	Custom []Rule
	// Registries is the allow-list for rule registry-not-allowed: a
	// registry host ("registry.example.com:5000") or a repository prefix
	// ("ghcr.io/acme"). Empty: every registry is allowed.
	Registries []string
	// Now is the time waivers expire against; zero: the current time.
	Now time.Time
}

// Default blocks what hands a container the host (critical and high) and
// warns on hygiene, so an ordinary first deploy works and still shows what
// to tighten.
func Default() Policy { return Policy{Mode: Enforce, Threshold: High} }

// AllRules returns the built-in rules followed by the custom ones.
func (p *Policy) AllRules() []Rule { return append(Rules(), p.Custom...) }

// RuleByID finds a built-in or custom rule.
func (p *Policy) RuleByID(id string) (Rule, bool) {
	if r, ok := RuleByID(id); ok {
		return r, true
	}
	for _, r := range p.Custom {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// Evaluate judges s by every built-in rule, then every custom rule, and
// returns the findings in rule order.
func (p Policy) Evaluate(s *Spec) []Finding {
	var out []Finding
	for i := range builtin {
		out = p.apply(&builtin[i], s, out)
	}
	for i := range p.Custom {
		out = p.apply(&p.Custom[i], s, out)
	}
	return out
}

func (p *Policy) apply(r *Rule, s *Spec, out []Finding) []Finding {
	mode := p.Mode
	if m, ok := p.Rules[r.ID]; ok {
		mode = m
	}
	if mode == Off {
		return out
	}
	var hits []hit
	switch {
	case r.hits != nil:
		hits = r.hits(s)
	case r.checkWith != nil:
		hits = plainHits(r, r.checkWith(p, s))
	default:
		hits = plainHits(r, r.check(s))
	}
	for _, h := range hits {
		f := Finding{
			Rule: r.ID, Severity: h.sev, Container: s.Name, Message: h.msg, Fix: h.fix, CIS: r.CIS,
			Enforced: mode == Enforce && h.sev >= p.Threshold,
		}
		p.waive(&f, s)
		out = append(out, f)
	}
	return out
}

func plainHits(r *Rule, msgs []string) []hit {
	out := make([]hit, len(msgs))
	for i, m := range msgs {
		out[i] = hit{msg: m, sev: r.Severity, fix: r.Fix}
	}
	return out
}

// Blocking returns the findings that block.
func Blocking(fs []Finding) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Enforced {
			out = append(out, f)
		}
	}
	return out
}

// waive applies the first waiver that selects the finding.
func (p *Policy) waive(f *Finding, s *Spec) {
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	for _, w := range p.Waivers {
		if w.Rule != f.Rule || !w.selects(s) {
			continue
		}
		if !w.Expires.IsZero() && now.After(w.Expires) {
			f.WaiverExpired = fmt.Sprintf("a waiver (%s) expired on %s", w.Reason, w.Expires.Format(time.DateOnly))
			continue
		}
		f.Waived, f.Waiver, f.Enforced = true, w.Reason, false
		return
	}
}
