package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// Compose files are found the way `docker compose` finds them, with
// berth.yaml's directory standing for the directory compose is run in:
//
//  1. compose: in berth.yaml (a file or a list), like `docker compose -f`;
//  2. otherwise COMPOSE_FILE, split on COMPOSE_PATH_SEPARATOR (default
//     ":"), from the environment or from the .env next to berth.yaml;
//  3. otherwise the first of defaultComposeNames, plus the first of
//     defaultOverrideNames when one exists.
//
// Relative paths are relative to berth.yaml's directory, so the result does
// not depend on where berth is run from.
var (
	defaultComposeNames  = []string{"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"}
	defaultOverrideNames = []string{"compose.override.yml", "compose.override.yaml", "docker-compose.override.yml", "docker-compose.override.yaml"}
)

// composeRef is a compose file to read, with where it was named.
type composeRef struct {
	display string     // path as shown to the user
	node    *yaml.Node // berth.yaml's compose: entry; nil otherwise
}

// composeRefs lists the compose files to merge, in order. It reports what
// is missing and returns nil when nothing usable was named.
func (r *reader) composeRefs(bf *berthFile, displayDir string, env types.Mapping, warn func(*Error)) []composeRef {
	rel := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(displayDir, p)
	}
	if bf.composeSet {
		if v, ok := env["COMPOSE_FILE"]; ok && v != "" {
			w := &Error{File: r.file, Path: "compose", Msg: "COMPOSE_FILE is set but berth.yaml's compose: wins, as `docker compose -f` does",
				Fix: "unset COMPOSE_FILE, or remove compose: from berth.yaml to use it"}
			if len(bf.compose) > 0 {
				w.Line, w.Column = bf.compose[0].node.Line, bf.compose[0].node.Column
			}
			warn(w)
		}
		var out []composeRef
		for _, c := range bf.compose {
			ref := composeRef{display: rel(c.value), node: c.node}
			if err := checkFile(ref.display); err != nil {
				r.fileProblem(c.node, "compose", ref.display, err)
				continue
			}
			out = append(out, ref)
		}
		if len(out) < len(bf.compose) {
			return nil
		}
		return out
	}
	if v, ok := env["COMPOSE_FILE"]; ok && v != "" {
		sep := env["COMPOSE_PATH_SEPARATOR"]
		if sep == "" {
			sep = string(os.PathListSeparator)
		}
		var out []composeRef
		bad := false
		for _, p := range strings.Split(v, sep) {
			if p == "" {
				continue
			}
			ref := composeRef{display: rel(p)}
			if err := checkFile(ref.display); err != nil {
				e := fileErr(ref.display, err)
				e.File, e.Path = "", "COMPOSE_FILE"
				e.Msg = fmt.Sprintf("names %s, which %s", ref.display, strings.TrimPrefix(e.Msg, "file "))
				if errors.Is(err, fs.ErrNotExist) {
					e.Msg = fmt.Sprintf("names %s, which does not exist", ref.display)
				}
				e.Fix = "correct COMPOSE_FILE (in the environment or in .env), or unset it"
				r.errs.add(e)
				bad = true
				continue
			}
			out = append(out, ref)
		}
		if bad {
			return nil
		}
		if len(out) > 0 {
			return out
		}
	}
	main := firstExisting(displayDir, defaultComposeNames, warn)
	if main == "" {
		r.errorf(nil, "compose", "create compose.yaml next to berth.yaml, or set compose: to its path",
			"no compose file found (looked for %s)", strings.Join(defaultComposeNames, ", "))
		return nil
	}
	out := []composeRef{{display: main}}
	if over := firstExisting(displayDir, defaultOverrideNames, warn); over != "" {
		out = append(out, composeRef{display: over})
	}
	return out
}

// fileProblem reports a compose file named in berth.yaml that cannot be
// read, at the entry that names it.
func (r *reader) fileProblem(n *yaml.Node, path, display string, err error) {
	e := fileErr(display, err)
	fix := e.Fix
	if errors.Is(err, fs.ErrNotExist) {
		fix = "create it, or point compose: at the app's compose files"
	}
	r.errorf(n, path, fix, "%s %s", display, strings.TrimPrefix(e.Msg, "file "))
}

// firstExisting returns the first of names present in dir, warning like
// docker compose when several are.
func firstExisting(dir string, names []string, warn func(*Error)) string {
	var found []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			found = append(found, p)
		}
	}
	if len(found) == 0 {
		return ""
	}
	if len(found) > 1 {
		names := make([]string, len(found))
		for i, f := range found {
			names[i] = filepath.Base(f)
		}
		warn(&Error{File: found[0], Msg: fmt.Sprintf("found %s; using %s, as docker compose does", strings.Join(names, ", "), names[0]),
			Fix: "remove the files you do not mean"})
	}
	return found[0]
}

// baseEnv is the environment berth interpolates with and reads COMPOSE_*
// from: the injected one when there is one, else the process's.
func baseEnv(injected map[string]string) types.Mapping {
	env := types.Mapping{}
	if injected != nil {
		for k, v := range injected {
			env[k] = v
		}
		return env
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

// withDotEnv adds the variables of dir/.env that the environment does not
// set, as docker compose does (the environment wins), unless
// COMPOSE_DISABLE_ENV_FILE is true. It returns the merged environment, or
// env unchanged and an error positioned in the .env file.
func withDotEnv(env types.Mapping, dir, displayDir string) (types.Mapping, *Error) {
	if off, err := strconv.ParseBool(env["COMPOSE_DISABLE_ENV_FILE"]); err == nil && off {
		return env, nil
	}
	path := filepath.Join(dir, ".env")
	display := filepath.Join(displayDir, ".env")
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		return env, nil // no .env is the usual case
	}
	data, err := readLimited(path)
	if err != nil {
		return env, fileErr(display, err)
	}
	vars, err := dotenv.UnmarshalBytesWithLookup(data, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		e := &Error{File: display, Msg: scrubDotenv(err.Error()), Fix: "write each line as NAME=value, quoting values with spaces or #"}
		if m := dotenvLine.FindStringSubmatch(e.Msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = m[2]
		}
		return env, e
	}
	out := types.Mapping{}
	for k, v := range env {
		out[k] = v
	}
	return out.Merge(vars), nil
}

var dotenvLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// profilesFrom is --profile, or COMPOSE_PROFILES when none is given.
func profilesFrom(flag []string, env types.Mapping) []string {
	if len(flag) > 0 {
		return flag
	}
	var out []string
	for _, p := range strings.Split(env["COMPOSE_PROFILES"], ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
