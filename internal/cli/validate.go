package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/deploy"
	"github.com/berthhq/berth/internal/policy"
)

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
	// An invalid configuration exits with the config-error code, as every
	// other command that reads it does (docs/exit-codes.md).
	cfg, err := loadConfig(ctx, g)
	if err == nil {
		var pol policy.Policy
		if pol, err = deploy.PolicyFromConfig(cfg); err == nil {
			// Planning every container finds what loads but cannot be
			// deployed (a secret berth cannot mount), so validate and
			// policy check agree.
			_, err = deploy.CheckPolicy(cfg, pol, cfg.Services, nil)
		}
	}
	if err != nil {
		if g.json() && config.IsConfigError(err) {
			_ = printJSON(g.Stdout, map[string]any{"valid": false, "error": err.Error(), "problems": problems(err)})
		}
		return err
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
			Valid        bool     `json:"valid"`
			App          string   `json:"app"`
			Compose      string   `json:"compose"`
			ComposeFiles []string `json:"compose_files"`
			Warnings     []string `json:"warnings"`
			Services     []svc    `json:"services"`
		}{Valid: true, App: cfg.App, Compose: cfg.ComposeFile, ComposeFiles: cfg.ComposeFiles, Warnings: []string{}}
		for _, w := range cfg.Warnings {
			out.Warnings = append(out.Warnings, w.Error())
		}
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
	fmt.Fprintln(g.Stdout, composeFilesLine(cfg))
	return nil
}

// problem is one config error or warning for --format json, positioned so
// an editor or CI annotation can point at it.
type problem struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
	Warning bool   `json:"warning,omitempty"`
}

func problems(err error) []problem {
	var list config.ErrorList
	var one *config.Error
	switch {
	case errors.As(err, &list):
	case errors.As(err, &one):
		list = config.ErrorList{one}
	}
	out := []problem{}
	for _, e := range list {
		out = append(out, problem{File: e.File, Line: e.Line, Column: e.Column, Path: e.Path, Message: e.Msg, Fix: e.Fix, Warning: e.Warning})
	}
	return out
}
