package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"
)

// Policy is berth.yaml's policy: section. Values are checked here; rule IDs
// are checked against the rules themselves by the policy's user, with the
// positions kept for the message.
type Policy struct {
	Mode      string // enforce (default), warn, off
	Threshold string // low, medium, high (default), critical
	Rules     []RuleSetting
	Waivers   []WaiverSetting
}

// WaiverSetting is one waivers: entry.
type WaiverSetting struct {
	Rule                      string
	Service, Container, Label string // exactly one
	Reason                    string
	Expires                   time.Time // zero: none; the waiver ends at the end of that day (UTC)
	File                      string
	Line, Column              int
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
	for _, kf := range r.fields(f.val, f.path, []string{"mode", "threshold", "rules", "waivers"}) {
		switch kf.key.Value {
		case "mode":
			if s, ok := r.oneOf(kf, policyModes); ok {
				p.Mode = s
			}
		case "threshold":
			if s, ok := r.oneOf(kf, policySeverities); ok {
				p.Threshold = s
			}
		case "waivers":
			p.Waivers = r.waivers(kf)
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

func (r *reader) waivers(f field) []WaiverSetting {
	n := resolve(f.val)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		r.errorf(n, f.path, "write a list of waivers", "must be a list, not %s", describe(n))
		return nil
	}
	var out []WaiverSetting
	for i, item := range n.Content {
		path := fmt.Sprintf("%s[%d]", f.path, i)
		w := WaiverSetting{File: r.file, Line: item.Line, Column: item.Column}
		for _, wf := range r.fields(item, path, []string{"rule", "service", "container", "label", "reason", "expires"}) {
			s, ok := r.str(wf)
			if !ok {
				continue
			}
			switch wf.key.Value {
			case "rule":
				w.Rule = s
			case "service":
				w.Service = s
			case "container":
				w.Container = s
			case "label":
				if !strings.Contains(s, "=") {
					r.errorf(wf.val, wf.path, "write key=value", "%q is not key=value", s)
				}
				w.Label = s
			case "reason":
				w.Reason = strings.TrimSpace(s)
			case "expires":
				t, err := time.Parse(time.DateOnly, s)
				if err != nil {
					r.errorf(wf.val, wf.path, "write a date as YYYY-MM-DD", "%q is not a date", s)
					continue
				}
				w.Expires = t.Add(24*time.Hour - time.Nanosecond)
			}
		}
		selectors := 0
		for _, s := range []string{w.Service, w.Container, w.Label} {
			if s != "" {
				selectors++
			}
		}
		switch {
		case w.Rule == "":
			r.errorf(item, path, "add rule: <id> (see `berth policy list`)", "a waiver needs the rule it waives")
		case w.Reason == "":
			r.errorf(item, path, "add reason: saying why this is acceptable", "a waiver needs a reason")
		case selectors != 1:
			r.errorf(item, path, "set exactly one of service:, container: or label:", "a waiver must select what it covers")
		default:
			out = append(out, w)
		}
	}
	return out
}
