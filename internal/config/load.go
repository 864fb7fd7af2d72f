package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/types"
)

// LoadOptions are the inputs to Load that do not come from files.
type LoadOptions struct {
	// Profiles are the compose profiles to enable; when empty,
	// COMPOSE_PROFILES applies as it does for `docker compose`.
	Profiles []string
	// Env replaces the process environment for interpolation and for
	// DOCKER_HOST and friends; nil means the process environment.
	Env map[string]string
}

// Load reads berth.yaml at path and the compose file it names, applies
// defaults and validates both. Problems come back together as an
// ErrorList whose items name the file, line, column and key; paths in
// messages stay relative when path is relative.
func Load(ctx context.Context, path string, opts LoadOptions) (*Config, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	env := envFunc(os.Getenv)
	if opts.Env != nil {
		env = func(k string) string { return opts.Env[k] }
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", path, err)
	}

	e := &errs{}
	r := &reader{file: path, errs: e}
	root, perr := readYAML(path)
	if perr != nil {
		if errors.Is(perr, fs.ErrNotExist) {
			perr.Fix = "run `berth init` to write one, or name the right file"
		}
		e.add(perr)
		return nil, e.result()
	}

	bf := r.berthFile(root, filepath.Dir(abs), env)
	cfg := &Config{File: abs, App: bf.app, Proxy: bf.proxy, Policy: bf.policy}
	cfg.Hosts = resolveHosts(bf.hosts, env, e)
	hostNames := make([]string, len(cfg.Hosts))
	for i, h := range cfg.Hosts {
		hostNames[i] = h.Name
	}

	routed := map[string]bool{}
	for _, s := range bf.services {
		if s.route != nil {
			routed[s.name] = true
		}
	}

	var (
		doc     *composeDoc
		project *types.Project
		valid   bool
	)
	if display, ok := r.findCompose(bf, filepath.Dir(path)); ok {
		var derr *Error
		if doc, derr = readComposeDoc(display); derr != nil {
			e.add(derr)
		} else {
			name := bf.app
			if name == "" {
				name = "app" // keep checking compose even while app: is wrong
			}
			project, valid, err = loadCompose(ctx, doc, name, opts, routed, e)
			if err != nil {
				return nil, err
			}
		}
	}

	r.checkServiceSpecs(bf.services, project, hostNames, len(bf.hosts) > 0)
	if valid {
		services := buildServices(bf.services, project, hostNames)
		r.checkRouteHosts(bf.services, services)
		for _, name := range dependencyOrder(doc, project, e) {
			cfg.Services = append(cfg.Services, services[name])
		}
		cfg.Project = project
		cfg.ComposeFile = doc.abs
		cfg.ComposeFiles = []string{doc.abs}
		for _, svc := range cfg.Services {
			svc.Source = Position{File: doc.abs}
			if n := lookup(doc.root, "services", svc.Name); n != nil {
				svc.Source.Line, svc.Source.Column = n.Line, n.Column
			}
		}
	}
	if err := e.result(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func readComposeDoc(display string) (*composeDoc, *Error) {
	abs, err := filepath.Abs(display)
	if err != nil {
		return nil, &Error{File: display, Msg: "cannot resolve path"}
	}
	data, perr := readFile(display)
	if perr != nil {
		return nil, perr
	}
	root, perr := parseYAML(display, data)
	if perr != nil {
		return nil, perr
	}
	return &composeDoc{display: display, abs: abs, root: root, data: data}, nil
}

// loadCompose loads the project and applies berth's rejections. compose-go
// stops at its first consistency problem, and some of those (no image, a
// depends_on cycle) berth explains better, with a position; so on failure the project is loaded
// again without the consistency check to find berth's own, positioned,
// errors, and compose-go's message is shown only when there are none.
//
// The returned project is usable for cross-checks even when valid is
// false; a non-nil error means the load was cancelled, not misconfigured.
func loadCompose(ctx context.Context, doc *composeDoc, name string, opts LoadOptions, routed map[string]bool, e *errs) (*types.Project, bool, error) {
	cenv := composeEnv{vars: opts.Env, profiles: opts.Profiles}
	before := len(e.list)
	p, interp, err := loadProject(ctx, doc, name, cenv, true)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		lenient, _, lerr := loadProject(ctx, doc, name, cenv, false)
		if lerr == nil {
			rejectUnsupported(doc, lenient, routed, e)
			dependencyOrder(doc, lenient, e)
		}
		if len(e.list) == before {
			e.add(composeError(doc, err, interp))
		}
		return lenient, false, nil
	}
	rejectUnsupported(doc, p, routed, e)
	return p, len(e.list) == before, nil
}
