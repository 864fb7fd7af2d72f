package scaffold

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/deploy"
	"github.com/berthhq/berth/internal/policy"
)

// Check is what `berth validate` and `berth policy check` say about the
// written file, through the same code they run.
type Check struct {
	Valid bool `json:"valid"`
	// Errors are validate's errors; with any, policy was not checked.
	Errors   []Problem `json:"errors,omitempty"`
	Warnings []Problem `json:"warnings,omitempty"`
	// Findings are policy check's, every service, in its order.
	Findings []deploy.ServiceFindings `json:"findings,omitempty"`
	Blocking int                      `json:"blocking"` // findings that would refuse a deploy
	// PolicyError is why policy check could not judge the services of a
	// valid file (a deploy would stop there too); Findings are then empty.
	PolicyError string `json:"policy_error,omitempty"`
}

// Problem is a config.Error as --format json shows it.
type Problem struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
	Text    string `json:"text"` // the whole error as the text output prints it
}

func problems(errs []*config.Error) []Problem {
	var out []Problem
	for _, e := range errs {
		out = append(out, Problem{File: e.File, Line: e.Line, Column: e.Column, Path: e.Path, Message: e.Msg, Fix: e.Fix, Text: e.Error()})
	}
	return out
}

func check(ctx context.Context, path string, opts config.LoadOptions) (Check, error) {
	var c Check
	cfg, err := config.Load(ctx, path, opts)
	if err != nil {
		if !config.IsConfigError(err) {
			return c, err
		}
		// Load returns its warnings with its errors; they are not what
		// makes the file invalid.
		var errs, warns []*config.Error
		for _, e := range configErrors(err) {
			if e.Warning {
				warns = append(warns, e)
			} else {
				errs = append(errs, e)
			}
		}
		c.Errors, c.Warnings = problems(errs), problems(warns)
		return c, nil
	}
	c.Warnings = problems(cfg.Warnings)
	pol, err := deploy.PolicyFromConfig(cfg)
	if err != nil {
		// As for validate: a policy berth cannot build makes the file
		// invalid, whatever the kind of error.
		c.Errors = []Problem{{File: path, Path: "policy", Message: err.Error(), Text: path + ": policy: " + err.Error()}}
		return c, nil
	}
	c.Valid = true
	if c.Findings, err = checkPolicy(cfg, pol, cfg.Services, nil); err != nil {
		// berth.yaml is written by now: a judgement that fails is shown as
		// something to fix, like an invalid file, not as init failing.
		c.Findings, c.PolicyError = nil, err.Error()
		return c, nil
	}
	for _, s := range c.Findings {
		c.Blocking += len(policy.Blocking(s.Findings))
	}
	return c, nil
}

// checkPolicy is deploy.CheckPolicy; a test makes it fail.
var checkPolicy = deploy.CheckPolicy

// configErrors flattens what Load returns: an ErrorList or one *Error.
func configErrors(err error) []*config.Error {
	var list config.ErrorList
	if errors.As(err, &list) {
		return list
	}
	var one *config.Error
	if errors.As(err, &one) {
		return []*config.Error{one}
	}
	return nil
}

// Item is one thing to look at, in the order Result.FirstLook gives them.
type Item struct {
	Kind     string `json:"kind"` // "error", "block" or "review"
	Severity string `json:"severity,omitempty"`
	Service  string `json:"service,omitempty"`
	Text     string `json:"text"`
	Fix      string `json:"fix,omitempty"`
}

// FirstLook orders what the user should look at, most severe first: what
// makes berth.yaml invalid (nothing deploys until it is fixed), then the
// policy findings that would refuse a deploy, critical first, then the
// guesses, placeholders first since they cannot be right as written.
// Findings that only warn are counted by Warnings, not listed: policy
// check shows them.
func (r *Result) FirstLook() []Item {
	var out []Item
	for _, e := range r.Errors {
		out = append(out, Item{Kind: "error", Text: e.Text})
	}
	if r.PolicyError != "" {
		out = append(out, Item{Kind: "error", Text: "berth policy check cannot judge the services: " + r.PolicyError})
	}
	type block struct {
		service string
		f       policy.Finding
	}
	var blocks []block
	for _, s := range r.Findings {
		for _, f := range policy.Blocking(s.Findings) {
			blocks = append(blocks, block{s.Service, f})
		}
	}
	sort.SliceStable(blocks, func(i, j int) bool { return blocks[i].f.Severity > blocks[j].f.Severity })
	for _, b := range blocks {
		out = append(out, Item{Kind: "block", Severity: b.f.Severity.String(), Service: b.service,
			Text: b.f.Rule + ": " + b.f.Message, Fix: b.f.Fix})
	}
	reviews := append([]Review(nil), r.Reviews...)
	sort.SliceStable(reviews, func(a, b int) bool { return reviews[a].Placeholder && !reviews[b].Placeholder })
	for _, v := range reviews {
		out = append(out, Item{Kind: "review", Text: fmt.Sprintf("%s:%d: %s: %s", r.File, v.Line, v.Path, v.Msg)})
	}
	return out
}

// Warned counts the policy findings that warn without blocking (waived
// ones excluded: they were decided).
func (r *Result) Warned() int {
	n := 0
	for _, s := range r.Findings {
		for _, f := range s.Findings {
			if !f.Enforced && !f.Waived {
				n++
			}
		}
	}
	return n
}
