package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/deploy"
)

// InvalidError is `berth validate`'s verdict on a bad configuration: exit 1,
// the answer to the question asked, rather than 2, a failure to run.
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return e.Err.Error() }

func (e *InvalidError) Unwrap() error { return e.Err }

func newValidateCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check berth.yaml and the compose file without touching any engine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runValidate(cmd.Context(), g)
		},
	}
}

func runValidate(ctx context.Context, g *Globals) error {
	cfg, err := loadConfig(ctx, g)
	if err != nil {
		if g.json() {
			_ = printJSON(g.Stdout, map[string]any{"valid": false, "error": err.Error()})
		}
		if config.IsConfigError(err) {
			return &InvalidError{Err: err}
		}
		return err
	}
	if _, err := deploy.PolicyFromConfig(cfg); err != nil {
		if g.json() {
			_ = printJSON(g.Stdout, map[string]any{"valid": false, "error": err.Error()})
		}
		return &InvalidError{Err: err}
	}
	if g.json() {
		type svc struct {
			Name  string   `json:"name"`
			Kind  string   `json:"kind"`
			Route string   `json:"route,omitempty"`
			Image string   `json:"image"`
			Hosts []string `json:"hosts"`
		}
		out := struct {
			Valid    bool   `json:"valid"`
			App      string `json:"app"`
			Compose  string `json:"compose"`
			Services []svc  `json:"services"`
		}{Valid: true, App: cfg.App, Compose: cfg.ComposeFile}
		for _, s := range cfg.Services {
			v := svc{Name: s.Name, Kind: s.Kind(), Image: s.Compose.Image, Hosts: s.Hosts}
			if s.Route != nil {
				v.Route = s.Route.Host
			}
			out.Services = append(out.Services, v)
		}
		return printJSON(g.Stdout, out)
	}
	fmt.Fprintf(g.Stdout, "%s: valid (app %s, %d services, %d hosts)\n", g.File, cfg.App, len(cfg.Services), len(cfg.Hosts))
	return nil
}
