// Package cli holds berth's commands: each file parses flags, calls a domain
// package and prints. No deploy logic lives here.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/berthhq/berth/internal/version"
)

// Globals are the flags every command shares.
// defaultConfigFile is what -f names when not given.
const defaultConfigFile = "berth.yaml"

type Globals struct {
	File     string
	Format   string
	Profiles []string
	Stdout   io.Writer
	Stderr   io.Writer
	Stdin    io.Reader
}

func (g *Globals) json() bool { return g.Format == "json" }

func (g *Globals) check() error {
	if g.Format != "text" && g.Format != "json" && g.Format != "sarif" && g.Format != "junit" {
		return &UsageError{Msg: fmt.Sprintf("--format %q is not supported (fix: use text or json; sarif for policy check and audit; junit for audit)", g.Format)}
	}
	return nil
}

// sarif reports whether SARIF output was asked for; commands that do not
// speak it refuse it.
func (g *Globals) sarif(cmd string, supported bool) (bool, error) {
	if g.Format != "sarif" {
		return false, nil
	}
	if !supported {
		return false, &UsageError{Msg: fmt.Sprintf("%s does not write SARIF (fix: use --format text or json; sarif is for policy check and audit)", cmd)}
	}
	return true, nil
}

// NewRootCommand builds the berth command tree.
func NewRootCommand() *cobra.Command {
	g := &Globals{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin}
	root := &cobra.Command{
		Use:           "berth",
		Short:         "Run Docker in production: zero-downtime deploys of a compose app",
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := g.check(); err != nil {
				return err
			}
			_, err := g.sarif(cmd.CommandPath(), cmd.Name() == "check" || cmd.Name() == "containers")
			return err
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Msg: err.Error()} })
	pf := root.PersistentFlags()
	pf.StringVarP(&g.File, "file", "f", defaultConfigFile, "path to berth.yaml (the compose file is found relative to it)")
	pf.StringVar(&g.Format, "format", "text", "output format: text or json")
	pf.StringSliceVar(&g.Profiles, "profile", nil, "compose profile to enable (repeatable; default: COMPOSE_PROFILES, as docker compose)")
	root.AddCommand(
		newInitCommand(g),
		newValidateCommand(g),
		newDeployCommand(g),
		newRollbackCommand(g),
		newReleasesCommand(g),
		newStatusCommand(g),
		newLockCommand(g),
		newRemoveCommand(g),
		newProxyCommand(g),
		newPolicyCommand(g),
		newAuditCommand(g),
		newGuardCommand(g),
		newSetupCommand(g),
		newDoctorCommand(g),
	)
	return root
}

// Execute runs berth and returns the process exit code.
func Execute(ctx context.Context, args []string) int {
	root := NewRootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		if ctx.Err() != nil && ExitCode(err) == ExitError {
			// Keep the real error: a cleanup that failed after the
			// interrupt is what the operator needs to see.
			err = fmt.Errorf("interrupted: %w", errors.Join(ctx.Err(), err))
		}
		fmt.Fprintln(os.Stderr, "berth: "+err.Error())
	}
	return ExitCode(err)
}
