package cli

import (
	"context"
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berthhq/berth/internal/audit"
	"github.com/berthhq/berth/internal/deploy"
	"github.com/berthhq/berth/internal/policy"
)

func newAuditCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Judge what runs on the hosts"}
	var failOn string
	containers := &cobra.Command{
		Use:   "containers",
		Short: "Every container on every host, berth's or not, judged by the policy rules",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAuditContainers(cmd.Context(), g, failOn)
		},
	}
	containers.Flags().StringVar(&failOn, "fail-on", "", "exit 7 when a finding is at or above this severity (default: when a finding would be enforced)")
	cmd.AddCommand(containers)
	return cmd
}

func runAuditContainers(ctx context.Context, g *Globals, failOn string) error {
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
	hosts, closeAll, err := connectAll(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeAll()
	names := make([]string, 0, len(hosts))
	for name := range hosts {
		names = append(names, name)
	}
	sort.Strings(names)
	var engines []audit.Engine
	for _, n := range names {
		e, ok := hosts[n].(audit.Engine)
		if !ok {
			return fmt.Errorf("host %s: this engine client cannot be audited", n)
		}
		engines = append(engines, e)
	}
	reports, err := audit.Containers(ctx, engines, pol)
	if err != nil {
		return err
	}
	failing := 0
	for _, r := range reports {
		failing += countFailing(r.Findings, threshold)
	}
	if g.Format == "sarif" {
		var rs []policy.SARIFResult
		for _, r := range reports {
			for _, f := range r.Findings {
				rs = append(rs, policy.SARIFResult{Finding: f, Logical: r.Host + "/" + r.Container})
			}
		}
		if err := printSARIF(g, rs, pol.AllRules()); err != nil {
			return err
		}
	} else if g.json() {
		if err := printJSON(g.Stdout, map[string]any{"containers": reports, "failing": failing}); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "HOST\tCONTAINER\tRULE\tSEVERITY\tVERDICT\tFINDING\tFIX")
		for _, r := range reports {
			for _, f := range r.Findings {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Host, r.Container, f.Rule, f.Severity, verdictOf(f), f.Message, f.Fix)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return failingError(failing, threshold)
}

// parseFailOn reads --fail-on; 0 means "when a finding is enforced".
func parseFailOn(s string) (policy.Severity, error) {
	if s == "" {
		return 0, nil
	}
	sev, err := policy.ParseSeverity(s)
	if err != nil {
		return 0, &UsageError{Msg: "--fail-on: " + err.Error()}
	}
	return sev, nil
}

func countFailing(fs []policy.Finding, threshold policy.Severity) int {
	n := 0
	for _, f := range fs {
		if f.Waived {
			continue
		}
		if threshold > 0 && f.Severity >= threshold || threshold == 0 && f.Enforced {
			n++
		}
	}
	return n
}

func failingError(n int, threshold policy.Severity) error {
	if n == 0 {
		return nil
	}
	if threshold == 0 {
		threshold = policy.High
	}
	return &ViolationsError{Count: n, Severity: threshold}
}
