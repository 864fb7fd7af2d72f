package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthhq/berth/internal/release"
)

func newLockCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Show or release the app's deploy lock",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Who holds the deploy lock, since when and why",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLock(cmd.Context(), g, false)
		},
	}, &cobra.Command{
		Use:   "release",
		Short: "Remove the deploy lock left by a berth that was killed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLock(cmd.Context(), g, true)
		},
	})
	return cmd
}

func runLock(ctx context.Context, g *Globals, unlock bool) error {
	cfg, err := loadConfig(ctx, g)
	if err != nil {
		return err
	}
	// Only the lock's host: these commands are for when something is wrong,
	// and another host being down must not stand in the way.
	lockCfg := *cfg
	lockCfg.Hosts = cfg.Hosts[:1]
	hosts, closeAll, err := connectAll(ctx, &lockCfg)
	if err != nil {
		return err
	}
	defer closeAll()
	eng := hosts[cfg.Hosts[0].Name]
	lock, err := release.Status(ctx, eng, cfg.App)
	if err != nil {
		return err
	}
	if unlock && lock != nil {
		if err := release.Unlock(ctx, eng, cfg.App); err != nil {
			return err
		}
	}
	if g.json() {
		return printJSON(g.Stdout, map[string]any{"locked": lock != nil && !unlock, "released": unlock && lock != nil, "lock": lock})
	}
	switch {
	case lock == nil:
		fmt.Fprintf(g.Stdout, "app %s is not locked\n", cfg.App)
	case unlock:
		fmt.Fprintf(g.Stdout, "released the lock of app %s held by %s since %s (%s)\n", cfg.App, lock.Holder, lock.Since.Format(time.RFC3339), lock.Reason)
	default:
		fmt.Fprintf(g.Stdout, "app %s is locked on host %s by %s since %s (%s ago): %s\n", cfg.App, lock.Host, lock.Holder, lock.Since.Format(time.RFC3339), time.Since(lock.Since).Round(time.Second), lock.Reason)
	}
	return nil
}
