package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berthhq/berth/internal/audit"
	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/policy"
	"github.com/berthhq/berth/internal/version"
)

type auditOptions struct {
	failOn, endpoint  string
	only, skip, exclu []string
	list, deep        bool
}

func newAuditCommand(g *Globals) *cobra.Command {
	var o auditOptions
	cmd := &cobra.Command{
		Use:   "audit [engine|host|containers|images|all]...",
		Short: "Audit the engine, the host, every container and every image on the hosts",
		Long: `berth audit checks every host of berth.yaml (or the engine -H or DOCKER_HOST
names, without a berth.yaml): the engine's settings from its API, the host's
files when berth runs on the host, every container (berth's or not) by the
policy rules, and every image. Each result has a stable check ID, the CIS
Docker Benchmark item it maps to, a severity, a status (pass, fail, warn,
info, or skipped with the reason), the evidence seen and the fix.

Exit codes: 0, or 7 when a result fails (with --fail-on SEV: fails and
warnings at or above SEV), or 3 when part of the report could not be made.`,
		ValidArgs: []string{"engine", "host", "containers", "images", "all"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAudit(cmd.Context(), g, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.failOn, "fail-on", "", "exit 7 when a fail or warning is at or above this severity (low, medium, high, critical); default: any fail")
	f.StringVarP(&o.endpoint, "host", "H", "", "audit this engine (unix:///..., tcp://...) instead of berth.yaml's hosts")
	f.StringSliceVar(&o.only, "only", nil, "only these check IDs (comma-separated)")
	f.StringSliceVar(&o.skip, "skip", nil, "leave out these check IDs")
	f.StringSliceVar(&o.exclu, "exclude", nil, "leave out containers by name or by label key=value")
	f.BoolVar(&o.deep, "deep", false, "read every image's filesystem for setuid/setgid files (slow: it reads the whole image)")
	f.BoolVar(&o.list, "list", false, "list the checks (the policy rules are the container checks: berth policy list)")
	return cmd
}

func runAudit(ctx context.Context, g *Globals, o auditOptions, args []string) error {
	if o.list {
		checks := append(append(audit.EngineChecks(), audit.HostChecks()...), audit.ImageChecks()...)
		if g.json() {
			return printJSON(g.Stdout, map[string]any{"checks": checks})
		}
		tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tAREA\tSEVERITY\tCIS\tTITLE")
		for _, c := range checks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Area, c.Severity, c.CIS, c.Title)
		}
		return tw.Flush()
	}
	threshold, err := parseFailOn(o.failOn)
	if err != nil {
		return err
	}
	var areas []audit.Area
	for _, a := range args {
		switch a {
		case "all":
		case "engine", "host", "containers", "images":
			areas = append(areas, audit.Area(a))
		default:
			return &UsageError{Msg: fmt.Sprintf("no audit area %q (fix: one of engine, host, containers, images, all)", a)}
		}
	}
	if slices.Contains(args, "all") {
		areas = nil
	}
	sources, pol, closeAll, err := auditTargets(ctx, g, o.endpoint)
	if err != nil {
		return err
	}
	defer closeAll()
	rep := audit.Run(ctx, sources, audit.Options{Areas: areas, Policy: pol, Exclude: o.exclu, Deep: o.deep})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rep.Results = audit.Filter(rep.Results, o.only, o.skip)
	switch g.Format {
	case "sarif":
		err = audit.SARIF(g.Stdout, rep, version.Version)
	case "junit":
		err = audit.JUnit(g.Stdout, rep, threshold)
	case "json":
		err = printJSON(g.Stdout, map[string]any{"hosts": rep.Hosts, "results": rep.Results, "incomplete": rep.Incomplete,
			"counts": audit.Counts(rep.Results), "failing": audit.Failing(rep.Results, threshold)})
	default:
		err = audit.Text(g.Stdout, rep)
	}
	if err != nil {
		return err
	}
	if n := audit.Failing(rep.Results, threshold); n > 0 {
		return &ViolationsError{Count: n, Severity: threshold}
	}
	if len(rep.Incomplete) > 0 {
		return &IncompleteError{Parts: rep.Incomplete}
	}
	return nil
}

// auditTargets are the engines to audit and the policy to judge
// containers by: -H (or, without a berth.yaml, DOCKER_HOST or the local
// socket) with the built-in policy, or berth.yaml's hosts and policy.
func auditTargets(ctx context.Context, g *Globals, endpoint string) ([]audit.Source, policy.Policy, func(), error) {
	noConfig := false
	if g.File == defaultConfigFile {
		if _, err := os.Stat(g.File); errors.Is(err, fs.ErrNotExist) {
			noConfig = true
		}
	}
	if endpoint != "" || noConfig {
		if endpoint == "" {
			endpoint = os.Getenv("DOCKER_HOST")
		}
		if endpoint == "" {
			endpoint = engine.DefaultEndpoint
		}
		pol := policy.Default()
		if !noConfig {
			c, err := config.LoadPolicy(g.File)
			if err != nil {
				return nil, pol, nil, err
			}
			if pol, err = policy.FromConfig(c); err != nil {
				return nil, pol, nil, err
			}
		}
		ep := engine.Endpoint{Host: hostLabel(endpoint), URL: endpoint}
		if endpoint == os.Getenv("DOCKER_HOST") && os.Getenv("DOCKER_TLS_VERIFY") != "" {
			ep.TLSCert, ep.TLSVerify = os.Getenv("DOCKER_CERT_PATH"), true
		}
		c, err := engine.Connect(ctx, ep)
		if err != nil {
			return nil, pol, nil, err
		}
		return []audit.Source{c}, pol, func() { c.Close() }, nil
	}
	cfg, err := loadConfig(ctx, g)
	if err != nil {
		return nil, policy.Policy{}, nil, err
	}
	pol, err := policy.FromConfig(cfg.Policy)
	if err != nil {
		return nil, pol, nil, err
	}
	hosts, closeAll, err := connectAll(ctx, cfg)
	if err != nil {
		return nil, pol, nil, err
	}
	var out []audit.Source
	for _, h := range cfg.Hosts {
		s, ok := hosts[h.Name].(audit.Source)
		if !ok {
			closeAll()
			return nil, pol, nil, fmt.Errorf("host %s: this engine client cannot be audited", h.Name)
		}
		out = append(out, s)
	}
	return out, pol, closeAll, nil
}

// hostLabel names an engine given by its endpoint in reports.
func hostLabel(endpoint string) string {
	if strings.HasPrefix(endpoint, "unix://") {
		return "local"
	}
	s := strings.TrimPrefix(strings.TrimPrefix(endpoint, "tcp://"), "ssh://")
	return strings.TrimSuffix(s, "/")
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
