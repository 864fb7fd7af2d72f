package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/schema"
	"go.yaml.in/yaml/v4"
)

// berth checks each compose file against the Compose Specification's JSON
// schema itself, over the YAML nodes, instead of relying on compose-go's
// validation: that one stops at the first problem, picks it in map order
// (so the reported typo changes between runs) and says neither the line
// nor what was meant. The schema is the one compose-go embeds, so both
// agree on what is valid; berth's pass is only more talkative. Where the
// pass is unsure (a value that is interpolated later, a null) it says
// nothing and compose-go, which runs after it, has the last word.

// jsonSchema is one node of the compose-spec schema as decoded JSON.
type jsonSchema = map[string]any

var (
	specOnce sync.Once
	specRoot jsonSchema
	specErr  error
)

func composeSpec() (jsonSchema, error) {
	specOnce.Do(func() { specErr = json.Unmarshal([]byte(schema.Schema), &specRoot) })
	return specRoot, specErr
}

// issue is one schema violation found in a file, before it is positioned.
type issue struct {
	node *yaml.Node
	path string
	msg  string
	fix  string
}

type schemaCheck struct {
	root   jsonSchema
	cache  map[string]*regexp.Regexp
	visits int
	// Schema nodes are immutable maps: what is derived from one is kept
	// by its identity, so each node is resolved once per file.
	derefs  map[uintptr]jsonSchema
	objects map[uintptr]*objectKeys
	// yesNo are booleans written yes/no/on/off, which compose-go accepts
	// with a warning: berth gives that warning its position.
	yesNo map[*yaml.Node]string
}

// objectKeys is what a mapping may hold, from properties,
// patternProperties and the allOf members.
type objectKeys struct {
	props         map[string]jsonSchema
	patterns      []string
	patternSchema map[string]jsonSchema
	addSchema     jsonSchema
	closed        bool
}

func identity(s jsonSchema) uintptr { return reflect.ValueOf(s).Pointer() }

// maxVisits bounds the pass: aliases are followed, so a small file of
// nested aliases (a "billion laughs") could expand beyond any memory or
// time. The 166-line sample in testdata/compose/valid makes 281 visits, so
// the bound is a file of some 100,000 lines.
const maxVisits = 200_000

// validateComposeFile reports every schema violation of one compose file, in
// file order.
//
// It returns the words it warned about as booleans (yes, off...), so that
// compose-go's unpositioned warning about them can be dropped.
func validateComposeFile(f *composeFile, e *errs) map[string]bool {
	root, err := composeSpec()
	if err != nil || f.root == nil {
		return nil // compose-go reports what berth cannot
	}
	c := &schemaCheck{root: root, cache: map[string]*regexp.Regexp{},
		derefs: map[uintptr]jsonSchema{}, objects: map[uintptr]*objectKeys{}, yesNo: map[*yaml.Node]string{}}
	issues := c.check(f.root, root, "")
	if c.visits > maxVisits {
		e.at(f.display, nil, "", "use fewer nested anchors and aliases",
			"expands to more than %d values through anchors and aliases", maxVisits)
		return nil
	}
	issues = append(issues, semanticIssues(f.root)...)
	for _, is := range issues {
		e.at(f.display, is.node, is.path, is.fix, "%s", is.msg)
	}
	words := map[string]bool{}
	for n, path := range c.yesNo {
		b := "true"
		if w := strings.ToLower(n.Value); w == "n" || w == "no" || w == "off" {
			b = "false"
		}
		words[n.Value] = true
		e.warn(&Error{File: f.display, Line: n.Line, Column: n.Column, Path: path, Fix: "write " + b,
			Msg: fmt.Sprintf("%q is read as %s here, but YAML 1.2 and other tools read it as a string", n.Value, b)})
	}
	return words
}

// deref follows a local $ref ("#/$defs/name").
func (c *schemaCheck) deref(s jsonSchema) jsonSchema {
	if _, ok := s["$ref"]; !ok {
		return s
	}
	id := identity(s)
	if d, ok := c.derefs[id]; ok {
		return d
	}
	d := c.derefUncached(s)
	c.derefs[id] = d
	return d
}

func (c *schemaCheck) derefUncached(s jsonSchema) jsonSchema {
	for {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		name := strings.TrimPrefix(ref, "#/$defs/")
		defs, _ := c.root["$defs"].(map[string]any)
		next, ok := defs[name].(map[string]any)
		if !ok {
			return jsonSchema{}
		}
		// A $ref with siblings means both apply: keep the siblings.
		merged := jsonSchema{}
		for k, v := range next {
			merged[k] = v
		}
		for k, v := range s {
			if k != "$ref" {
				merged[k] = v
			}
		}
		s = merged
	}
}

// interpolated reports a scalar whose value is only known after variable
// substitution; compose-go checks it then.
func interpolated(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 && strings.Contains(n.Value, "$")
}

func (c *schemaCheck) check(n *yaml.Node, s jsonSchema, path string) []*issue {
	if c.visits++; c.visits > maxVisits {
		return nil
	}
	n = resolve(n)
	s = c.deref(s)
	// !reset drops an inherited value; compose-go checks what remains.
	if n == nil || isNull(n) || interpolated(n) || n.Tag == "!reset" {
		return nil
	}
	types := schemaTypes(s)
	if len(types) > 0 && !matchesAny(n, types) {
		return []*issue{typeIssue(n, path, types)}
	}
	// The schema allows a string beside a boolean only for ${VAR}:
	// compose-go then casts it and fails on anything but a boolean word.
	if len(types) == 2 && slices.Contains(types, "boolean") && slices.Contains(types, "string") &&
		n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && !boolWord(n.Value) {
		return []*issue{{node: n, path: path, msg: "must be true or false, not a string", fix: "write true or false"}}
	}
	if slices.Contains(types, "boolean") && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && boolWord(n.Value) {
		if w := strings.ToLower(n.Value); w != "true" && w != "false" {
			c.yesNo[n] = path
		}
	}
	if alts := alternatives(s); len(alts) > 0 {
		if out, stop := c.oneOf(n, alts, path); stop {
			return out
		}
	}
	if enum, ok := s["enum"].([]any); ok && n.Kind == yaml.ScalarNode {
		if is := enumIssue(n, enum, path); is != nil {
			return []*issue{is}
		}
	}
	var out []*issue
	switch n.Kind {
	case yaml.MappingNode:
		out = c.mapping(n, s, path)
	case yaml.SequenceNode:
		if items, ok := s["items"].(map[string]any); ok {
			for i, item := range n.Content {
				out = append(out, c.check(item, items, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	case yaml.ScalarNode:
		out = rangeIssue(n, s, path)
	}
	return out
}

func alternatives(s jsonSchema) []any {
	if a, ok := s["oneOf"].([]any); ok {
		return a
	}
	a, _ := s["anyOf"].([]any)
	return a
}

// oneOf checks n against each alternative. Valid against one: fine. Else,
// when the node's kind fits some alternatives, their closest miss is the
// error (an unknown key inside the long syntax of a port, say); when it fits
// none, the error lists the kinds that would.
func (c *schemaCheck) oneOf(n *yaml.Node, alts []any, path string) ([]*issue, bool) {
	var (
		best  []*issue
		found bool
		kinds []string
	)
	for _, a := range alts {
		as, ok := a.(map[string]any)
		if !ok {
			continue
		}
		as = c.deref(as)
		types := schemaTypes(as)
		kinds = append(kinds, types...)
		issues := c.check(n, as, path)
		if len(issues) == 0 {
			return nil, true
		}
		if len(types) > 0 && !matchesAny(n, types) {
			continue
		}
		if !found || len(issues) < len(best) {
			best, found = issues, true
		}
	}
	if found {
		return best, true
	}
	if len(kinds) > 0 {
		return []*issue{typeIssue(n, path, kinds)}, true
	}
	return nil, false
}

// mapping checks keys against properties, patternProperties and the
// properties that allOf members contribute, so that a closed object
// (additionalProperties or unevaluatedProperties false) reports every key
// it does not know, each with a suggestion.
func (c *schemaCheck) mapping(n *yaml.Node, s jsonSchema, path string) []*issue {
	ok := c.objectKeys(s)
	props, patterns, patternSchema, addSchema, closed := ok.props, ok.patterns, ok.patternSchema, ok.addSchema, ok.closed

	var out []*issue
	for _, kv := range mergedPairs(n) {
		k, v := kv[0], kv[1]
		if k.Kind != yaml.ScalarNode {
			out = append(out, &issue{node: k, path: path, msg: "keys must be strings, not " + describe(k)})
			continue
		}
		p := join(path, k.Value)
		if ps, ok := props[k.Value]; ok {
			out = append(out, c.check(v, ps, p)...)
			continue
		}
		if ps, ok := c.matchPattern(k.Value, patterns, patternSchema); ok {
			out = append(out, c.check(v, ps, p)...)
			continue
		}
		switch {
		case addSchema != nil:
			out = append(out, c.check(v, addSchema, p)...)
		case closed && len(props) == 0:
			out = append(out, &issue{node: k, path: p, msg: fmt.Sprintf("%q is not a valid name", k.Value),
				fix: "use letters, digits, '.', '_' and '-' only"})
		case closed:
			names := make([]string, 0, len(props))
			for name := range props {
				names = append(names, name)
			}
			is := &issue{node: k, path: p, msg: unknownName("key", k.Value, names)}
			if best, ok := closest(k.Value, names); ok {
				is.msg = strings.SplitN(is.msg, " (valid:", 2)[0]
				is.fix = fmt.Sprintf("rename it to %s", best)
			} else {
				is.msg = fmt.Sprintf("unknown key %q", k.Value)
				is.fix = "see the Compose Specification for the keys allowed here; custom keys start with x-"
			}
			out = append(out, is)
		}
	}
	return out
}

// objectKeys collects, once per schema node, the keys a mapping may hold.
func (c *schemaCheck) objectKeys(s jsonSchema) *objectKeys {
	id := identity(s)
	if k, ok := c.objects[id]; ok {
		return k
	}
	props := map[string]jsonSchema{}
	var patterns []string
	patternSchema := map[string]jsonSchema{}
	var collect func(s jsonSchema)
	collect = func(s jsonSchema) {
		s = c.deref(s)
		if p, ok := s["properties"].(map[string]any); ok {
			for k, v := range p {
				if vs, ok := v.(map[string]any); ok {
					props[k] = vs
				}
			}
		}
		if p, ok := s["patternProperties"].(map[string]any); ok {
			for k, v := range p {
				if vs, ok := v.(map[string]any); ok {
					if _, seen := patternSchema[k]; !seen {
						patterns = append(patterns, k)
					}
					patternSchema[k] = vs
				}
			}
		}
		if all, ok := s["allOf"].([]any); ok {
			for _, a := range all {
				if as, ok := a.(map[string]any); ok {
					collect(as)
				}
			}
		}
	}
	collect(s)
	sort.Strings(patterns)
	additional, addSchema := s["additionalProperties"], jsonSchema(nil)
	if as, ok := additional.(map[string]any); ok {
		addSchema = as
	}
	closed := additional == false || s["unevaluatedProperties"] == false
	k := &objectKeys{props: props, patterns: patterns, patternSchema: patternSchema, addSchema: addSchema, closed: closed}
	c.objects[id] = k
	return k

}

func (c *schemaCheck) matchPattern(key string, patterns []string, schemas map[string]jsonSchema) (jsonSchema, bool) {
	for _, p := range patterns {
		re, ok := c.cache[p]
		if !ok {
			re, _ = regexp.Compile(p)
			c.cache[p] = re
		}
		if re != nil && re.MatchString(key) {
			return schemas[p], true
		}
	}
	return nil, false
}

// mergedPairs lists a mapping's key/value pairs with YAML merge keys
// expanded, explicit keys first, as compose-go reads them.
func mergedPairs(n *yaml.Node) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	seen := map[string]bool{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			if v.Kind == yaml.SequenceNode {
				for _, m := range v.Content {
					merges = append(merges, resolve(m))
				}
			} else {
				merges = append(merges, v)
			}
			continue
		}
		seen[k.Value] = true
		out = append(out, [2]*yaml.Node{k, v})
	}
	for _, m := range merges {
		if m.Kind != yaml.MappingNode {
			continue
		}
		for _, kv := range mergedPairs(m) {
			if !seen[kv[0].Value] {
				seen[kv[0].Value] = true
				out = append(out, kv)
			}
		}
	}
	return out
}
