package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthhq/berth/internal/deploy"
)

// DeployOptions are `berth deploy`'s flags.
type DeployOptions struct {
	Images        []string
	Version       string
	LockWait      time.Duration
	Reason        string
	RecreateProxy bool
	NoBuild       bool
}

func newDeployCommand(g *Globals) *cobra.Command {
	var o DeployOptions
	cmd := &cobra.Command{
		Use:   "deploy [SERVICE...]",
		Short: "Roll out a new release with a health gate and a zero-downtime switch",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDeploy(cmd.Context(), g, o, args)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Images, "image", nil, "run SERVICE=REF instead of the compose image (repeatable)")
	f.StringVar(&o.Version, "version", "", "release version (default: the image tag or digest)")
	f.DurationVar(&o.LockWait, "lock-wait", 0, "wait this long for another deploy's lock instead of failing at once")
	f.StringVar(&o.Reason, "reason", "", "why you deploy, recorded in the lock")
	f.BoolVar(&o.NoBuild, "no-build", false, "deploy the images already built for services with build: instead of building them")
	f.BoolVar(&o.RecreateProxy, "recreate-proxy", false, "replace berth-proxy when its settings differ, even while other apps route through it (they lose it for about a second)")
	return cmd
}

func parseImages(flags []string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range flags {
		svc, ref, ok := strings.Cut(f, "=")
		if !ok || svc == "" || ref == "" {
			return nil, &UsageError{Msg: fmt.Sprintf("--image %q: expected SERVICE=REF (fix: e.g. --image web=shop:v2)", f)}
		}
		out[svc] = ref
	}
	return out, nil
}

func runDeploy(ctx context.Context, g *Globals, o DeployOptions, services []string) error {
	images, err := parseImages(o.Images)
	if err != nil {
		return err
	}
	d, closeAll, err := newDeployer(ctx, g)
	if err != nil {
		return err
	}
	defer closeAll()
	if !g.json() {
		fmt.Fprintln(g.Stderr, composeFilesLine(d.Cfg))
	}
	d.RecreateProxy = o.RecreateProxy
	res, err := d.Deploy(ctx, deploy.Options{Services: services, Images: images, Version: o.Version, LockWait: o.LockWait, Reason: o.Reason, NoBuild: o.NoBuild})
	d.Progress.(*progress).Close()
	printResult(g, res, err)
	return err
}

// printResult prints what a deploy or rollback did, also after a failure:
// the services that finished before it did are part of the truth.
func printResult(g *Globals, res *deploy.Result, err error) {
	if res == nil {
		return
	}
	if g.json() {
		out := struct {
			*deploy.Result
			OK    bool   `json:"ok"`
			Error string `json:"error,omitempty"`
		}{Result: res, OK: err == nil}
		if err != nil {
			out.Error = err.Error()
		}
		_ = printJSON(g.Stdout, out)
		return
	}
	for _, s := range res.Services {
		line := fmt.Sprintf("%s %s: %s", s.Host, s.Service, s.Action)
		if s.Release > 0 {
			line += fmt.Sprintf(" release %d (%s)", s.Release, s.Version)
		}
		if s.Replicas > 1 {
			line += fmt.Sprintf(", %d replicas", s.Replicas)
		}
		if s.Previous != "" {
			line += ", previous " + s.Previous + " stopped and kept"
		}
		fmt.Fprintf(g.Stdout, "%s in %.1fs\n", line, s.Seconds)
	}
}
