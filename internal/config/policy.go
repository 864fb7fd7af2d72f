package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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
	Custom    []CustomRuleSetting
	// Registries is the allow-list of image registries (or repository
	// prefixes); empty allows every registry.
	Registries []string
	// File is the policy file the section came from, when policy.file:
	// names one ("" when the policy is written inline).
	File string
}

// CustomRuleSetting is one custom: entry, a rule written in CEL.
type CustomRuleSetting struct {
	ID, Title, Severity, Violation, Message, Fix, Rationale string
	File                                                    string
	Line, Column                                            int // of the entry
	// ExprLine and ExprColumn place the expression's first character in
	// the file. ExprPlace says how far a position in the expression maps
	// onto the file: ExprExact (one line, no escapes), ExprLines (a |
	// block: same lines, its own indentation), ExprStart (folded, escaped
	// or wrapped: only where it starts is known).
	ExprLine, ExprColumn int
	ExprPlace            ExprPlace
}

// WaiverSetting is one waivers: entry.
type WaiverSetting struct {
	Rule                      string
	Service, Container, Label string // exactly one
	Reason                    string
	Expires                   time.Time // zero: none; the waiver ends at the end of that day (UTC)
	// Guard makes the guard honour the waiver too. Off by default: at the
	// guard, names and labels are chosen by whoever sends the request.
	Guard        bool
	File         string
	Line, Column int
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

// ExprPlace says how a position in a custom rule's expression maps onto its
// file.
type ExprPlace int

// How expression positions map onto the file.
const (
	ExprExact ExprPlace = iota
	ExprLines
	ExprStart
)

var policyKeys = []string{"mode", "threshold", "rules", "waivers", "custom", "registries"}

// policy reads berth.yaml's policy: section. With file:, the policy comes
// from that file (a team-wide policy kept apart from each app), and the
// keys written next to file: add to it: their waivers, custom rules and
// rule modes add up, and a mode or threshold written here wins.
func (r *reader) policy(f field, baseDir string) Policy {
	p := Policy{}
	if n := resolve(f.val); n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := resolve(n.Content[i]); k.Value == "file" {
				ff := field{path: join(f.path, "file"), key: k, val: resolve(n.Content[i+1])}
				if s, ok := r.str(ff); ok {
					p = r.policyFile(ff, s, baseDir)
				}
			}
		}
	}
	inline := r.policySection(f, append([]string{"file"}, policyKeys...))
	if inline.Mode != "" {
		p.Mode = inline.Mode
	}
	if inline.Threshold != "" {
		p.Threshold = inline.Threshold
	}
	p.Rules = append(p.Rules, inline.Rules...)
	p.Waivers = append(p.Waivers, inline.Waivers...)
	p.Custom = append(p.Custom, inline.Custom...)
	p.Registries = append(p.Registries, inline.Registries...)
	return withPolicyDefaults(p)
}

func withPolicyDefaults(p Policy) Policy {
	d := defaultPolicy()
	if p.Mode == "" {
		p.Mode = d.Mode
	}
	if p.Threshold == "" {
		p.Threshold = d.Threshold
	}
	return p
}

// policyFile reads the policy file named at f. Errors in it name it.
func (r *reader) policyFile(f field, name, baseDir string) Policy {
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(baseDir, path)
	}
	display := name
	if !filepath.IsAbs(name) {
		display = filepath.Join(filepath.Dir(r.file), name)
	}
	root, perr := readYAML(path)
	if perr != nil {
		perr.File = r.file
		perr.Line, perr.Column, perr.Path = f.val.Line, f.val.Column, f.path
		perr.Msg = fmt.Sprintf("policy file %s: %s", display, perr.Msg)
		perr.Fix = "name an existing policy file, relative to berth.yaml"
		r.errs.add(perr)
		return Policy{}
	}
	fr := &reader{file: display, errs: r.errs}
	p := fr.policySection(field{path: "", val: root}, policyKeys)
	p.File = path
	return p
}

// LoadPolicy reads a policy on its own, without a compose file: either a
// policy file (the keys of berth.yaml's policy: section at the top level)
// or a berth.yaml, of which only policy: is read. The guard uses it: a
// host's policy should not need the app's compose file to load.
func LoadPolicy(path string) (Policy, error) {
	e := &errs{}
	r := &reader{file: path, errs: e}
	root, perr := readYAML(path)
	if perr != nil {
		e.add(perr)
		return Policy{}, e.result()
	}
	var p Policy
	abs, _ := filepath.Abs(path)
	if lookup(root, "policy") != nil || lookup(root, "app") != nil {
		// A berth.yaml: its other keys are not this reader's business.
		for _, f := range r.fields(root, "", nil) {
			if f.key.Value == "policy" {
				p = r.policy(f, filepath.Dir(abs))
			}
		}
		p = withPolicyDefaults(p)
	} else {
		p = withPolicyDefaults(r.policySection(field{path: "", val: root}, policyKeys))
		p.File = abs
	}
	if err := e.result(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// policySection reads the policy keys of one mapping.
func (r *reader) policySection(f field, known []string) Policy {
	var p Policy
	for _, kf := range r.fields(f.val, f.path, known) {
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
		case "custom":
			p.Custom = r.customRules(kf)
		case "registries":
			if isNull(kf.val) {
				continue
			}
			if list, ok := r.stringList(kf); ok {
				for _, s := range list {
					if s.value == "" || strings.ContainsAny(s.value, " :@") && !registryWithPort.MatchString(s.value) {
						r.errorf(s.node, kf.path, "write a registry host (registry.example.com:5000) or a repository prefix (ghcr.io/acme)", "%q is not a registry", s.value)
						continue
					}
					p.Registries = append(p.Registries, strings.TrimSuffix(s.value, "/"))
				}
			}
		}
	}
	return p
}

// registryWithPort is host:port, optionally followed by a path.
var registryWithPort = regexp.MustCompile(`^[a-zA-Z0-9.-]+:[0-9]+(/[a-z0-9._/-]+)?$`)

// ruleID is what a custom rule may be called: the shape of the built-in
// IDs, so they read alike in reports.
var ruleID = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

func (r *reader) customRules(f field) []CustomRuleSetting {
	var out []CustomRuleSetting
	for i, item := range r.items(f, "write a list of rules, each with id:, violation:, message:") {
		path := fmt.Sprintf("%s[%d]", f.path, i)
		c := CustomRuleSetting{File: r.file, Line: item.Line, Column: item.Column, Severity: "medium"}
		for _, cf := range r.fields(item, path, []string{"id", "title", "severity", "violation", "message", "fix", "rationale"}) {
			s, ok := r.str(cf)
			if !ok {
				continue
			}
			switch cf.key.Value {
			case "id":
				if !ruleID.MatchString(s) {
					r.errorf(cf.val, cf.path, "use lower-case letters, digits and dashes", "%q is not a valid rule ID", s)
				}
				c.ID = s
			case "title":
				c.Title = s
			case "severity":
				if v, ok := r.oneOf(cf, policySeverities); ok {
					c.Severity = v
				}
			case "violation":
				c.Violation = s
				v := resolve(cf.val)
				c.ExprLine, c.ExprColumn = v.Line, v.Column
				switch {
				case v.Style == yaml.LiteralStyle:
					c.ExprPlace = ExprLines
					c.ExprLine++
				case v.Style == yaml.FoldedStyle || strings.Contains(strings.TrimRight(s, "\n"), "\n") || v.Style == 0 && !r.onOneLine(v, s):
					c.ExprPlace = ExprStart
				case v.Style == yaml.DoubleQuotedStyle && (strings.ContainsAny(s, "\"\\\t\r") || !isASCII(s)) || v.Style == yaml.SingleQuotedStyle && strings.Contains(s, "'"):
					// Escapes in the file make it longer than the value.
					c.ExprPlace = ExprStart
				case v.Style == yaml.DoubleQuotedStyle || v.Style == yaml.SingleQuotedStyle:
					c.ExprColumn++
				}
			case "message":
				c.Message = strings.TrimSpace(s)
			case "fix":
				c.Fix = strings.TrimSpace(s)
			case "rationale":
				c.Rationale = strings.TrimSpace(s)
			}
		}
		switch {
		case c.ID == "":
			r.errorf(item, path, "add id: <lower-case-name>", "a custom rule needs an id")
		case strings.TrimSpace(c.Violation) == "":
			r.errorf(item, path, "add violation: a CEL expression over spec that is true when a container breaks the rule", "custom rule %s needs a violation expression", c.ID)
		case c.Message == "":
			r.errorf(item, path, "add message: what is wrong, as a report should say it", "custom rule %s needs a message", c.ID)
		default:
			if c.Title == "" {
				c.Title = c.Message
			}
			out = append(out, c)
		}
	}
	return out
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

// items are the entries of a list of mappings; empty (null) is no entries,
// and anything but a list is reported with fix.
func (r *reader) items(f field, fix string) []*yaml.Node {
	n := resolve(f.val)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		r.errorf(n, f.path, fix, "must be a list, not %s", describe(n))
		return nil
	}
	return n.Content
}

func (r *reader) waivers(f field) []WaiverSetting {
	var out []WaiverSetting
	for i, item := range r.items(f, "write a list of waivers") {
		path := fmt.Sprintf("%s[%d]", f.path, i)
		w := WaiverSetting{File: r.file, Line: item.Line, Column: item.Column}
		for _, wf := range r.fields(item, path, []string{"rule", "service", "container", "label", "reason", "expires", "guard"}) {
			if wf.key.Value == "guard" {
				w.Guard, _ = r.boolean(wf)
				continue
			}
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

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// onOneLine says whether plain scalar v (value s) is written whole on its
// first line, so positions in it are positions in the file.
func (r *reader) onOneLine(v *yaml.Node, s string) bool {
	data, err := os.ReadFile(r.file)
	if err != nil {
		return false
	}
	lines := strings.Split(string(data), "\n")
	if v.Line < 1 || v.Line > len(lines) {
		return false
	}
	line := lines[v.Line-1]
	if v.Column < 1 || v.Column > len(line) {
		return false
	}
	rest := line[v.Column-1:]
	if i := strings.Index(rest, " #"); i >= 0 {
		rest = rest[:i]
	}
	return strings.TrimSpace(rest) == s
}
