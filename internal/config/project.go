package config

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// ComposeProject is a compose project read on its own, without a
// berth.yaml: what `berth init` starts from. It is read exactly as Load
// reads the compose file of a berth.yaml in the same directory, so the
// services init classifies are the services a deploy would see.
type ComposeProject struct {
	// File is the main compose file as found (dir joined with its name, so
	// a relative dir keeps messages relative); Abs is its absolute path;
	// Files are the display paths of every file read, main file first.
	File  string
	Abs   string
	Files []string
	// Project is the loaded project. Services left out by the active
	// profiles are in Project.DisabledServices.
	Project *types.Project
	// Sources are where each service (enabled or not) is defined in File.
	Sources map[string]Position
	// Name is the top-level name: of File as written, "" when it is
	// absent or interpolated: docker compose names the project after it
	// before the directory.
	Name string
}

// ComposeNames are the file names looked for, in order, when berth.yaml
// does not name its compose file.
func ComposeNames() []string {
	return append([]string(nil), defaultComposeNames...)
}

// LoadComposeProject finds the compose file in dir by the names Load looks
// for and loads it with compose-go under project name, with .env,
// env_file, interpolation and profiles as for Load. A project that
// compose-go finds inconsistent is still returned when it can be read at
// all: init writes a berth.yaml for it, and validate then names the
// problem with its position. Problems come back as *Error (exit code 2).
func LoadComposeProject(ctx context.Context, dir, name string, opts LoadOptions) (*ComposeProject, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	display := ""
	for _, n := range defaultComposeNames {
		p := filepath.Join(dir, n)
		if isRegularFile(p) {
			display = p
			break
		}
	}
	if display == "" {
		where := dir
		if filepath.Clean(dir) == "." {
			where = "the current directory"
		}
		return nil, &Error{
			Msg: "no compose file in " + where + " (looked for " + strings.Join(defaultComposeNames, ", ") + ")",
			Fix: "run berth init in the directory of your compose project, or name it with -C DIR"}
	}
	doc, derr := readComposeDoc(display)
	if derr != nil {
		return nil, derr
	}
	cenv := composeEnv{vars: opts.Env, profiles: opts.Profiles}
	p, interp, err := loadProject(ctx, doc, name, cenv, true)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		lenient, _, lerr := loadProject(ctx, doc, name, cenv, false)
		if lerr != nil {
			return nil, composeError(doc, err, interp)
		}
		p = lenient
	}
	cp := &ComposeProject{File: display, Abs: doc.abs, Files: []string{display}, Project: p, Sources: map[string]Position{}}
	if root := resolve(doc.root); root != nil && root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := resolve(root.Content[i]), resolve(root.Content[i+1])
			if k.Value == "name" && v.Kind == yaml.ScalarNode && !strings.Contains(v.Value, "$") {
				cp.Name = v.Value
			}
		}
	}
	add := func(svc string) {
		pos := Position{File: doc.abs}
		if n := lookup(doc.root, "services", svc); n != nil {
			pos.Line, pos.Column = n.Line, n.Column
		}
		cp.Sources[svc] = pos
	}
	for svc := range p.Services {
		add(svc)
	}
	for svc := range p.DisabledServices {
		add(svc)
	}
	return cp, nil
}

func isRegularFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
