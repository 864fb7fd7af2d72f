package policy

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
}

// Default blocks what hands a container the host (critical and high) and
// warns on hygiene, so an ordinary first deploy works and still shows what
// to tighten.
func Default() Policy { return Policy{Mode: Enforce, Threshold: High} }

// Evaluate judges s by every built-in rule and returns the findings in rule
// order.
func (p Policy) Evaluate(s *Spec) []Finding {
	var out []Finding
	for i := range builtin {
		r := &builtin[i]
		mode := p.Mode
		if m, ok := p.Rules[r.ID]; ok {
			mode = m
		}
		if mode == Off {
			continue
		}
		for _, msg := range r.check(s) {
			out = append(out, Finding{
				Rule: r.ID, Severity: r.Severity, Container: s.Name, Message: msg, Fix: r.Fix, CIS: r.CIS,
				Enforced: mode == Enforce && r.Severity >= p.Threshold,
			})
		}
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
