package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

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
		Short: "List the built-in rules",
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
	cmd.AddCommand(check, list, explain)
	return cmd
}

func runPolicyExplain(g *Globals, id string) error {
	r, ok := policy.RuleByID(id)
	if !ok {
		var ids []string
		for _, r := range policy.Rules() {
			ids = append(ids, r.ID)
		}
		return &UsageError{Msg: fmt.Sprintf("no rule %q (fix: one of %s)", id, strings.Join(ids, ", "))}
	}
	if g.json() {
		return printJSON(g.Stdout, r)
	}
	fmt.Fprintf(g.Stdout, "%s: %s\nseverity: %s", r.ID, r.Title, r.Severity)
	if r.CIS != "" {
		fmt.Fprintf(g.Stdout, "   CIS Docker Benchmark: %s", r.CIS)
	}
	fmt.Fprintf(g.Stdout, "\nwhy: %s\nfix: %s\n", r.Rationale, r.Fix)
	return nil
}

func runPolicyList(g *Globals) error {
	rules := policy.Rules()
	if g.json() {
		return printJSON(g.Stdout, map[string]any{"rules": rules})
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tCIS\tTITLE")
	for _, r := range rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Severity, r.CIS, r.Title)
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
		rel := relPath(cfg.ComposeFile)
		for _, r := range results {
			for _, f := range r.Findings {
				rs = append(rs, policy.SARIFResult{Finding: f, File: rel, Logical: "service/" + r.Service})
			}
		}
		if err := printSARIF(g, rs); err != nil {
			return err
		}
	} else if g.json() {
		if err := printJSON(g.Stdout, map[string]any{"services": results, "failing": failing}); err != nil {
			return err
		}
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

func printSARIF(g *Globals, rs []policy.SARIFResult) error {
	b, err := policy.SARIF(rs, version.Version)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(g.Stdout, string(b))
	return err
}
