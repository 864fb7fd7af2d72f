package config

import (
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v4"
)

// berthFile is berth.yaml as written, before defaults from the environment
// and the cross-checks against compose. Nodes are kept where a later check
// needs to point back at the input.
type berthFile struct {
	app     string
	appNode *yaml.Node // nil when app: is missing

	// compose lists the compose files as written, relative to berth.yaml's
	// directory, each with its node; composeSet says compose: was given.
	compose    []stringAt
	composeSet bool

	hosts []hostSpec // in file order; empty when none are named

	proxy    Proxy
	policy   Policy
	services []*serviceSpec
}

var topLevelKeys = []string{"app", "compose", "hosts", "proxy", "services", "policy", "backups", "alerts"}

// appName matches what Docker accepts in object names and what compose
// accepts as a project name, so the app name can prefix both.
var appName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

const maxAppName = 40 // leaves room in container names for service and release

func (r *reader) berthFile(root *yaml.Node, baseDir string, env envFunc) *berthFile {
	bf := &berthFile{proxy: defaultProxy(), policy: defaultPolicy()}
	for _, f := range r.fields(root, "", topLevelKeys) {
		switch f.key.Value {
		case "app":
			bf.appNode = f.val
			bf.app, _ = r.appName(f)
		case "compose":
			bf.composeSet = !isNull(f.val)
			bf.compose = r.composeList(f)
		case "hosts":
			bf.hosts = r.hosts(f, baseDir, env)
		case "proxy":
			bf.proxy = r.proxy(f)
		case "services":
			bf.services = r.serviceSpecs(f)
		case "policy":
			bf.policy = r.policy(f, baseDir)
		case "alerts":
			// Accepted now so files written for later releases load;
			// their contents are validated once they mean something.
			r.fields(f.val, f.path, nil)
		case "backups":
			if !isNull(f.val) && f.val.Kind != yaml.SequenceNode {
				r.errorf(f.val, f.path, "", "must be a list, not %s", describe(f.val))
			}
		}
	}
	if bf.appNode == nil {
		e := &Error{File: r.file, Path: "app", Msg: "required key is missing",
			Fix: "add app: <name> (lower-case letters, digits and dashes)"}
		if root != nil {
			e.Line, e.Column = root.Line, root.Column
		}
		r.errs.add(e)
	}
	return bf
}

func (r *reader) appName(f field) (string, bool) {
	s, ok := r.str(f)
	if !ok {
		return "", false
	}
	const fix = "use lower-case letters, digits and dashes, starting and ending with a letter or digit"
	switch {
	case s == "":
		r.errorf(f.val, f.path, fix, "must not be empty")
	case len(s) > maxAppName:
		r.errorf(f.val, f.path, "shorten the name", "%q is longer than %d characters", s, maxAppName)
	case !appName.MatchString(s):
		r.errorf(f.val, f.path, fix, "%q is not a valid app name", s)
	default:
		return s, true
	}
	return "", false
}

// composeList reads compose: as one file or a list of files, merged in
// order like `docker compose -f a -f b`.
func (r *reader) composeList(f field) []stringAt {
	if isNull(f.val) {
		return nil
	}
	const fix = "name the compose file, or list them: compose: [compose.yaml, compose.prod.yaml]"
	if f.val.Kind == yaml.SequenceNode {
		list, _ := r.stringList(f)
		if len(f.val.Content) == 0 {
			r.errorf(f.val, f.path, "remove compose: to use the default files, or "+fix, "lists no files")
		}
		var out []stringAt
		for i, item := range list {
			if item.value == "" {
				r.errorf(item.node, fmt.Sprintf("%s[%d]", f.path, i), fix, "must not be empty")
				continue
			}
			out = append(out, item)
		}
		return out
	}
	s, ok := r.str(f)
	if !ok {
		return nil
	}
	if s == "" {
		r.errorf(f.val, f.path, "name the compose file or remove compose: to use the default", "must not be empty")
		return nil
	}
	return []stringAt{{value: s, node: f.val}}
}
