package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/guard"
	"github.com/berthhq/berth/internal/policy"
	"github.com/berthhq/berth/internal/setup"
)

func newGuardCommand(g *Globals) *cobra.Command {
	var (
		name, socket, logFile string
	)
	cmd := &cobra.Command{
		Use:   "guard",
		Short: "Run berth's Docker authorization plugin in the foreground (the policy of -f judges every container the engine creates)",
		Long: `berth guard speaks Docker's authorization plugin protocol on
/run/docker/plugins/NAME.sock. An engine started with
--authorization-plugin=NAME asks it about every request: container create,
exec, service create and update, plugin install and image pulls are judged
by the policy of -f (a berth.yaml or a policy file; without one, the built-in
policy); everything else is allowed. SIGHUP reloads the policy. Decisions are
logged as JSON lines. See docs/guard.md, including how to recover when the
guard is down (the engine then refuses every request).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGuard(cmd.Context(), g, name, socket, logFile)
		},
	}
	cmd.Flags().StringVar(&socket, "socket", "", "socket path (default /run/docker/plugins/NAME.sock)")
	cmd.Flags().StringVar(&logFile, "log", "", "append decisions to this file instead of stderr")

	var o installOptions
	install := &cobra.Command{
		Use:   "install",
		Short: "Show, and with --yes make, the daemon.json change and the systemd unit that put the guard in front of the engine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.name = name
			return runGuardInstall(cmd.Context(), g, o, true)
		},
	}
	uninstall := &cobra.Command{
		Use:   "uninstall",
		Short: "Show, and with --yes make, the daemon.json change that takes the guard out (the way back when it is down)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.name = name
			return runGuardInstall(cmd.Context(), g, o, false)
		},
	}
	for _, c := range []*cobra.Command{install, uninstall} {
		c.Flags().StringVar(&o.daemonJSON, "daemon-json", "/etc/docker/daemon.json", "the engine's configuration file")
		c.Flags().StringVar(&o.unitFile, "unit-file", "/etc/systemd/system/berth-guard.service", "where the systemd unit goes")
		c.Flags().BoolVar(&o.yes, "yes", false, "make the change (without it, only show it)")
	}
	install.Flags().StringVar(&o.policyFile, "policy", "/etc/berth/policy.yaml", "the policy file the unit runs the guard with")
	cmd.PersistentFlags().StringVar(&name, "name", "berth", "plugin name: the engine runs with --authorization-plugin=NAME")
	cmd.AddCommand(install, uninstall)
	return cmd
}

// pluginName is what a plugin may be called: it names the socket file and
// the systemd unit's command line.
var pluginName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

func checkPluginName(name string) error {
	if !pluginName.MatchString(name) {
		return &UsageError{Msg: fmt.Sprintf("--name %q is not a plugin name (fix: lower-case letters, digits, '.', '_' and '-')", name)}
	}
	return nil
}

func runGuard(ctx context.Context, g *Globals, name, socket, logFile string) error {
	if err := checkPluginName(name); err != nil {
		return err
	}
	if socket == "" {
		socket = filepath.Join(guard.PluginDir, name+".sock")
	}
	var out io.Writer = g.Stderr
	if logFile != "" {
		f, err := os.OpenFile(logFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
		if err != nil {
			return fmt.Errorf("opening the decision log: %w", err)
		}
		defer f.Close()
		out = f
	}
	log := slog.New(slog.NewJSONHandler(out, nil))
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// The built-in policy applies only when no file was named and none is
	// here at start; once the guard runs from a file, a reload that cannot
	// read it keeps the last good policy rather than falling back.
	load := func() (policy.Policy, error) { return policy.Default(), nil }
	if _, err := os.Stat(g.File); g.File != defaultConfigFile || err == nil {
		abs, err := filepath.Abs(g.File)
		if err != nil {
			return err
		}
		load = func() (policy.Policy, error) {
			c, err := config.LoadPolicy(abs)
			if err != nil {
				return policy.Policy{}, err
			}
			return policy.FromConfig(c)
		}
	} else {
		log.Warn("no policy file (-f) and no berth.yaml here: enforcing the built-in policy")
	}
	return guard.Run(ctx, guard.Options{
		Socket: socket,
		Load:   load,
		Reload: hup,
		Log:    log,
	})
}

type installOptions struct {
	name, daemonJSON, unitFile, policyFile string
	yes                                    bool
}

type fileChange struct {
	Path    string `json:"path"`
	Changed bool   `json:"changed"`
	Diff    string `json:"diff,omitempty"`
	Backup  string `json:"backup,omitempty"`
}

func runGuardInstall(ctx context.Context, g *Globals, o installOptions, add bool) error {
	if err := checkPluginName(o.name); err != nil {
		return err
	}
	// Write through a symlinked daemon.json to the file it names.
	if r, err := filepath.EvalSymlinks(o.daemonJSON); err == nil {
		o.daemonJSON = r
	}
	plan, err := guard.PlanDaemonConfig(o.daemonJSON, o.name, add)
	if err != nil {
		return &UsageError{Msg: err.Error()}
	}
	changes := []fileChange{{Path: plan.Path, Changed: plan.Changed}}
	if plan.Changed {
		changes[0].Diff = guard.Diff(plan.Path, plan.Before, plan.After)
		if _, err := setup.Validate(ctx, plan.After); err != nil {
			return fmt.Errorf("the new %s does not validate, so nothing was written: %w", plan.Path, err)
		}
	}
	var unit []byte
	if add {
		self, err := os.Executable()
		if err != nil {
			self = "/usr/local/bin/berth"
		}
		unit = []byte(guard.SystemdUnit(self, o.policyFile, o.name))
		old, rerr := os.ReadFile(o.unitFile)
		if rerr != nil {
			old = nil
		}
		uc := fileChange{Path: o.unitFile, Changed: !bytes.Equal(old, unit)}
		if uc.Changed {
			uc.Diff = guard.Diff(o.unitFile, old, unit)
		}
		changes = append(changes, uc)
	}

	if o.yes {
		// The unit first: a daemon.json that names the plugin before
		// anything can start it would lock the engine on its next restart.
		if add && changes[1].Changed {
			if err := writeAtomic(o.unitFile, unit, 0o644); err != nil {
				return err
			}
		}
		if plan.Changed {
			if changes[0].Backup, err = replaceWithBackup(plan.Path, plan.Before, plan.After); err != nil {
				return err
			}
		}
	}

	if g.json() {
		return printJSON(g.Stdout, map[string]any{"changes": changes, "applied": o.yes})
	}
	for _, c := range changes {
		if !c.Changed {
			fmt.Fprintf(g.Stdout, "%s: no change needed\n", c.Path)
			continue
		}
		fmt.Fprint(g.Stdout, c.Diff)
		if c.Backup != "" {
			fmt.Fprintf(g.Stdout, "(previous file kept as %s)\n", c.Backup)
		}
	}
	if !o.yes {
		fmt.Fprintln(g.Stdout, "\nnothing was changed; run again with --yes to apply")
		return nil
	}
	if add {
		fmt.Fprintf(g.Stdout, `
applied. Next, in this order (the guard must answer before the engine asks it):
  install -D -m 0644 berth.yaml-or-policy.yaml %[1]s   # the policy the guard enforces
  systemctl daemon-reload && systemctl enable --now berth-guard
  systemctl restart docker      # running containers stop unless live-restore is on
If the guard is down the engine refuses every request; recover with
  systemctl restart berth-guard, or: berth guard uninstall --yes && systemctl restart docker
(docs/guard.md)
`, o.policyFile)
	} else {
		fmt.Fprintln(g.Stdout, "\napplied. Restart the engine to take the guard out: systemctl restart docker")
	}
	return nil
}

// replaceWithBackup writes after over the file at path, keeping its mode
// (daemon.json may hold credentials) and, when there was a file (before),
// a timestamped copy of it next to it, whose name it returns.
func replaceWithBackup(path string, before, after []byte) (string, error) {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	backup := ""
	if before != nil {
		backup = fmt.Sprintf("%s.berth-%s.bak", path, time.Now().UTC().Format("20060102T150405Z"))
		if err := writeAtomic(backup, before, mode); err != nil {
			return "", fmt.Errorf("backing up %s: %w (nothing was changed)", path, err)
		}
	}
	return backup, writeAtomic(path, after, mode)
}

// writeAtomic replaces path with data through a temporary file in the same
// directory, so a crash leaves the old file or the new one, never half.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// The rename is durable only once the directory is.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
