package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthhq/berth/internal/deploy"
)

func newStatusCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show what serves on every host: releases, proxy routes, lock",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), g)
		},
	}
}

func readStatus(ctx context.Context, g *Globals) ([]deploy.HostStatus, error) {
	d, closeAll, err := newDeployer(ctx, g)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	return d.Status(ctx)
}

func runStatus(ctx context.Context, g *Globals) error {
	hosts, err := readStatus(ctx, g)
	if err != nil {
		return err
	}
	if g.json() {
		return printJSON(g.Stdout, map[string]any{"hosts": hosts})
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	for _, h := range hosts {
		fmt.Fprintf(tw, "host %s (%s)\n", h.Host, h.Endpoint)
		if h.Proxy != nil {
			fmt.Fprintf(tw, "  proxy\t%s\t%s\t%d routes\n", h.Proxy.State, h.Proxy.Image, len(h.Proxy.Routes))
		} else {
			fmt.Fprintf(tw, "  proxy\tnot running\n")
		}
		for _, s := range h.Services {
			cur := "not deployed"
			if s.Current != nil {
				cur = fmt.Sprintf("%s %s", s.Current.Container, s.Current.State)
				if s.Current.Number > 0 {
					cur = fmt.Sprintf("release %d (%s) %s %s", s.Current.Number, s.Current.Version, s.Current.Container, s.Current.State)
				}
				if n := len(s.Current.Containers); n > 1 {
					cur += fmt.Sprintf(" (%d of %d replicas)", n, s.Current.Replicas)
				}
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.Service, s.Kind, s.Route, cur)
			if p := s.Ports; p != nil {
				fmt.Fprintf(tw, "    ports\t%s\t%s\t%s -> %s\n", p.State, p.Container, strings.Join(p.Ports, " "), strings.Join(p.Targets, ", "))
			}
		}
		if h.Lock != nil {
			fmt.Fprintf(tw, "  lock\theld by %s since %s (%s)\n", h.Lock.Holder, h.Lock.Since.Format(time.RFC3339), h.Lock.Reason)
		}
	}
	return tw.Flush()
}

func newReleasesCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "releases [SERVICE]",
		Short: "List the kept releases of each service, newest first",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReleases(cmd.Context(), g, args)
		},
	}
}

func runReleases(ctx context.Context, g *Globals, args []string) error {
	hosts, err := readStatus(ctx, g)
	if err != nil {
		return err
	}
	type row struct {
		Host string `json:"host"`
		deploy.ServiceStatus
	}
	var rows []row
	found := len(args) == 0
	for _, h := range hosts {
		for _, s := range h.Services {
			if len(args) == 1 && s.Service != args[0] {
				continue
			}
			found = true
			if s.Kind != "accessory" {
				rows = append(rows, row{Host: h.Host, ServiceStatus: s})
			}
		}
	}
	if !found {
		return &UsageError{Msg: fmt.Sprintf("service %q is not in the compose file (fix: `berth status` lists the services)", args[0])}
	}
	if g.json() {
		return printJSON(g.Stdout, map[string]any{"services": rows})
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tSERVICE\tRELEASE\tVERSION\tIMAGE\tREPLICAS\tSTATE\tCREATED\t")
	for _, r := range rows {
		for _, rel := range r.Releases {
			mark := ""
			if rel.Current {
				mark = "(serving)"
			}
			// Replicas that exist of those the release was created with.
			replicas := fmt.Sprintf("%d/%d", len(rel.Containers), rel.Replicas)
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Host, r.Service, rel.Number, rel.Version, shortImage(rel.Image), replicas, rel.State, rel.Created.Local().Format(time.DateTime), mark)
		}
	}
	return tw.Flush()
}

// shortImage shortens an image shown by ID (its tag moved on to a newer
// image) the way `docker ps` does.
func shortImage(ref string) string {
	if id, ok := strings.CutPrefix(ref, "sha256:"); ok && len(id) > 12 {
		return id[:12]
	}
	return ref
}
