package policy

import (
	"fmt"

	"github.com/berthhq/berth/internal/config"
)

// FromConfig builds the policy a config's policy section asks for, with its
// custom rules compiled. Every problem comes back at once, positioned in the
// file it came from: an unknown rule ID (so a typo never silently turns
// nothing off), a custom rule that does not compile, or one whose ID is
// taken.
func FromConfig(c config.Policy) (Policy, error) {
	p := Default()
	if c.Mode != "" {
		p.Mode = Mode(c.Mode)
	}
	if c.Threshold != "" {
		sev, err := ParseSeverity(c.Threshold)
		if err != nil {
			return p, err
		}
		p.Threshold = sev
	}
	p.Registries = c.Registries
	var errs config.ErrorList
	seen := map[string]bool{}
	for _, cr := range c.Custom {
		if _, ok := RuleByID(cr.ID); ok || seen[cr.ID] {
			errs = append(errs, &config.Error{File: cr.File, Line: cr.Line, Column: cr.Column, Path: "policy.custom." + cr.ID,
				Msg: "rule ID " + cr.ID + " is already taken", Fix: "give the custom rule an ID of its own (see `berth policy list`)"})
			continue
		}
		seen[cr.ID] = true
		sev, _ := ParseSeverity(cr.Severity) // checked when read
		r, err := CustomRule{ID: cr.ID, Title: cr.Title, Severity: sev, Violation: cr.Violation, Message: cr.Message, Fix: cr.Fix, Rationale: cr.Rationale}.Compile()
		if err != nil {
			errs = append(errs, celConfigErrors(cr, err)...)
			continue
		}
		p.Custom = append(p.Custom, r)
	}
	for _, r := range c.Rules {
		if _, ok := p.RuleByID(r.ID); !ok {
			errs = append(errs, &config.Error{File: r.File, Line: r.Line, Column: r.Column, Path: "policy.rules." + r.ID,
				Msg: "unknown rule " + r.ID, Fix: "see `berth policy list` for the rule IDs"})
			continue
		}
		if p.Rules == nil {
			p.Rules = map[string]Mode{}
		}
		p.Rules[r.ID] = Mode(r.Mode)
	}
	for _, w := range c.Waivers {
		if _, ok := p.RuleByID(w.Rule); !ok {
			errs = append(errs, &config.Error{File: w.File, Line: w.Line, Column: w.Column, Path: "policy.waivers",
				Msg: "waiver for unknown rule " + w.Rule, Fix: "see `berth policy list` for the rule IDs"})
			continue
		}
		p.Waivers = append(p.Waivers, Waiver{Rule: w.Rule, Service: w.Service, Container: w.Container, Label: w.Label, Reason: w.Reason, Expires: w.Expires, Guard: w.Guard})
	}
	if len(errs) > 0 {
		return p, errs
	}
	return p, nil
}

// celConfigErrors places each compile problem in the file: for an
// expression written on one line, at its exact column; for a | block, at
// its line, with the column within the expression; otherwise where the
// expression starts, with the line and column within it.
func celConfigErrors(cr config.CustomRuleSetting, err error) config.ErrorList {
	ce, ok := err.(*CELError)
	if !ok {
		return config.ErrorList{{File: cr.File, Line: cr.ExprLine, Column: cr.ExprColumn, Path: "policy.custom." + cr.ID, Msg: err.Error()}}
	}
	var out config.ErrorList
	for _, pr := range ce.Problems {
		fix := pr.Fix
		if fix == "" {
			fix = "fields are listed by `berth policy fields`; the expression must be true when a container breaks the rule"
		}
		e := &config.Error{File: cr.File, Path: "policy.custom." + cr.ID + ".violation", Msg: "CEL: " + pr.Msg, Fix: fix}
		within := fmt.Sprintf("CEL (expression line %d, column %d): %s", pr.Line, pr.Column, pr.Msg)
		switch {
		case cr.ExprPlace == config.ExprExact && pr.Line == 1:
			e.Line, e.Column = cr.ExprLine, cr.ExprColumn+pr.Column-1
		case cr.ExprPlace == config.ExprLines:
			e.Line, e.Msg = cr.ExprLine+pr.Line-1, within
		default:
			e.Line, e.Column, e.Msg = cr.ExprLine, cr.ExprColumn, within
		}
		out = append(out, e)
	}
	return out
}
