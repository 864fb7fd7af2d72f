package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// How berth's schema pass matches YAML nodes to the schema's types,
// enums and ranges, and words the mismatch.

func schemaTypes(s jsonSchema) []string {
	switch t := s["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if str, ok := x.(string); ok {
				out = append(out, str)
			}
		}
		return out
	}
	return nil
}

func matchesAny(n *yaml.Node, types []string) bool {
	for _, t := range types {
		if matchesType(n, t) {
			return true
		}
	}
	return false
}

// matchesType follows compose-go, which casts a string to the number or
// boolean a key expects: "8080" is a valid port.
func matchesType(n *yaml.Node, t string) bool {
	tag := n.ShortTag()
	switch t {
	case "object":
		return n.Kind == yaml.MappingNode
	case "array":
		return n.Kind == yaml.SequenceNode
	case "null":
		return isNull(n)
	}
	if n.Kind != yaml.ScalarNode {
		return false
	}
	if !strings.HasPrefix(tag, "!!") {
		return true // !override and friends: the value is checked once merged
	}
	switch t {
	case "string":
		return tag == "!!str" || tag == "!!binary" || tag == "!!timestamp"
	case "boolean":
		if tag == "!!bool" {
			return true
		}
		return tag == "!!str" && boolWord(n.Value)
	case "integer":
		if tag == "!!int" {
			return true
		}
		f, err := strconv.ParseFloat(n.Value, 64)
		return (tag == "!!float" || tag == "!!str") && err == nil && f == math.Trunc(f)
	case "number":
		if tag == "!!int" || tag == "!!float" {
			return true
		}
		_, err := strconv.ParseFloat(n.Value, 64)
		return tag == "!!str" && err == nil
	}
	return true
}

// boolWord is what compose-go casts to a boolean (yes/no with a warning).
func boolWord(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false", "y", "yes", "on", "n", "no", "off":
		return true
	}
	return false
}

func typeWords(types []string) string {
	seen := map[string]bool{}
	var words []string
	for _, t := range types {
		w := map[string]string{"object": "a mapping", "array": "a list", "string": "a string",
			"integer": "a whole number", "number": "a number", "boolean": "true or false", "null": "empty"}[t]
		if w == "" || seen[w] {
			continue
		}
		seen[w] = true
		words = append(words, w)
	}
	switch len(words) {
	case 0:
		return "something else"
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

func enumIssue(n *yaml.Node, enum []any, path string) *issue {
	valid := make([]string, 0, len(enum))
	for _, v := range enum {
		s := fmt.Sprint(v)
		if s == n.Value {
			return nil
		}
		valid = append(valid, s)
	}
	return valueIssue(n, path, valid)
}

// valueIssue is a value outside a closed set, with the likely one to
// write, or the set.
func valueIssue(n *yaml.Node, path string, valid []string) *issue {
	is := &issue{node: n, path: path, msg: unknownName("value", n.Value, valid), fix: "use one of the values listed"}
	if best, ok := closest(n.Value, valid); ok {
		is.fix = "write " + best
	}
	return is
}

// typeIssue says which kinds of value a key takes, and how each is written.
func typeIssue(n *yaml.Node, path string, types []string) *issue {
	var how []string
	seen := map[string]bool{}
	for _, t := range types {
		h := map[string]string{"object": "key: value lines indented under it", "array": "a list ([a, b], or one '- item' per line)",
			"string": "a string", "integer": "a whole number", "number": "a number", "boolean": "true or false"}[t]
		if h != "" && !seen[h] {
			seen[h] = true
			how = append(how, h)
		}
	}
	fix := "write " + strings.Join(how, ", or ")
	if len(types) == 1 && types[0] == "string" {
		fix = "write a single value instead of " + describe(n)
		if n.Kind == yaml.ScalarNode {
			fix = "quote it"
		}
	}
	return &issue{node: n, path: path, msg: fmt.Sprintf("must be %s, not %s", typeWords(types), describe(n)), fix: fix}
}

func rangeIssue(n *yaml.Node, s jsonSchema, path string) []*issue {
	v, err := strconv.ParseFloat(n.Value, 64)
	if err != nil {
		return nil
	}
	if lo, ok := s["minimum"].(float64); ok && v < lo {
		return []*issue{{node: n, path: path, msg: fmt.Sprintf("must be at least %v", lo)}}
	}
	if hi, ok := s["maximum"].(float64); ok && v > hi {
		return []*issue{{node: n, path: path, msg: fmt.Sprintf("must be at most %v", hi)}}
	}
	return nil
}
