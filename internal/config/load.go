package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
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

	roles := serviceRoles{routed: map[string]bool{}, accessory: map[string]bool{}}
	for _, s := range bf.services {
		if s.route != nil {
			roles.routed[s.name] = true
		}
		roles.accessory[s.name] = s.accessory
	}

	doc, project, valid, err := r.compose(ctx, bf, path, abs, opts, roles)
	if err != nil {
		return nil, err
	}

	r.checkServiceSpecs(bf.services, project, hostNames, len(bf.hosts) > 0)
	checkReplicas(doc, project, bf.services, e)
	if valid {
		services := buildServices(bf.services, project, hostNames)
		r.checkRouteHosts(bf.services, services)
		for _, name := range dependencyOrder(doc, project, e) {
			cfg.Services = append(cfg.Services, services[name])
		}
		cfg.Project = project
		cfg.ComposeFile = doc.files[0].abs
		for _, f := range doc.files {
			cfg.ComposeFiles = append(cfg.ComposeFiles, f.abs)
		}
		for _, svc := range cfg.Services {
			if f, n := doc.source(svc.Name); f != nil {
				svc.Source = Position{File: f.abs, Line: n.Line, Column: n.Column}
			} else {
				svc.Source = Position{File: doc.files[0].abs} // from include: or extends:
			}
		}
	}
	cfg.Warnings = e.sortedWarnings()
	if err := e.result(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// compose finds, reads, checks and loads the compose files. The project is
// returned for cross-checks even when it is not valid; a non-nil error means
// the load was cancelled, not misconfigured.
func (r *reader) compose(ctx context.Context, bf *berthFile, path, abs string, opts LoadOptions, roles serviceRoles) (*composeDoc, *types.Project, bool, error) {
	e := r.errs
	displayDir := filepath.Dir(path)
	env, derr := withDotEnv(baseEnv(opts.Env), filepath.Dir(abs), displayDir)
	if derr != nil {
		e.add(derr)
		return nil, nil, false, nil
	}
	refs := r.composeRefs(bf, displayDir, env, e.warn)
	if refs == nil {
		return nil, nil, false, nil
	}
	doc := &composeDoc{}
	for _, ref := range refs {
		f, ferr := readComposeFile(ref.display)
		if ferr != nil {
			e.add(ferr)
			continue
		}
		doc.files = append(doc.files, f)
	}
	if len(doc.files) < len(refs) {
		return nil, nil, false, nil
	}
	// The project directory is the first file's, as for `docker compose -f`;
	// its .env is the one compose interpolates with.
	if projDir := filepath.Dir(doc.files[0].abs); projDir != filepath.Dir(abs) {
		if env, derr = withDotEnv(baseEnv(opts.Env), projDir, filepath.Dir(doc.files[0].display)); derr != nil {
			e.add(derr)
			return nil, nil, false, nil
		}
	}
	name := bf.app
	if name == "" {
		name = "app" // keep checking compose while app: is wrong
	} else if pn := env["COMPOSE_PROJECT_NAME"]; pn != "" && pn != name {
		w := &Error{File: r.file, Path: "app", Msg: fmt.Sprintf("COMPOSE_PROJECT_NAME=%s is not used: berth names the project and every object after app: %s", pn, name),
			Fix: "unset COMPOSE_PROJECT_NAME, or set app: to the name you want"}
		if bf.appNode != nil {
			w.Line, w.Column = bf.appNode.Line, bf.appNode.Column
		}
		e.warn(w)
	}
	project, valid, err := loadCompose(ctx, doc, name, env, profilesFrom(opts.Profiles, env), roles, e)
	return doc, project, valid, err
}

func readComposeFile(display string) (*composeFile, *Error) {
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
	return &composeFile{display: display, abs: abs, root: root, data: data}, nil
}

// loadCompose checks the files against the schema, loads the project and
// applies berth's rejections. compose-go stops at its first problem, and
// berth explains most of them better, with a position: so berth's own
// checks run first and on a failure the project is loaded again without
// the consistency check to find more of them; compose-go's message is
// shown only when berth found nothing.
//
// The returned project is usable for cross-checks even when valid is
// false; a non-nil error means the load was cancelled, not misconfigured.
func loadCompose(ctx context.Context, doc *composeDoc, name string, env types.Mapping, profiles []string, roles serviceRoles, e *errs) (*types.Project, bool, error) {
	before := len(e.list)
	yesNo := map[string]bool{}
	for _, f := range doc.files {
		for w := range validateComposeFile(f, e) {
			yesNo[w] = true
		}
		versionWarning(f, e)
		checkReferencedFiles(f, e)
	}
	emptyServices(doc, e)
	if len(e.list) > before {
		// compose-go would only repeat these, less well, or block reading
		// a file just refused.
		return nil, false, nil
	}
	var (
		p   *types.Project
		err error
	)
	logs := captureLogs(func() { p, err = loadProject(ctx, doc, name, env, profiles, true) })
	unsetWarnings(doc, logs, yesNo, e)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		var lenient *types.Project
		var lerr error
		captureLogs(func() { lenient, lerr = loadProject(ctx, doc, name, env, profiles, false) })
		if lerr == nil {
			lenient = checkProject(doc, lenient, roles, e)
			dependencyOrder(doc, lenient, e)
		}
		if len(e.list) == before {
			e.add(composeError(doc, err, env))
		}
		return lenient, false, nil
	}
	p = checkProject(doc, p, roles, e)
	return p, len(e.list) == before, nil
}

// checkProject runs berth's checks on a loaded project and, when its
// env_file and label_file sources are sound, reads them into it.
func checkProject(doc *composeDoc, p *types.Project, roles serviceRoles, e *errs) *types.Project {
	before := len(e.list)
	checkImages(doc, p, e)
	checkEnvFiles(doc, p, e)
	checkSources(doc, p, e)
	rejectUnsupported(doc, p, roles, e)
	if len(e.list) > before {
		return p
	}
	resolved, err := p.WithServicesEnvironmentResolved(false)
	if err == nil {
		resolved, err = resolved.WithServicesLabelsResolved(false)
	}
	if err != nil {
		e.add(composeError(doc, err, p.Environment))
		return p
	}
	return resolved
}

// emptyServices reports services written with nothing under them (`web:`)
// in every file that names them, each at its first place, in file order.
// An override may name a service with nothing to add, so a null counts only
// when no file gives the service a body; compose-go would report just one,
// chosen in map order, so the same files could answer differently twice.
func emptyServices(doc *composeDoc, e *errs) {
	type place struct {
		file string
		key  *yaml.Node
	}
	var order []string
	first := map[string]place{}
	defined := map[string]bool{}
	for _, f := range doc.files {
		var services *yaml.Node
		if root := resolve(f.root); root != nil && root.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(root.Content); i += 2 {
				if k := resolve(root.Content[i]); k != nil && k.Value == "services" {
					services = resolve(root.Content[i+1])
				}
			}
		}
		if services == nil || services.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(services.Content); i += 2 {
			k, v := resolve(services.Content[i]), resolve(services.Content[i+1])
			if k == nil || k.Kind != yaml.ScalarNode {
				continue
			}
			if v != nil && !isNull(v) {
				defined[k.Value] = true
				continue
			}
			if _, seen := first[k.Value]; !seen {
				first[k.Value] = place{f.display, k}
				order = append(order, k.Value)
			}
		}
	}
	for _, name := range order {
		if defined[name] {
			continue
		}
		p := first[name]
		e.at(p.file, p.key, "services."+name, "write the service's keys indented under it (image: at least), or remove it",
			"service has nothing under it")
	}
}
