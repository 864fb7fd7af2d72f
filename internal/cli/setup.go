package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthhq/berth/internal/audit"
	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/guard"
	"github.com/berthhq/berth/internal/setup"
)

const defaultDaemonJSON = "/etc/docker/daemon.json"

type setupOptions struct {
	daemonJSON, endpoint string
	override             []string
	yes, dryRun, restart bool
}

func newSetupCommand(g *Globals) *cobra.Command {
	var o setupOptions
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Bring the engine's daemon.json to production defaults (shows the diff; writes only with --yes)",
		Long: `berth setup computes the daemon.json change that gives the engine production
defaults (log rotation, live-restore, no-new-privileges, icc off,
userland-proxy off, default ulimits, metrics on loopback), merges it with the
keys already there, shows the diff, validates the result, and writes it only
with --yes, keeping the old file next to it. A key you set to another value
is never changed unless named with --override. The engine is restarted only
with --restart. For an engine on another machine (-H tcp://, ssh://) it
prints the file to write there.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSetup(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.daemonJSON, "daemon-json", defaultDaemonJSON, "the engine's configuration file")
	f.StringVarP(&o.endpoint, "host", "H", "", "the engine to set up (default: the local one); a remote one gets the file printed")
	f.StringSliceVar(&o.override, "override", nil, "keys you set that setup may change (comma-separated)")
	f.BoolVar(&o.yes, "yes", false, "write the change")
	f.BoolVar(&o.dryRun, "dry-run", false, "only show the change (the default without --yes)")
	f.BoolVar(&o.restart, "restart", false, "restart the engine afterwards (systemctl restart docker)")
	return cmd
}

func runSetup(ctx context.Context, g *Globals, o setupOptions) error {
	if o.yes && o.dryRun {
		return &UsageError{Msg: "--yes and --dry-run contradict each other (fix: choose one)"}
	}
	if o.endpoint == "" {
		o.endpoint = os.Getenv("DOCKER_HOST") // as audit and doctor do
	}
	remote := o.endpoint != "" && !strings.HasPrefix(o.endpoint, "unix://")
	// Write through a symlinked daemon.json to the file it names.
	if r, err := filepath.EvalSymlinks(o.daemonJSON); err == nil {
		o.daemonJSON = r
	}
	state := readEngineState(ctx, o.endpoint)
	opts := setup.Options{Override: o.override, Swarm: state.swarm}
	// The flags of this host's dockerd bear on its own daemon.json; another
	// file (--daemon-json) belongs to an engine berth does not see start.
	if !remote && o.daemonJSON == defaultDaemonJSON {
		fl := audit.ReadDockerdFlags("/")
		opts.Flags, opts.FlagLogOpts = fl.Keys, fl.LogOpts
	}
	path := o.daemonJSON
	if remote {
		path = os.DevNull // berth cannot read the file there
	}
	plan, err := setup.Compute(path, opts)
	if err != nil {
		return &UsageError{Msg: err.Error()}
	}
	plan.Path = o.daemonJSON
	validated := ""
	if plan.Changed {
		if validated, err = setup.Validate(ctx, plan.After); err != nil {
			return fmt.Errorf("the new %s does not validate, so nothing was written: %w", plan.Path, err)
		}
	}
	backup := ""
	write := o.yes && plan.Changed && !remote
	if write {
		if backup, err = replaceWithBackup(plan.Path, plan.Before, plan.After); err != nil {
			return err
		}
	}
	if g.json() {
		out := map[string]any{"plan": plan, "written": write, "backup": backup, "validated_by": validated}
		if remote {
			out["file"] = string(plan.After)
		}
		if plan.Changed {
			out["diff"] = guard.Diff(plan.Path, plan.Before, plan.After)
		}
		if err := printJSON(g.Stdout, out); err != nil {
			return err
		}
	} else {
		for _, c := range plan.Changes {
			switch c.Action {
			case "add", "override":
				fmt.Fprintf(g.Stdout, "set   %-18s %v: %s\n", c.Key, jsonText(c.Value), c.Why)
			case "keep":
				fmt.Fprintf(g.Stdout, "ok    %-18s already %v\n", c.Key, jsonText(c.Value))
			case "kept":
				fmt.Fprintf(g.Stdout, "kept  %-18s you set %v; berth would set %v (--override %s to change it)\n", c.Key, jsonText(c.Current), jsonText(c.Value), c.Key)
			case "skip":
				fmt.Fprintf(g.Stdout, "skip  %-18s not set: %s\n", c.Key, c.Reason)
			case "flag":
				fmt.Fprintf(g.Stdout, "flag  %-18s set on dockerd's command line (%s); dockerd refuses a setting given both ways, so it stays there\n", c.Key, c.Flag)
			}
		}
		switch {
		case !plan.Changed:
			fmt.Fprintf(g.Stdout, "\n%s already has berth's production defaults; nothing to do\n", plan.Path)
			return nil
		case remote:
			fmt.Fprintf(g.Stdout, "\n%s is on another machine and berth cannot read its %s: merge these keys into that file (keep the keys already there; a key set there already was set on purpose), check it with `dockerd --validate --config-file %s` where available, then restart its engine:\n\n%s", o.endpoint, plan.Path, plan.Path, plan.After)
			return nil
		}
		fmt.Fprintf(g.Stdout, "\n%s", guard.Diff(plan.Path, plan.Before, plan.After))
		fmt.Fprintf(g.Stdout, "validated by: %s\n", validated)
		if !write {
			fmt.Fprintln(g.Stdout, "\nnothing was changed; run again with --yes to write it")
			return nil
		}
		if backup != "" {
			fmt.Fprintf(g.Stdout, "\nwritten; the previous file is kept as %s\n", backup)
		} else {
			fmt.Fprintln(g.Stdout, "\nwritten")
		}
	}
	if !write {
		return nil
	}
	effect := "running containers keep running (live-restore is on)"
	if !state.liveRestore {
		effect = "running containers stop while the engine restarts and start again by their restart policy (live-restore is off now)"
		for _, c := range plan.Changes {
			if c.Key == "live-restore" && (c.Action == "add" || c.Action == "override") {
				effect += "; it is on after this restart"
			}
		}
	}
	if !o.restart {
		fmt.Fprintf(g.Stderr, "the engine reads the file when it starts: restart it to apply (systemctl restart docker); %s\n", effect)
		return nil
	}
	fmt.Fprintf(g.Stderr, "restarting the engine: %s\n", effect)
	if err := restartEngine(ctx, o.endpoint); err == nil {
		return nil
	} else {
		// The engine did not come back with the new file: put the old one
		// back and start it again, so setup never leaves it down.
		var restore error
		if plan.Before != nil {
			restore = writeAtomic(plan.Path, plan.Before, 0o644)
		} else {
			restore = os.Remove(plan.Path)
		}
		if restore != nil {
			return fmt.Errorf("the engine did not start with the new %s (%v), and putting the old file back failed: %v (fix: restore %s by hand and restart the engine)", plan.Path, err, restore, backup)
		}
		if err2 := restartEngine(ctx, o.endpoint); err2 != nil {
			return fmt.Errorf("the engine did not start with the new %s (%v); the old file is back, and the engine did not start with it either: %v (fix: journalctl -u docker)", plan.Path, err, err2)
		}
		return fmt.Errorf("the engine did not start with the new %s (%v); the old file is back and the engine runs with it (fix: journalctl -u docker says why; the new file is not kept)", plan.Path, err)
	}
}

// restartEngine restarts the engine with systemd and waits until it answers.
func restartEngine(ctx context.Context, endpoint string) error {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(rctx, "systemctl", "restart", "docker").CombinedOutput(); err != nil {
		return fmt.Errorf("systemctl restart docker: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if endpoint == "" {
		endpoint = engine.DefaultEndpoint
	}
	for {
		c, err := engine.Connect(rctx, engine.Endpoint{Host: "local", URL: endpoint})
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-rctx.Done():
			return fmt.Errorf("the engine did not answer within 2 minutes: %v", err)
		case <-time.After(time.Second):
		}
	}
}

type engineState struct{ liveRestore, swarm bool }

// readEngineState asks the engine whether live-restore is on (which decides
// what a restart does to running containers) and whether it is in a swarm
// (where dockerd refuses live-restore).
func readEngineState(ctx context.Context, endpoint string) engineState {
	if endpoint == "" {
		endpoint = engine.DefaultEndpoint
	}
	c, err := engine.Connect(ctx, engine.Endpoint{Host: "local", URL: endpoint})
	if err != nil {
		return engineState{}
	}
	defer c.Close()
	raw, err := c.InfoJSON(ctx)
	if err != nil {
		return engineState{}
	}
	var info struct {
		LiveRestoreEnabled bool
		Swarm              struct{ LocalNodeState string }
	}
	if json.Unmarshal(raw, &info) != nil {
		return engineState{}
	}
	st := info.Swarm.LocalNodeState
	return engineState{liveRestore: info.LiveRestoreEnabled, swarm: st != "" && st != "inactive"}
}

func jsonText(v any) string {
	if v == nil {
		return "(unset)"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
