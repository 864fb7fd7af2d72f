package config

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/compose-spec/compose-go/v2/types"
)

// ComposeProject is a compose project read on its own, without a
// berth.yaml: what `berth init` starts from. It is found and read by the
// code Load uses for a berth.yaml in the same directory without compose:
// (the default file plus its override, COMPOSE_FILE, .env, profiles), so
// the services init classifies are the services a deploy would see.
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
	// Sources are where each service (enabled or not) is defined; Line is
	// 0 for one that comes from include: or extends:.
	Sources map[string]Position
	// Name is the top-level name: as written, "" when it is absent or
	// interpolated: docker compose names the project after it before the
	// directory.
	Name string
}

// ComposeNames are the file names looked for, in order, when berth.yaml
// does not name its compose file.
func ComposeNames() []string {
	return append([]string(nil), defaultComposeNames...)
}

// LoadComposeProject finds and loads the compose project in dir, under
// project name, as Load does for a berth.yaml in dir that has no compose:.
// A project that berth would refuse is still returned when it can be read
// at all: init writes a berth.yaml for it, and validate then names the
// problem with its position. Problems that stop the reading come back as
// an ErrorList (exit code 2).
func LoadComposeProject(ctx context.Context, dir, name string, opts LoadOptions) (*ComposeProject, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "berth.yaml") // where compose is looked for from
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", dir, err)
	}
	e := &errs{}
	r := &reader{file: path, errs: e}
	doc, p, _, err := r.compose(ctx, &berthFile{app: name}, path, abs, opts, serviceRoles{}) // no berth.yaml: roles unknown
	if err != nil {
		return nil, err
	}
	if p == nil {
		for _, ce := range e.list {
			if ce.Path == "compose" && strings.HasPrefix(ce.Msg, "no compose file found") {
				where := dir
				if filepath.Clean(dir) == "." {
					where = "the current directory"
				}
				ce.File, ce.Line, ce.Column, ce.Path = "", 0, 0, ""
				ce.Msg = strings.Replace(ce.Msg, "no compose file found", "no compose file in "+where, 1)
				ce.Fix = "run berth init in the directory of your compose project, or name it with -C DIR"
			}
		}
		if rerr := e.result(); rerr != nil {
			return nil, rerr
		}
		return nil, errors.New("the compose project could not be read")
	}
	cp := &ComposeProject{File: doc.files[0].display, Abs: doc.files[0].abs, Project: p, Sources: map[string]Position{}}
	for _, f := range doc.files {
		cp.Files = append(cp.Files, f.display)
	}
	for i := len(doc.files) - 1; i >= 0 && cp.Name == ""; i-- {
		if root := resolve(doc.files[i].root); root != nil && root.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(root.Content); j += 2 {
				k, v := resolve(root.Content[j]), resolve(root.Content[j+1])
				if k.Value == "name" && v.Kind == yaml.ScalarNode && !strings.Contains(v.Value, "$") {
					cp.Name = v.Value
				}
			}
		}
	}
	add := func(svc string) {
		pos := Position{File: cp.Abs}
		if f, n := doc.source(svc); f != nil {
			pos = Position{File: f.abs, Line: n.Line, Column: n.Column}
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
