package cli

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/berthhq/berth/internal/proxy"
)

// newProxyForwardCommand is `berth proxy forward`: the port forwarder berth
// runs in one container per service with published ports.
func newProxyForwardCommand() *cobra.Command {
	var (
		o      proxy.ForwardOptions
		listen []string
	)
	cmd := &cobra.Command{
		Use:   "forward --listen tcp/PORT[:TARGET_PORT]...",
		Short: "Serve as a service's port forwarder (berth starts this in the service's -ports container)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, l := range listen {
				pl, err := proxy.ParseListener(l)
				if err != nil {
					return &UsageError{Msg: err.Error()}
				}
				o.Listeners = append(o.Listeners, pl)
			}
			o.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
			return proxy.RunForwarder(cmd.Context(), o)
		},
	}
	cmd.Flags().StringArrayVar(&listen, "listen", nil, "a port to forward: tcp/PORT or udp/PORT, optionally :TARGET_PORT (repeatable)")
	cmd.Flags().StringVar(&o.AdminSocket, "admin", proxy.DefaultForwardAdminSocket, "admin API unix socket")
	cmd.Flags().StringVar(&o.StateFile, "state", proxy.DefaultForwardStateFile, "where the current target persists")
	cmd.Flags().DurationVar(&o.UDPIdle, "udp-idle", proxy.DefaultUDPIdle, "end a UDP client's session after this long without traffic")
	return cmd
}
