package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"
)

// berth.yaml is read as a yaml.Node tree rather than decoded into structs
// so that every value keeps its line and column, unknown keys can be
// reported with a suggestion, and one bad value does not hide the rest.

// field is one key: value pair of a mapping, with the key path that names
// it in error messages.
type field struct {
	path string
	key  *yaml.Node
	val  *yaml.Node
}

// reader reports problems in one YAML file.
type reader struct {
	file string
	errs *errs
}

func (r *reader) errorf(n *yaml.Node, path, fix, format string, args ...any) {
	r.errs.at(r.file, n, path, fix, format, args...)
}

// parseYAML reads a file into a node tree; a syntax error comes back as a
// positioned *Error. Only the first document counts, as for every other
// single-document config format the user knows.
func parseYAML(displayPath string, data []byte) (*yaml.Node, *Error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(displayPath, err)
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		return resolve(doc.Content[0]), nil
	}
	return nil, nil // empty file
}

// readYAML is parseYAML on a file.
func readYAML(displayPath string) (*yaml.Node, *Error) {
	data, rerr := readFile(displayPath)
	if rerr != nil {
		return nil, rerr
	}
	return parseYAML(displayPath, data)
}

// resolve follows aliases so that anchors work anywhere a value may go.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names a node's type for "must be X, not Y" messages.
func describe(n *yaml.Node) string {
	n = resolve(n)
	switch {
	case n == nil:
		return "empty"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!null":
		return "empty"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	}
	return "a string"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fields returns the pairs of mapping n in file order. With known set, any
// other key is reported with a suggestion and skipped. Duplicate keys are
// reported because YAML parsers disagree on which one wins. Merge keys
// (<<: *anchor) are expanded, so shared deploy settings can be anchored.
func (r *reader) fields(n *yaml.Node, path string, known []string) []field {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		r.errorf(n, path, "", "must be a mapping, not %s", describe(n))
		return nil
	}
	var out []field
	seen := map[string]bool{}
	accept := func(k, v *yaml.Node, fromMerge bool) {
		if k.Kind != yaml.ScalarNode {
			r.errorf(k, path, "", "keys must be strings, not %s", describe(k))
			return
		}
		p := join(path, k.Value)
		if seen[k.Value] {
			if !fromMerge { // a merged key is meant to be overridden
				r.errorf(k, p, "remove one of them", "duplicate key")
			}
			return
		}
		if known != nil && !slices.Contains(known, k.Value) {
			if path == "" && strings.HasPrefix(k.Value, "x-") {
				return // compose's extension convention: a home for anchors
			}
			r.errorf(k, p, "", "%s", unknownName("key", k.Value, known))
			return
		}
		seen[k.Value] = true
		out = append(out, field{path: p, key: k, val: v})
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, r.mergeSources(v, path)...)
			continue
		}
		accept(k, v, false)
	}
	// Explicit keys win over merged ones, whatever their order in the file.
	for _, m := range merges {
		for i := 0; i+1 < len(m.Content); i += 2 {
			accept(resolve(m.Content[i]), resolve(m.Content[i+1]), true)
		}
	}
	return out
}

func (r *reader) mergeSources(v *yaml.Node, path string) []*yaml.Node {
	items := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		items = v.Content
	}
	var out []*yaml.Node
	for _, item := range items {
		if item = resolve(item); item.Kind != yaml.MappingNode {
			r.errorf(item, join(path, "<<"), "merge an anchored mapping, such as <<: *defaults",
				"must be a mapping or a list of mappings, not %s", describe(item))
			continue
		}
		out = append(out, item)
	}
	return out
}

// str reads a scalar as text. Numbers and booleans are accepted as their
// literal text because a value like `app: 2048` is still a name.
func (r *reader) str(f field) (string, bool) {
	if f.val.Kind != yaml.ScalarNode || isNull(f.val) {
		r.errorf(f.val, f.path, "", "must be a string, not %s", describe(f.val))
		return "", false
	}
	return f.val.Value, true
}

func (r *reader) integer(f field) (int, bool) {
	if f.val.Kind == yaml.ScalarNode && f.val.ShortTag() == "!!int" {
		if i, err := strconv.ParseInt(f.val.Value, 0, 64); err == nil && i == int64(int(i)) {
			return int(i), true
		}
	}
	r.errorf(f.val, f.path, "", "must be a whole number, not %s", describe(f.val))
	return 0, false
}

func (r *reader) boolean(f field) (bool, bool) {
	if f.val.Kind == yaml.ScalarNode && f.val.ShortTag() == "!!bool" {
		if b, err := strconv.ParseBool(strings.ToLower(f.val.Value)); err == nil {
			return b, true
		}
	}
	r.errorf(f.val, f.path, "write true or false", "must be true or false, not %s", describe(f.val))
	return false, false
}

// duration reads a Go duration. The value is echoed because durations
// carry no secrets and seeing "10" next to "missing unit" is the fastest
// route to the fix.
func (r *reader) duration(f field) (time.Duration, bool) {
	s, ok := r.str(f)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		r.errorf(f.val, f.path, "use a duration with a unit, such as 500ms, 10s or 1m30s",
			"%q is not a duration", s)
		return 0, false
	}
	if d < 0 {
		r.errorf(f.val, f.path, "use a positive duration", "must not be negative")
		return 0, false
	}
	return d, true
}

// stringAt is a list item kept with its node for later cross-checks.
type stringAt struct {
	value string
	node  *yaml.Node
}

func (r *reader) stringList(f field) ([]stringAt, bool) {
	if f.val.Kind != yaml.SequenceNode {
		r.errorf(f.val, f.path, "", "must be a list, not %s", describe(f.val))
		return nil, false
	}
	out := make([]stringAt, 0, len(f.val.Content))
	ok := true
	for i, item := range f.val.Content {
		s, good := r.str(field{path: fmt.Sprintf("%s[%d]", f.path, i), val: resolve(item)})
		if !good {
			ok = false
			continue
		}
		out = append(out, stringAt{value: s, node: resolve(item)})
	}
	return out, ok
}

// lookup walks a key path through mappings and returns the key node of the
// last element, or nil when any step is missing.
func lookup(n *yaml.Node, keys ...string) *yaml.Node {
	var found *yaml.Node
	for _, key := range keys {
		n = resolve(n)
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := resolve(n.Content[i]); k.Kind == yaml.ScalarNode && k.Value == key {
				found, next = k, n.Content[i+1] // last one wins, as in compose-go
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return found
}
