package policy

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
)

// A loaded compose project holds every variable's value after
// interpolation, which cannot say where the value was written: in
// compose.yaml (committed: a secret there is in every clone) or in the
// environment, .env or an env_file (kept out of the repository: the way
// compose means secrets to be passed, short of secrets:). So the compose
// files are read again here as YAML, uninterpolated, for each service's
// environment: as written.

// ComposeEnv is, per service, each environment variable as written in the
// compose files.
type ComposeEnv map[string]map[string]envEntry

type envEntry struct {
	raw   string
	bare  bool   // KEY with no value: taken from the shell
	where string // file:line
}

// ReadComposeEnv reads the environment: of every service in the compose
// files cfg was loaded from, in merge order (a later file's variable wins,
// as in compose), following YAML anchors, merge keys and extends:. Paths
// in positions are relative to berth.yaml's directory.
func ReadComposeEnv(cfg *config.Config) (ComposeEnv, error) {
	files := cfg.ComposeFiles
	if len(files) == 0 && cfg.ComposeFile != "" {
		files = []string{cfg.ComposeFile}
	}
	r := &envReader{base: filepath.Dir(cfg.File), docs: map[string]*yaml.Node{}}
	out := ComposeEnv{}
	for _, f := range files {
		if err := r.file(f, out, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// file adds the services of one compose file, after those of the files it
// includes (include:, which are committed files too).
func (r *envReader) file(f string, out ComposeEnv, depth int) error {
	root, err := r.doc(f)
	if err != nil {
		return err
	}
	if inc := deref(get(root, "include")); inc != nil && inc.Kind == yaml.SequenceNode && depth < 10 {
		for _, item := range inc.Content {
			item = deref(item)
			paths := []*yaml.Node{item}
			if item.Kind == yaml.MappingNode {
				paths = nil
				if p := deref(get(item, "path")); p != nil && p.Kind == yaml.SequenceNode {
					paths = p.Content
				} else if p != nil {
					paths = []*yaml.Node{p}
				}
			}
			for _, p := range paths {
				path := deref(p).Value
				if !filepath.IsAbs(path) {
					path = filepath.Join(filepath.Dir(f), path)
				}
				if err := r.file(path, out, depth+1); err != nil {
					return err
				}
			}
		}
	}
	for _, kv := range pairs(get(root, "services")) {
		svc := kv[0].Value
		if out[svc] == nil {
			out[svc] = map[string]envEntry{}
		}
		if err := r.serviceEnv(f, kv[1], out[svc], 0); err != nil {
			return err
		}
	}
	return nil
}

const maxComposeRead = 16 << 20

type envReader struct {
	base string
	docs map[string]*yaml.Node
}

func (r *envReader) doc(file string) (*yaml.Node, error) {
	if d, ok := r.docs[file]; ok {
		return d, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("reading %s for the origin of environment values: %w", file, err)
	}
	defer f.Close()
	// The loader has read these files already; the bound only keeps an
	// include: or extends: it did not follow from reading without end.
	data, err := io.ReadAll(io.LimitReader(f, maxComposeRead))
	if err != nil {
		return nil, fmt.Errorf("reading %s for the origin of environment values: %w", file, err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, fmt.Errorf("reading %s for the origin of environment values: %w", file, err)
	}
	root := &n
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	r.docs[file] = root
	return root, nil
}

// serviceEnv adds a service's variables to into: those of the service it
// extends first, then its own.
func (r *envReader) serviceEnv(file string, svc *yaml.Node, into map[string]envEntry, depth int) error {
	svc = deref(svc)
	if ext := get(svc, "extends"); ext != nil && depth < 10 {
		base, baseFile := "", file
		if ext = deref(ext); ext.Kind == yaml.ScalarNode {
			base = ext.Value
		} else {
			if n := get(ext, "service"); n != nil {
				base = deref(n).Value
			}
			if n := get(ext, "file"); n != nil {
				baseFile = deref(n).Value
				if !filepath.IsAbs(baseFile) {
					baseFile = filepath.Join(filepath.Dir(file), baseFile)
				}
			}
		}
		root, err := r.doc(baseFile)
		if err != nil {
			return err
		}
		if n := get(get(root, "services"), base); n != nil {
			if err := r.serviceEnv(baseFile, n, into, depth+1); err != nil {
				return err
			}
		}
	}
	env := deref(get(svc, "environment"))
	if env == nil {
		return nil
	}
	where := func(n *yaml.Node) string {
		shown := file
		if rel, err := filepath.Rel(r.base, file); err == nil && !strings.HasPrefix(rel, "..") {
			shown = rel
		}
		return fmt.Sprintf("%s:%d", shown, n.Line)
	}
	switch env.Kind {
	case yaml.MappingNode:
		for _, kv := range pairs(env) {
			v := deref(kv[1])
			e := envEntry{raw: v.Value, where: where(v)}
			e.bare = v.Kind == yaml.ScalarNode && v.Tag == "!!null"
			into[kv[0].Value] = e
		}
	case yaml.SequenceNode:
		for _, item := range env.Content {
			item = deref(item)
			k, v, ok := strings.Cut(item.Value, "=")
			into[k] = envEntry{raw: v, bare: !ok, where: where(item)}
		}
	}
	return nil
}

// deref follows an alias to its anchor.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// pairs returns a mapping's key/value pairs, merge keys (<<) expanded,
// with keys written in the mapping itself winning over merged ones.
func pairs(m *yaml.Node) [][2]*yaml.Node {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var merged, own [][2]*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Value == "<<" && k.Tag != "!!str" {
			v = deref(v)
			srcs := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				srcs = v.Content
			}
			for _, s := range srcs {
				merged = append(merged, pairs(s)...)
			}
			continue
		}
		own = append(own, [2]*yaml.Node{k, v})
	}
	seen := map[string]bool{}
	for _, kv := range own {
		seen[kv[0].Value] = true
	}
	out := own
	for _, kv := range merged {
		if !seen[kv[0].Value] {
			seen[kv[0].Value] = true
			out = append(out, kv)
		}
	}
	return out
}

func get(m *yaml.Node, key string) *yaml.Node {
	for _, kv := range pairs(m) {
		if kv[0].Value == key {
			return kv[1]
		}
	}
	return nil
}

// varRef is ${NAME...} or $NAME in a compose value; $$ is a literal $.
var (
	varRef     = regexp.MustCompile(`\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*`)
	varDefault = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*):?-([^}]*)\}`)
)

// origin says where a variable's value came from, and for a literal, where
// it is written. A value that interpolates a variable is the
// environment's, unless the default written in the file is what it holds.
func (e envEntry) origin(value string) (string, string) {
	if e.bare {
		return OriginEnvironment, ""
	}
	raw := strings.ReplaceAll(e.raw, "$$", "")
	if !varRef.MatchString(raw) {
		return OriginLiteral, e.where
	}
	for _, m := range varDefault.FindAllStringSubmatch(raw, -1) {
		if d := m[2]; d != "" && !strings.Contains(d, "$") && strings.Contains(value, d) {
			return OriginLiteral, e.where + " (the default of ${" + m[1] + "})"
		}
	}
	return OriginEnvironment, ""
}

// MarkEnvOrigins records, for each variable of s, where its value came
// from. A variable the compose files do not write came from an env_file
// (or a file the files include).
func (c ComposeEnv) MarkEnvOrigins(s *Spec, service string) {
	for i := range s.Env {
		e := &s.Env[i]
		entry, ok := c[service][e.Name]
		if !ok {
			e.Origin = OriginEnvironment
			continue
		}
		e.Origin, e.Where = entry.origin(e.Value)
	}
}

// MarkProjectMounts marks the binds at or below the project's directory
// as the project's own (see sensitiveMount). Paths that exist here are
// compared after following symlinks, so ./etc linked to /etc is not the
// project's own.
func MarkProjectMounts(s *Spec, projectDir string) {
	dir := realPath(projectDir)
	if !ProjectDirAllowed(projectDir) || !ProjectDirAllowed(dir) {
		return
	}
	for i := range s.Mounts {
		m := &s.Mounts[i]
		src := realPath(m.Source)
		if m.Type == "bind" && (src == dir || strings.HasPrefix(src, dir+"/")) {
			m.InProject = true
		}
	}
}

// realPath is p with symlinks followed as far as it exists.
func realPath(p string) string {
	p = filepath.Clean(p)
	for rest := ""; ; {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// ForService is the container a deploy would create for svc as policy
// sees it: named after the service, a route's health check counted as one
// (berth-proxy checks it before any traffic), each variable's origin and
// the project's own binds marked. env may be nil (origins unknown).
func ForService(cfg *config.Config, svc *config.Service, spec engine.ContainerSpec, env ComposeEnv) Spec {
	s := FromEngine(spec, svc.Name)
	s.Name = svc.Name // findings name the service the user wrote
	s.Healthcheck = s.Healthcheck || svc.Route != nil
	if env != nil {
		env.MarkEnvOrigins(&s, svc.Name)
	}
	dir := filepath.Dir(cfg.ComposeFile)
	if cfg.Project != nil && cfg.Project.WorkingDir != "" {
		dir = cfg.Project.WorkingDir
	}
	MarkProjectMounts(&s, dir)
	return s
}
