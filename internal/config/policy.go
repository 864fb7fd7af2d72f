package config

import (
	"slices"
	"strings"
)

// Policy is berth.yaml's policy: section. Values are checked here; rule IDs
// are checked against the rules themselves by the policy's user, with the
// positions kept for the message.
type Policy struct {
	Mode      string // enforce (default), warn, off
	Threshold string // low, medium, high (default), critical
	Rules     []RuleSetting
}

// RuleSetting is one rules: entry, ID: mode.
type RuleSetting struct {
	ID, Mode     string
	File         string
	Line, Column int
}

var (
	policyModes      = []string{"enforce", "warn", "off"}
	policySeverities = []string{"low", "medium", "high", "critical"}
)

func defaultPolicy() Policy { return Policy{Mode: "enforce", Threshold: "high"} }

func (r *reader) policy(f field) Policy {
	p := defaultPolicy()
	for _, kf := range r.fields(f.val, f.path, []string{"mode", "threshold", "rules"}) {
		switch kf.key.Value {
		case "mode":
			if s, ok := r.oneOf(kf, policyModes); ok {
				p.Mode = s
			}
		case "threshold":
			if s, ok := r.oneOf(kf, policySeverities); ok {
				p.Threshold = s
			}
		case "rules":
			for _, rf := range r.fields(kf.val, kf.path, nil) {
				if s, ok := r.oneOf(rf, policyModes); ok {
					p.Rules = append(p.Rules, RuleSetting{ID: rf.key.Value, Mode: s, File: r.file, Line: rf.key.Line, Column: rf.key.Column})
				}
			}
		}
	}
	return p
}

// oneOf reads a string that must be one of values.
func (r *reader) oneOf(f field, values []string) (string, bool) {
	s, ok := r.str(f)
	if !ok {
		return "", false
	}
	if !slices.Contains(values, s) {
		r.errorf(f.val, f.path, "use one of: "+strings.Join(values, ", "), "%q is not allowed", s)
		return "", false
	}
	return s, true
}
