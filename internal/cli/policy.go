package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/deploy"
	"github.com/berthhq/berth/internal/policy"
	"github.com/berthhq/berth/internal/version"
)

// ViolationsError is `policy check --fail-on`'s verdict.
type ViolationsError struct {
	Count    int
	Severity policy.Severity
}

func (e *ViolationsError) Error() string {
	if e.Severity == 0 {
		return fmt.Sprintf("%d checks failed", e.Count)
	}
	return fmt.Sprintf("%d findings at or above %s", e.Count, e.Severity)
}

func newPolicyCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Least-privilege rules: list them, check the config against them"}
	var failOn string
	check := &cobra.Command{
		Use:   "check",
		Short: "Judge the containers the config would create (no engine needed; for CI)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPolicyCheck(cmd.Context(), g, failOn)
		},
	}
	check.Flags().StringVar(&failOn, "fail-on", "", "exit 7 when a finding is at or above this severity (low, medium, high, critical); default: when a finding is enforced")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the rules: built-in, and the custom ones of berth.yaml (or of a policy file given with -f)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPolicyList(g)
		},
	}
	explain := &cobra.Command{
		Use:   "explain RULE",
		Short: "What a rule checks, why, and how to fix it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPolicyExplain(g, args[0])
		},
	}
	fields := &cobra.Command{
		Use:   "fields",
		Short: "The fields of spec that custom rules (CEL) can use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.json() {
				return printJSON(g.Stdout, map[string]any{"fields": policy.SpecFields()})
			}
			for _, f := range policy.SpecFields() {
				fmt.Fprintln(g.Stdout, f)
			}
			return nil
		},
	}
	cmd.AddCommand(check, list, explain, fields)
	return cmd
}

// policyOnly loads the policy of berth.yaml, or of the policy file -f names,
// without the compose file. With the default berth.yaml absent it is the
// built-in policy: list and explain work anywhere.
func policyOnly(g *Globals) (policy.Policy, error) {
	if g.File == defaultConfigFile {
		if _, err := os.Stat(g.File); errors.Is(err, fs.ErrNotExist) {
			return policy.Default(), nil
		}
	}
	c, err := config.LoadPolicy(g.File)
	if err != nil {
		return policy.Policy{}, err
	}
	return policy.FromConfig(c)
}

func runPolicyExplain(g *Globals, id string) error {
	pol, err := policyOnly(g)
	if err != nil {
		return err
	}
	r, ok := pol.RuleByID(id)
	if !ok {
		var ids []string
		for _, r := range pol.AllRules() {
			ids = append(ids, r.ID)
		}
		return &UsageError{Msg: fmt.Sprintf("no rule %q (fix: one of %s)", id, strings.Join(ids, ", "))}
	}
	if g.json() {
		return printJSON(g.Stdout, r)
	}
	kind := "built-in"
	if r.Custom {
		kind = "custom"
	}
	fmt.Fprintf(g.Stdout, "%s: %s\n%s rule, severity: %s", r.ID, r.Title, kind, r.Severity)
	if r.CIS != "" {
		fmt.Fprintf(g.Stdout, "   CIS Docker Benchmark: %s", r.CIS)
	}
	fmt.Fprintln(g.Stdout)
	if r.Expr != "" {
		fmt.Fprintf(g.Stdout, "violation (CEL): %s\n", strings.TrimSpace(r.Expr))
	}
	if r.Rationale != "" {
		fmt.Fprintf(g.Stdout, "why: %s\n", r.Rationale)
	}
	if r.Fix != "" {
		fmt.Fprintf(g.Stdout, "fix: %s\n", r.Fix)
	}
	mode := pol.Mode
	if m, ok := pol.Rules[r.ID]; ok {
		mode = m
	}
	verdictAt := func(sev policy.Severity) string {
		switch {
		case mode == policy.Off:
			return "is off"
		case mode == policy.Enforce && sev >= pol.Threshold:
			return "blocks"
		}
		return "warns"
	}
	verdict := verdictAt(r.Severity)
	if r.Lowest != 0 && verdictAt(r.Lowest) != verdict {
		// Findings of this rule differ in severity: say what each does.
		verdict = fmt.Sprintf("%s at %s, %s at %s", verdict, r.Severity, verdictAt(r.Lowest), r.Lowest)
	}
	fmt.Fprintf(g.Stdout, "in this policy: %s (mode %s, threshold %s)\n", verdict, mode, pol.Threshold)
	for _, w := range pol.Waivers {
		if w.Rule == r.ID {
			fmt.Fprintf(g.Stdout, "waiver: %s (%s)\n", waiverTarget(w), w.Reason)
		}
	}
	return nil
}

func waiverTarget(w policy.Waiver) string {
	s := ""
	switch {
	case w.Service != "":
		s = "service " + w.Service
	case w.Container != "":
		s = "container " + w.Container
	default:
		s = "label " + w.Label
	}
	if !w.Expires.IsZero() {
		s += ", until " + w.Expires.Format("2006-01-02")
	}
	return s
}

func runPolicyList(g *Globals) error {
	pol, err := policyOnly(g)
	if err != nil {
		return err
	}
	rules := pol.AllRules()
	if g.json() {
		return printJSON(g.Stdout, map[string]any{"rules": rules})
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tCIS\tTITLE")
	for _, r := range rules {
		cis := r.CIS
		if r.Custom {
			cis = "custom"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Severity, cis, r.Title)
	}
	return tw.Flush()
}

func runPolicyCheck(ctx context.Context, g *Globals, failOn string) error {
	threshold, err := parseFailOn(failOn)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(ctx, g)
	if err != nil {
		return err
	}
	pol, err := deploy.PolicyFromConfig(cfg)
	if err != nil {
		return err
	}
	results, err := deploy.CheckPolicy(cfg, pol, cfg.Services, nil)
	if err != nil {
		return err
	}
	failing := 0
	for _, r := range results {
		failing += countFailing(r.Findings, threshold)
	}
	if g.Format == "sarif" {
		var rs []policy.SARIFResult
		for _, r := range results {
			// Each result sits at its service's key in the compose file
			// that defines it, so code scanning annotates that line.
			src := config.Position{File: cfg.ComposeFile}
			if svc := cfg.Service(r.Service); svc != nil && svc.Source.File != "" {
				src = svc.Source
			}
			for _, f := range r.Findings {
				rs = append(rs, policy.SARIFResult{Finding: f, File: relPath(src.File), Line: src.Line, Column: src.Column, Logical: "service/" + r.Service})
			}
		}
		if err := printSARIF(g, rs, pol.AllRules()); err != nil {
			return err
		}
	} else if g.json() {
		if err := printJSON(g.Stdout, map[string]any{"services": results, "failing": failing}); err != nil {
			return err
		}
	} else if n := countFindings(results); n == 0 {
		fmt.Fprintf(g.Stdout, "no findings: %d services checked against %d rules\n", len(results), len(pol.AllRules()))
	} else {
		tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SERVICE\tRULE\tSEVERITY\tVERDICT\tFINDING\tFIX")
		for _, r := range results {
			for _, f := range r.Findings {
				verdict := verdictOf(f)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Service, f.Rule, f.Severity, verdict, f.Message, f.Fix)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return failingError(failing, threshold)
}

func countFindings(results []deploy.ServiceFindings) int {
	n := 0
	for _, r := range results {
		n += len(r.Findings)
	}
	return n
}

// verdictOf says what a finding does, waivers included: they are shown,
// never hidden.
func verdictOf(f policy.Finding) string {
	switch {
	case f.Waived:
		return "waived: " + f.Waiver
	case f.Enforced && f.WaiverExpired != "":
		return "BLOCK (" + f.WaiverExpired + ")"
	case f.Enforced:
		return "BLOCK"
	case f.WaiverExpired != "":
		return "warn (" + f.WaiverExpired + ")"
	}
	return "warn"
}

// relPath shows a file relative to the working directory when it is below
// it, as code scanning wants repository-relative paths.
func relPath(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
			return filepath.ToSlash(r)
		}
	}
	return filepath.ToSlash(p)
}

func printSARIF(g *Globals, rs []policy.SARIFResult, rules []policy.Rule) error {
	b, err := policy.SARIF(rs, rules, version.Version)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(g.Stdout, string(b))
	return err
}
