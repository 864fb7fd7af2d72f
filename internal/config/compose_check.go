package config

import (
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// serviceRoles is what berth.yaml says of each service, which decides
// some of what compose may ask (a static address only for an accessory).
// The zero value means no berth.yaml (berth init): roles are unknown, and
// what depends on them is not judged.
type serviceRoles struct {
	routed, accessory map[string]bool
}

// isAccessory reports whether service is, or may yet be made, an accessory.
func (r serviceRoles) isAccessory(service string) bool {
	return r.accessory == nil || r.accessory[service]
}

// rejectUnsupported reports every compose key berth cannot honour, at its
// position, with the reason and the fix (the composeKeys table), and then
// the uses of honoured keys berth cannot honour (compose_usage.go).
// Silently ignoring any of them would deploy something other than what the
// files say, while validate called them valid.
//
// Keys are read from the loaded project, not the files, so what came in
// through extends, include or a merge key is judged too; the position is
// the key in the file that sets it when there is one, else the service.
func rejectUnsupported(doc *composeDoc, p *types.Project, roles serviceRoles, e *errs) {
	rejectTopLevel(doc, p, e)
	checkInlineSources(doc, p, e)
	for _, name := range sortedKeys(p.Services) {
		s := p.Services[name]
		for _, key := range presentKeys(reflect.ValueOf(s)) {
			if key == "name" { // compose-go's copy of the map key, not a key the user writes
				continue
			}
			refuseKey(e, "service", key, func(fix, format string, args ...any) {
				doc.errorf(e, name, []string{key}, fix, format, args...)
			})
		}
		if s.Deploy != nil {
			for _, key := range presentKeys(reflect.ValueOf(*s.Deploy)) {
				refuseKey(e, "deploy", key, func(fix, format string, args ...any) {
					doc.errorf(e, name, []string{"deploy", key}, fix, format, args...)
				})
			}
		}
		v := &serviceCheck{doc: doc, p: p, e: e, name: name, s: s, routed: roles.routed[name], roles: roles}
		v.check()
	}
}

// refuseKey reports key when the table refuses it or does not know it.
func refuseKey(e *errs, scope, key string, report func(fix, format string, args ...any)) {
	k, found := keyIndex[[2]string{scope, key}]
	switch {
	case !found:
		report("remove it; docs/compose.md lists what berth honours",
			"berth does not know this key, so it cannot honour it")
	case !k.Honoured:
		report(k.Fix, "berth does not honour this key: %s", k.Note)
	}
}

// rejectTopLevel judges the files' own top-level keys and the definitions
// under networks, volumes, configs and secrets.
func rejectTopLevel(doc *composeDoc, p *types.Project, e *errs) {
	for _, f := range doc.files {
		root := resolve(f.root)
		if root == nil || root.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(root.Content); i += 2 {
			k := resolve(root.Content[i])
			if strings.HasPrefix(k.Value, "x-") {
				continue
			}
			refuseKey(e, "top", k.Value, func(fix, format string, args ...any) {
				e.at(f.display, k, k.Value, fix, format, args...)
			})
		}
	}
	// Brought in by include: from a file berth does not position, so placed
	// at the main file.
	if len(p.Models) > 0 && doc.lookup("models") == nil {
		refuseKey(e, "top", "models", func(fix, format string, args ...any) { e.at(doc.files[0].display, nil, "models", fix, format, args...) })
	}
	if len(p.Jobs) > 0 && doc.lookup("jobs") == nil {
		refuseKey(e, "top", "jobs", func(fix, format string, args ...any) { e.at(doc.files[0].display, nil, "jobs", fix, format, args...) })
	}
	defs := func(section, scope string, names []string, value func(string) any) {
		for _, name := range names {
			for _, key := range presentKeys(reflect.ValueOf(value(name))) {
				refuseKey(e, scope, key, func(fix, format string, args ...any) {
					doc.defErrorf(e, section, name, key, fix, format, args...)
				})
			}
		}
	}
	defs("networks", "network", sortedKeys(p.Networks), func(n string) any { return p.Networks[n] })
	defs("volumes", "volume", sortedKeys(p.Volumes), func(n string) any { return p.Volumes[n] })
	defs("configs", "config", sortedKeys(p.Configs), func(n string) any { return p.Configs[n] })
	defs("secrets", "secret", sortedKeys(p.Secrets), func(n string) any { return p.Secrets[n] })
	for _, name := range sortedKeys(p.Networks) {
		if n := p.Networks[name]; n.EnableIPv4 != nil && !*n.EnableIPv4 {
			doc.defErrorf(e, "networks", name, "enable_ipv4", "remove enable_ipv4: false",
				"an IPv6-only network needs Engine API 1.47; berth also deploys to API 1.41 engines, which would create it with IPv4")
		}
	}
}

// defErrorf reports at <section>.<name>.<key>, or at the definition when
// the key is not in any file (key "" means the definition itself).
func (d *composeDoc) defErrorf(e *errs, section, name, key, fix, format string, args ...any) {
	path := section + "." + name
	f, n := d.find(section, name, key)
	if key == "" || n == nil {
		f, n = d.find(section, name)
	}
	if key != "" {
		path += "." + key
	}
	if f == nil {
		f = d.files[0]
	}
	e.at(f.display, n, path, fix, format, args...)
}

// nearest is the file and node at path (mapping keys, or sequence
// indexes) in the last file that has it, or of the deepest ancestor found
// when the rest came from elsewhere (extends, include, a merge key): the
// error still lands near the cause.
func (d *composeDoc) nearest(path ...string) (*composeFile, *yaml.Node) {
	bestFile, best, bestDepth := d.files[0], (*yaml.Node)(nil), 0
	for _, f := range d.files {
		if n, depth := nearestIn(f.root, path); depth >= bestDepth && n != nil {
			bestFile, best, bestDepth = f, n, depth
		}
	}
	return bestFile, best
}

func nearestIn(root *yaml.Node, path []string) (*yaml.Node, int) {
	var found *yaml.Node
	depth := 0
	n := root
	for _, key := range path {
		n = resolve(n)
		if n == nil {
			break
		}
		var next, at *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k := resolve(n.Content[i]); k.Kind == yaml.ScalarNode && k.Value == key {
					at, next = k, n.Content[i+1]
				}
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(key); err == nil && i >= 0 && i < len(n.Content) {
				at, next = n.Content[i], n.Content[i]
			}
		}
		if next == nil {
			break
		}
		found, n = at, next
		depth++
	}
	return found, depth
}

// presentKeys lists the yaml keys of struct v (inline fields included)
// whose value is set: the keys the loaded project carries.
func presentKeys(v reflect.Value) []string {
	var out []string
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") || (f.Anonymous && tag == "") {
			if name == "" && f.Type.Kind() == reflect.Struct {
				out = append(out, presentKeys(v.Field(i))...)
			}
			continue // extensions (x-*) are the user's own
		}
		if name == "" || name == "-" || !f.IsExported() || v.Field(i).IsZero() {
			continue
		}
		out = append(out, name)
	}
	return out
}

// yamlKeys lists every yaml key struct type t can carry.
func yamlKeys(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") || (f.Anonymous && tag == "") {
			if name == "" && f.Type.Kind() == reflect.Struct {
				out = append(out, yamlKeys(f.Type)...)
			}
			continue
		}
		if name != "" && name != "-" && f.IsExported() {
			out = append(out, name)
		}
	}
	return out
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
