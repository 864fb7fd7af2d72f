package cli

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// RemoveOptions are `berth remove`'s flags.
type RemoveOptions struct {
	Volumes bool
	Yes     bool
}

func newRemoveCommand(g *Globals) *cobra.Command {
	var o RemoveOptions
	cmd := &cobra.Command{
		Use:   "remove",
		Short: "Take the app down: routes, containers and its network (volumes only with --volumes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRemove(cmd.Context(), g, o)
		},
	}
	cmd.Flags().BoolVar(&o.Volumes, "volumes", false, "also delete the app's named volumes and their data")
	cmd.Flags().BoolVar(&o.Yes, "yes", false, "do not ask for confirmation")
	return cmd
}

func runRemove(ctx context.Context, g *Globals, o RemoveOptions) error {
	d, closeAll, err := newDeployer(ctx, g)
	if err != nil {
		return err
	}
	defer closeAll()
	plan, err := d.PlanRemoval(ctx)
	if err != nil {
		return err
	}
	if !g.json() {
		for _, h := range plan.Hosts {
			fmt.Fprintf(g.Stderr, "host %s:\n", h.Host)
			for _, r := range h.Routes {
				fmt.Fprintf(g.Stderr, "  remove route      %s\n", r)
			}
			for _, c := range h.Containers {
				fmt.Fprintf(g.Stderr, "  remove container  %s\n", c)
			}
			for _, v := range h.Volumes {
				if o.Volumes {
					fmt.Fprintf(g.Stderr, "  DELETE volume     %s (its data is lost)\n", v)
				} else {
					fmt.Fprintf(g.Stderr, "  keep volume       %s (delete with --volumes)\n", v)
				}
			}
		}
	}
	if !o.Yes {
		want := "yes"
		if o.Volumes {
			want = d.Cfg.App
		}
		fmt.Fprintf(g.Stderr, "Type %q to take app %s down: ", want, d.Cfg.App)
		line, _ := bufio.NewReader(g.Stdin).ReadString('\n')
		if strings.TrimSpace(line) != want {
			return &UsageError{Msg: "not confirmed; nothing was removed (fix: answer the prompt, or pass --yes in scripts)"}
		}
	}
	err = d.Remove(ctx, plan, o.Volumes, 0)
	d.Progress.(*progress).Close()
	if err != nil {
		return err
	}
	if g.json() {
		return printJSON(g.Stdout, map[string]any{"removed": plan, "volumes_deleted": o.Volumes})
	}
	fmt.Fprintf(g.Stdout, "app %s removed\n", d.Cfg.App)
	return nil
}
