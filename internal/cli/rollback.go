package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthhq/berth/internal/deploy"
)

// RollbackOptions are `berth rollback`'s flags.
type RollbackOptions struct {
	To            int
	LockWait      time.Duration
	RecreateProxy bool
}

func newRollbackCommand(g *Globals) *cobra.Command {
	var o RollbackOptions
	cmd := &cobra.Command{
		Use:   "rollback [SERVICE]",
		Short: "Bring back a kept release (health-gated, zero downtime)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRollback(cmd.Context(), g, o, args)
		},
	}
	cmd.Flags().IntVar(&o.To, "to", 0, "release number to return to (default: the one before the serving release)")
	cmd.Flags().DurationVar(&o.LockWait, "lock-wait", 0, "wait this long for another deploy's lock")
	cmd.Flags().BoolVar(&o.RecreateProxy, "recreate-proxy", false, "replace berth-proxy when its settings differ, even while other apps route through it")
	return cmd
}

func runRollback(ctx context.Context, g *Globals, o RollbackOptions, services []string) error {
	d, closeAll, err := newDeployer(ctx, g)
	if err != nil {
		return err
	}
	defer closeAll()
	d.RecreateProxy = o.RecreateProxy
	res, err := d.Rollback(ctx, deploy.RollbackOptions{Services: services, To: o.To, LockWait: o.LockWait})
	d.Progress.(*progress).Close()
	printResult(g, res, err)
	return err
}
