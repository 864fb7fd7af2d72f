package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/berthhq/berth/internal/proxy"
)

func newProxyCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "berth-proxy, the per-host reverse proxy (runs inside its container)",
	}
	var (
		o           proxy.Options
		adminSocket string
	)
	run := &cobra.Command{
		Use:   "run",
		Short: "Serve as berth-proxy (berth starts this in the berth-proxy container)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
			o.AccessLog = os.Stdout
			return proxy.Run(cmd.Context(), o)
		},
	}
	run.Flags().StringVar(&o.Listen, "listen", ":8080", "HTTP listen address")
	run.Flags().StringVar(&o.AdminSocket, "admin", "/run/berth/admin.sock", "admin API unix socket")
	run.Flags().StringVar(&o.StateFile, "state", "/var/lib/berth-proxy/state.json", "route state file")
	run.Flags().Int64Var(&o.MaxBody, "max-body", 100<<20, "largest request body forwarded, in bytes")
	admin := &cobra.Command{
		Use:   "admin METHOD PATH [JSON]",
		Short: "Call berth-proxy's admin API on its unix socket (berth runs this with exec)",
		Args:  cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body []byte
			if len(args) == 3 {
				body = []byte(args[2])
			}
			return runProxyAdmin(cmd.Context(), g, adminSocket, args[0], args[1], body)
		},
	}
	admin.Flags().StringVar(&adminSocket, "admin", "/run/berth/admin.sock", "admin API unix socket")
	cmd.AddCommand(run, admin, newProxyForwardCommand())
	return cmd
}

func runProxyAdmin(ctx context.Context, g *Globals, socket, method, path string, body []byte) error {
	if err := proxy.AdminCall(ctx, socket, method, path, body, g.Stdout); err != nil {
		return fmt.Errorf("proxy admin: %w", err)
	}
	return nil
}
