// Package setup brings an engine's daemon.json to production defaults:
// the change is computed, merged with the user's own keys, shown as a diff,
// validated, and written only when asked, with the old file kept.
package setup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
)

// Default is one production default: a daemon.json key, its value, and why.
type Default struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
	Why   string `json:"why"`
	// Check is the audit check this default turns to pass.
	Check string `json:"check,omitempty"`
}

// Defaults are the production defaults berth sets, in file order.
var Defaults = []Default{
	{Key: "log-driver", Value: "local", Why: "rotates logs by default (100 MB per container), compressed; json-file never rotates unless told", Check: "host-log-rotation"},
	{Key: "live-restore", Value: true, Why: "containers keep running while dockerd restarts or upgrades", Check: "engine-live-restore"},
	{Key: "no-new-privileges", Value: true, Why: "no process in a container can gain privileges through setuid binaries", Check: "host-no-new-privileges"},
	{Key: "icc", Value: false, Why: "containers on the default bridge cannot reach each other unless linked; berth's apps use networks of their own", Check: "engine-icc"},
	{Key: "userland-proxy", Value: false, Why: "published ports are forwarded by iptables, not a docker-proxy process per port", Check: "host-userland-proxy"},
	{Key: "default-ulimits", Value: map[string]any{"nofile": map[string]any{"Name": "nofile", "Soft": 65536, "Hard": 65536}}, Why: "a bounded, sufficient open-files limit for every container (lower than the 1048576 some distributions' units give containers: raise it for a service that needs more)"},
	{Key: "metrics-addr", Value: "127.0.0.1:9323", Why: "engine metrics for monitoring, on loopback only", Check: "host-metrics-addr"},
}

// Change is what setup does with one default.
type Change struct {
	Default
	// Current is the user's value ("" key absent: nil).
	Current any `json:"current,omitempty"`
	// Action: "add" (key absent), "keep" (already the value), "kept"
	// (the user set another value: left alone unless overridden),
	// "override", "flag" (dockerd's command line sets it: dockerd
	// refuses a setting given both ways, so setup leaves it alone), or
	// "skip" (setting it would stop dockerd from starting: Reason says why).
	Action string `json:"action"`
	// Flag says where the flag is set, for Action "flag".
	Flag string `json:"flag,omitempty"`
	// Reason says why a default is not set, for Action "skip".
	Reason string `json:"reason,omitempty"`
}

// Plan is the computed daemon.json change.
type Plan struct {
	Path    string   `json:"path"`
	Before  []byte   `json:"-"`
	After   []byte   `json:"-"`
	Changes []Change `json:"changes"`
	Changed bool     `json:"changed"`
}

// Options are what Compute must respect besides the file.
type Options struct {
	// Override names keys the user set that setup may change.
	Override []string
	// Flags are the keys dockerd's command line already sets, with where
	// (audit.DockerdFlags): never added to daemon.json, since dockerd
	// refuses a setting given both ways.
	Flags map[string]string
	// FlagLogOpts are the log options the command line sets (--log-opt).
	FlagLogOpts []string
	// Swarm is true when the engine is in a swarm, where dockerd refuses
	// live-restore.
	Swarm bool
}

// localLogOpts are the options the local log driver accepts; dockerd
// refuses to start with any other under it.
var localLogOpts = []string{"max-size", "max-file", "compress", "mode", "max-buffer-size"}

// Compute plans the change to the daemon.json at path (missing or null:
// empty). Keys the user set to another value are kept unless named in
// o.Override; a default that would stop dockerd from starting is skipped
// with the reason. A file that is not strict JSON, or an override of a key
// setup does not set, is an error that changes nothing.
func Compute(path string, o Options) (Plan, error) {
	for _, k := range o.Override {
		if !slices.ContainsFunc(Defaults, func(d Default) bool { return d.Key == k }) {
			var keys []string
			for _, d := range Defaults {
				keys = append(keys, d.Key)
			}
			return Plan{Path: path}, fmt.Errorf("--override %s: setup does not set %q (fix: one of %s)", k, k, strings.Join(keys, ", "))
		}
	}
	p := Plan{Path: path}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return p, fmt.Errorf("reading %s: %w", path, err)
	}
	p.Before = data
	cur := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(data)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&cur); err != nil {
			return p, fmt.Errorf("%s is not a JSON object (%s): dockerd reads it as strict JSON, without comments (fix: correct the file, then run berth setup again)", path, SyntaxAt(data, err))
		}
		if dec.More() {
			return p, fmt.Errorf("%s has data after its JSON object (fix: correct the file, then run berth setup again)", path)
		}
	}
	isObject := cur != nil && len(bytes.TrimSpace(data)) > 0 // "null" is an empty file to dockerd
	if cur == nil {
		cur = map[string]json.RawMessage{}
	}
	// The log options in force, from the file and the command line: the
	// local driver refuses options it does not know.
	var logOpts map[string]any
	_ = json.Unmarshal(cur["log-opts"], &logOpts)
	var foreign []string
	for k := range logOpts {
		if !slices.Contains(localLogOpts, k) {
			foreign = append(foreign, k)
		}
	}
	for _, k := range o.FlagLogOpts {
		if !slices.Contains(localLogOpts, k) && !slices.Contains(foreign, k) {
			foreign = append(foreign, k)
		}
	}
	sort.Strings(foreign)
	var add []Default
	var set []Default
	for _, d := range Defaults {
		c := Change{Default: d}
		raw, has := cur[d.Key]
		want, _ := json.Marshal(d.Value)
		switch {
		case o.Flags[d.Key] != "":
			c.Action, c.Flag = "flag", o.Flags[d.Key]
		case d.Key == "live-restore" && o.Swarm:
			c.Action, c.Reason = "skip", "this engine is in a swarm, and dockerd refuses to start with live-restore in swarm mode"
		case d.Key == "log-driver" && len(foreign) > 0:
			c.Action, c.Reason = "skip", fmt.Sprintf("the log options %s are not ones the local driver accepts, and dockerd refuses to start with them under it; keep json-file with max-size, or drop those options", strings.Join(foreign, ", "))
			_ = json.Unmarshal(raw, &c.Current)
		case !has:
			c.Action = "add"
			add = append(add, d)
		case jsonEqual(raw, want):
			c.Action = "keep"
			_ = json.Unmarshal(raw, &c.Current)
		case slices.Contains(o.Override, d.Key):
			c.Action = "override"
			_ = json.Unmarshal(raw, &c.Current)
			set = append(set, d)
		default:
			c.Action = "kept"
			_ = json.Unmarshal(raw, &c.Current)
		}
		p.Changes = append(p.Changes, c)
	}
	if len(add) == 0 && len(set) == 0 {
		p.After = data
		return p, nil
	}
	p.Changed = true
	if len(set) == 0 && isObject {
		// Only new keys: add them before the closing brace, keeping the
		// user's file as written.
		kvs := make([]KV, len(add))
		for i, d := range add {
			kvs[i] = KV{d.Key, d.Value}
		}
		p.After = InsertKeys(data, kvs)
		return p, nil
	}
	for _, d := range append(add, set...) {
		cur[d.Key], _ = json.Marshal(d.Value)
	}
	keys := make([]string, 0, len(cur))
	for k := range cur {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, k := range keys {
		var v bytes.Buffer
		_ = json.Indent(&v, cur[k], "  ", "  ")
		fmt.Fprintf(&b, "  %q: %s", k, v.String())
		if i < len(keys)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	p.After = b.Bytes()
	return p, nil
}

// KV is one daemon.json key and its value.
type KV struct {
	Key   string
	Value any
}

// InsertKeys adds keys to a JSON object before its closing brace, keeping
// the rest of the file as the user wrote it.
func InsertKeys(data []byte, kvs []KV) []byte {
	end := bytes.LastIndexByte(data, '}')
	if end < 0 {
		data, end = []byte("{}"), 1
	}
	head := bytes.TrimRight(data[:end], " \t\r\n")
	var b bytes.Buffer
	b.Write(head)
	for i, kv := range kvs {
		if i > 0 || !bytes.HasSuffix(head, []byte("{")) {
			b.WriteByte(',')
		}
		v, _ := json.Marshal(kv.Value)
		fmt.Fprintf(&b, "\n  %q: %s", kv.Key, v)
	}
	b.WriteString("\n}")
	b.Write(bytes.TrimRight(data[end+1:], " \t\r\n"))
	b.WriteByte('\n')
	return b.Bytes()
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// SyntaxAt names the line of a JSON syntax error in data.
func SyntaxAt(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return fmt.Sprintf("line %d: %v", line, se)
	}
	return err.Error()
}
