package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthhq/berth/internal/audit"
	"github.com/berthhq/berth/internal/doctor"
	"github.com/berthhq/berth/internal/release"
)

func newDoctorCommand(g *Globals) *cobra.Command {
	var endpoint, htmlFile string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Is this setup ready for production? A verdict per question, the evidence, and the command that closes each gap",
		Long: `berth doctor answers, for your own setup, the questions a team must answer
before running Docker in production (monitoring, deploys and rollback,
backups, updates, network reach, host access, privileges, logs, registry,
engine defaults), each ready, not yet or unknown, with the evidence and the
berth command that closes the gap, then an overall verdict and the top
blockers in order. It runs the whole audit on berth.yaml's hosts, or on
-H / DOCKER_HOST without a berth.yaml. What berth cannot see yet (backups,
alerts) is "unknown" with the reason, never a made-up pass.

Exit codes: 0 (ready, or unknown), 7 (not yet), 3 (part of the audit could not be made).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDoctor(cmd.Context(), g, endpoint, htmlFile)
		},
	}
	cmd.Flags().StringVarP(&endpoint, "host", "H", "", "examine this engine (unix:///..., tcp://...) instead of berth.yaml's hosts")
	cmd.Flags().StringVar(&htmlFile, "html", "", "also write the report as a self-contained HTML page to this file")
	return cmd
}

func runDoctor(ctx context.Context, g *Globals, endpoint, htmlFile string) error {
	sources, pol, closeAll, err := auditTargets(ctx, g, endpoint)
	if err != nil {
		return err
	}
	defer closeAll()
	rep := audit.Run(ctx, sources, audit.Options{Policy: pol})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	facts := doctor.Facts{Releases: map[string]map[string][]release.Release{}, OneEngine: endpoint != ""}
	if _, err := os.Stat(g.File); err == nil && endpoint == "" {
		cfg, err := loadConfig(ctx, g)
		if err != nil {
			return err
		}
		facts.Config, facts.App = g.File, cfg.App
		facts.Tracked = gitTracks(cfg.File)
		for _, s := range cfg.Services {
			if s.Kind() != "accessory" {
				facts.Services = append(facts.Services, s.Name)
			}
		}
		for _, src := range sources {
			cs, err := src.ListContainers(ctx, map[string]string{release.LabelApp: cfg.App})
			if err != nil {
				rep.Incomplete = append(rep.Incomplete, fmt.Sprintf("host %s: releases could not be read: %v", src.Host(), err))
				continue
			}
			facts.Releases[src.Host()] = release.FromContainers(cs)
		}
	} else if !errors.Is(err, fs.ErrNotExist) && err != nil {
		return err
	}
	d := doctor.Diagnose(rep, facts)
	if htmlFile != "" {
		var page bytes.Buffer
		if err := doctor.HTML(&page, d, time.Now()); err != nil {
			return err
		}
		if err := writeAtomic(htmlFile, page.Bytes(), 0o644); err != nil {
			return fmt.Errorf("writing the HTML report: %w", err)
		}
	}
	if g.json() {
		if err := printJSON(g.Stdout, d); err != nil {
			return err
		}
	} else if err := doctor.Text(g.Stdout, d); err != nil {
		return err
	}
	switch {
	case d.Overall == doctor.NotYet:
		n := 0
		for _, a := range d.Answers {
			if a.Verdict == doctor.NotYet {
				n++
			}
		}
		return &NotReadyError{NotYet: n, Answers: len(d.Answers)}
	case len(rep.Incomplete) > 0:
		return &IncompleteError{Parts: rep.Incomplete}
	}
	return nil
}

// gitTracks says whether git tracks the file (false outside a repository
// or without git).
func gitTracks(path string) bool {
	cmd := exec.Command("git", "ls-files", "--error-unmatch", filepath.Base(path))
	cmd.Dir = filepath.Dir(path)
	return cmd.Run() == nil
}
