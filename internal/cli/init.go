package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/scaffold"
)

// InitOptions are `berth init`'s flags.
type InitOptions struct {
	Dir   string // -C: the compose project's directory
	Force bool
}

func newInitCommand(g *Globals) *cobra.Command {
	var o InitOptions
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a berth.yaml for the compose project here, then validate and policy-check it",
		Long: `Write a berth.yaml for the compose project in the current directory (or
-C DIR, or the directory of -f): the app name from the directory (or from
compose's name:), the local engine as host, a route for each service that
looks like a web server, accessories for databases and caches, workers for
the rest. Every guess carries a "# review:" comment. The file is then
validated and policy-checked, and what to look at first is printed. An
existing berth.yaml is never replaced without --force.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInit(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringVarP(&o.Dir, "directory", "C", "", "the compose project's directory (berth.yaml is written there)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "replace an existing berth.yaml")
	return cmd
}

func runInit(ctx context.Context, g *Globals, o InitOptions) error {
	file := g.File
	if o.Dir != "" && !filepath.IsAbs(file) {
		file = filepath.Join(o.Dir, file)
	}
	res, err := scaffold.Init(ctx, scaffold.Options{File: file, Force: o.Force,
		Load: config.LoadOptions{Profiles: g.Profiles}})
	if err != nil {
		return err
	}
	if g.json() {
		return printJSON(g.Stdout, struct {
			*scaffold.Result
			FirstLook []scaffold.Item `json:"first_look"`
			Warned    int             `json:"warned"`
		}{res, res.FirstLook(), res.Warned()})
	}
	printInit(g, res)
	return nil
}

func printInit(g *Globals, res *scaffold.Result) {
	counts := map[scaffold.Kind]int{}
	for _, s := range res.Guesses {
		if len(s.Profiles) == 0 {
			counts[s.Kind]++
		}
	}
	fmt.Fprintf(g.Stdout, "wrote %s for app %s from %s: %s, %s, %s\n", res.File, res.App, strings.Join(res.ComposeFiles, " + "),
		plural(counts[scaffold.Web], "routed service"), plural(counts[scaffold.Accessory], "accessory"), plural(counts[scaffold.Worker], "worker"))
	items := res.FirstLook()
	sections := []struct{ kind, title string }{
		{"error", "not valid yet (berth validate, berth policy check); nothing deploys until these are fixed:"},
		{"block", "policy would refuse a deploy (berth policy check), most severe first:"},
		{"review", "guesses to review (\"# review:\" in " + res.File + "), placeholders first:"},
	}
	n := 0
	fmt.Fprintln(g.Stdout, "\nLook at these first:")
	for _, sec := range sections {
		header := false
		for _, it := range items {
			if it.Kind != sec.kind {
				continue
			}
			if !header {
				fmt.Fprintf(g.Stdout, "\n%s\n", sec.title)
				header = true
			}
			n++
			switch it.Kind {
			case "block":
				fmt.Fprintf(g.Stdout, "%3d. %s %s: %s (fix: %s)\n", n, it.Severity, it.Service, it.Text, it.Fix)
			default:
				fmt.Fprintf(g.Stdout, "%3d. %s\n", n, it.Text)
			}
		}
	}
	fmt.Fprintln(g.Stdout)
	// Warnings go to stderr, as every command prints them.
	for _, w := range res.Warnings {
		fmt.Fprintln(g.Stderr, "berth: "+w.Text)
	}
	switch {
	case !res.Valid:
		fmt.Fprintln(g.Stdout, "Policy is checked once the file is valid.")
	case res.Warned() > 0:
		fmt.Fprintf(g.Stdout, "Policy also has %d warnings that do not block a deploy: `berth policy check` lists them.\n", res.Warned())
	}
	flag := ""
	if res.File != defaultConfigFile {
		flag = " -f " + res.File
	}
	fmt.Fprintf(g.Stdout, "Next: edit %s, then run `berth%s validate` and `berth%s policy check`.\n", res.File, flag, flag)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if noun == "accessory" {
		return fmt.Sprintf("%d accessories", n)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
