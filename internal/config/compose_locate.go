package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// compose-go names what it rejects by a dotted path ("services.web.ports.0
// must be a mapping", "error while interpolating services.web.mem_limit:
// ..."), never by line. When its message is the one shown, berth finds that
// path in the files and positions the error there.
var composePath = regexp.MustCompile(`\b(?:services|volumes|networks|secrets|configs|include|models)(?:\.[A-Za-z0-9_\-]+)+`)

// locate positions e at the first compose path its message names, in the
// last file that sets it (the one whose value compose-go kept).
func locate(doc *composeDoc, e *Error) {
	m := composePath.FindString(e.Msg)
	if m == "" {
		return
	}
	parts := strings.Split(m, ".")
	// The longest prefix that exists: compose-go may name a key that is
	// missing (a required one), whose parent is the place to look.
	for n := len(parts); n > 0; n-- {
		for i := len(doc.files) - 1; i >= 0; i-- {
			f := doc.files[i]
			if node := walkPath(f.root, parts[:n]); node != nil {
				e.File, e.Line, e.Column = f.display, node.Line, node.Column
				e.Path = bracketIndexes(parts[:n])
				if e.Fix == "" {
					e.Fix = "see the Compose Specification for what this key takes"
				}
				return
			}
		}
	}
}

// walkPath follows keys and list indexes, returning the key node of the
// last mapping step or the item of the last list step.
func walkPath(n *yaml.Node, parts []string) *yaml.Node {
	var found *yaml.Node
	for _, p := range parts {
		n = resolve(n)
		if n == nil {
			return nil
		}
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			for _, kv := range mergedPairs(n) {
				if kv[0].Value == p {
					found, next = kv[0], kv[1]
				}
			}
			if next == nil {
				return nil
			}
			n = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(n.Content) {
				return nil
			}
			n = resolve(n.Content[i])
			found = n
		default:
			return nil
		}
	}
	return found
}

// bracketIndexes writes services.web.ports.0 as services.web.ports[0], the
// way berth's own errors name list items.
func bracketIndexes(parts []string) string {
	var b strings.Builder
	for i, p := range parts {
		if _, err := strconv.Atoi(p); err == nil && i > 0 {
			fmt.Fprintf(&b, "[%s]", p)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}
