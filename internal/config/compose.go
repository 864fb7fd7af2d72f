package config

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// defaultComposeNames is the order `docker compose` searches in.
var defaultComposeNames = []string{"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"}

// composeDoc is the compose file as berth reads it for positions: compose-go
// reports what is wrong with a service but not where, and an error that
// names the line is the difference between a fix and a search.
type composeDoc struct {
	display string // path as shown to the user
	abs     string
	root    *yaml.Node
	data    []byte
}

// findCompose picks the compose file relative to berth.yaml's directory,
// keeping the directory the way the user typed it for messages.
func (r *reader) findCompose(bf *berthFile, displayDir string) (display string, ok bool) {
	if bf.compose != "" {
		display = bf.compose
		if !filepath.IsAbs(display) {
			display = filepath.Join(displayDir, display)
		}
		if st, err := os.Stat(display); err != nil || st.IsDir() {
			r.errorf(bf.composeNode, "compose", "create it, or point compose: at the app's compose file", "compose file does not exist")
			return "", false
		}
		return display, true
	}
	for _, name := range defaultComposeNames {
		p := filepath.Join(displayDir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, true
		}
	}
	r.errorf(nil, "compose", "create compose.yaml next to berth.yaml, or set compose: to its path",
		"no compose file found (looked for %s)", strings.Join(defaultComposeNames, ", "))
	return "", false
}

// composeEnv is what compose interpolates with: the injected environment
// when there is one, so tests and callers control it fully.
type composeEnv struct {
	vars     map[string]string // nil: the process environment
	profiles []string
}

// loadProject runs compose-go exactly as `docker compose` would configure
// it, so interpolation, .env, env_file and profiles mean the same thing
// to berth as in development.
//
// The interpolation environment is returned even on failure so that
// errors can be scrubbed of the values it injected.
func loadProject(ctx context.Context, doc *composeDoc, name string, env composeEnv, consistency bool) (*types.Project, types.Mapping, error) {
	envOpt := cli.WithOsEnv
	if env.vars != nil {
		list := make([]string, 0, len(env.vars))
		for k, v := range env.vars {
			list = append(list, k+"="+v)
		}
		envOpt = cli.WithEnv(list)
	}
	opts, err := cli.NewProjectOptions([]string{doc.abs},
		cli.WithWorkingDirectory(filepath.Dir(doc.abs)),
		cli.WithName(name),
		envOpt,
		cli.WithEnvFiles(),
		cli.WithDotEnv,
		// Falls back to COMPOSE_PROFILES like `docker compose` does.
		cli.WithDefaultProfiles(env.profiles...),
		cli.WithResolvedPaths(true),
		cli.WithConsistency(consistency),
	)
	if err != nil {
		var interp types.Mapping
		if opts != nil {
			interp = opts.Environment
		}
		return nil, interp, err
	}
	p, err := opts.LoadProject(ctx)
	return p, opts.Environment, err
}

// composeError keeps compose-go's text, which often carries the line
// already, but shows paths the way the user wrote them so messages match
// what they typed and golden files do not depend on the machine, and
// scrubs interpolated values, which compose-go echoes ("invalid
// containerPort: <value>") and which may be secrets.
func composeError(doc *composeDoc, err error, interp types.Mapping) *Error {
	msg := scrubDotenv(redact(err.Error(), doc.data, interp))
	dir := filepath.Dir(doc.abs)
	displayDir := filepath.Dir(doc.display)
	msg = strings.ReplaceAll(msg, doc.abs, doc.display)
	if displayDir == "." {
		msg = strings.ReplaceAll(msg, dir+string(filepath.Separator), "")
	} else {
		msg = strings.ReplaceAll(msg, dir, displayDir)
	}
	// One line per error, so an ErrorList reads as one problem per line.
	msg = strings.Join(strings.Fields(msg), " ")
	return &Error{File: doc.display, Msg: msg}
}

// at returns the node of services.<service>.<keys...> in the compose file,
// or of the service itself when the key came from elsewhere (extends,
// include, a merge key), so the error still lands near the cause.
func (d *composeDoc) at(service string, keys ...string) *yaml.Node {
	if n := lookup(d.root, append([]string{"services", service}, keys...)...); n != nil {
		return n
	}
	return lookup(d.root, "services", service)
}

func (d *composeDoc) errorf(e *errs, service string, keys []string, fix, format string, args ...any) {
	path := strings.Join(append([]string{"services", service}, keys...), ".")
	e.at(d.display, d.at(service, keys...), path, fix, format, args...)
}

// rejectUnsupported reports compose keys berth cannot honour in
// production. Silently ignoring them would deploy something other than
// what the file says.
func rejectUnsupported(doc *composeDoc, p *types.Project, routed map[string]bool, e *errs) {
	names := make([]string, 0, len(p.Services))
	for name := range p.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := p.Services[name]
		switch {
		case s.Build != nil:
			doc.errorf(e, name, []string{"build"}, "build and tag the image, then set image:",
				"berth does not build images yet")
		case s.Image == "":
			doc.errorf(e, name, nil, "set image: to a tag you built or pushed", "service has no image")
		}
		if routed[name] && len(s.Ports) > 0 {
			doc.errorf(e, name, []string{"ports"}, "remove ports: (the app is reached through route.port)",
				"berth-proxy publishes the route")
		}
		switch {
		case s.NetworkMode == "host":
			doc.errorf(e, name, []string{"network_mode"}, "remove network_mode: host",
				"host networking bypasses the berth network and exposes every port the app opens on the host")
		case s.NetworkMode != "" && routed[name]:
			doc.errorf(e, name, []string{"network_mode"}, "remove network_mode:",
				"berth-proxy reaches routed services over the berth network")
		}
		if s.GetScale() > 1 {
			keys := []string{"deploy", "replicas"}
			if s.Scale != nil && lookup(doc.root, "services", name, "scale") != nil {
				keys = []string{"scale"}
			}
			doc.errorf(e, name, keys, "set it to 1 or remove it",
				"berth runs one container per service per host; replicas arrive with Swarm")
		}
	}
}

// compose-go's .env parser quotes the offending line or value, which for
// an env file is as likely as not a secret: keep what is wrong, drop what
// it quoted.
var (
	unterminatedValue = regexp.MustCompile(`(?s)(unterminated quoted value).*`)
	badVariableName   = regexp.MustCompile(`(unexpected character ".+?" in variable name) ".*"`)
)

func scrubDotenv(msg string) string {
	msg = unterminatedValue.ReplaceAllString(msg, "$1")
	return badVariableName.ReplaceAllString(msg, "$1")
}

// varRef finds $NAME and ${NAME...} references in a compose file.
var varRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// secretName catches variables that hold secrets even when the reference
// is not in the main compose file (include:, extends:).
var secretName = regexp.MustCompile(`(?i)secret|passw|token|key|credential|auth|private|pass$`)

// minRedact skips short values: replacing "1" or "yes" everywhere would
// garble the message while protecting nothing.
const minRedact = 4

// redact replaces the value of every variable the compose file references,
// or whose name says it is secret, with a ${NAME} reference, so the user
// still learns which variable produced the bad value.
func redact(msg string, composeData []byte, interp types.Mapping) string {
	names := map[string]bool{}
	for _, m := range varRef.FindAllSubmatch(composeData, -1) {
		names[string(m[1])] = true
	}
	for name := range interp {
		if secretName.MatchString(name) {
			names[name] = true
		}
	}
	type pair struct{ name, value string }
	var pairs []pair
	for name := range names {
		if v := interp[name]; len(v) >= minRedact {
			pairs = append(pairs, pair{name, v})
		}
	}
	// Longest first, so a value that contains another is replaced whole.
	sort.Slice(pairs, func(i, j int) bool {
		if len(pairs[i].value) != len(pairs[j].value) {
			return len(pairs[i].value) > len(pairs[j].value)
		}
		return pairs[i].name < pairs[j].name
	})
	for _, p := range pairs {
		msg = strings.ReplaceAll(msg, p.value, "${"+p.name+"}")
	}
	return msg
}
