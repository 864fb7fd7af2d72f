package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"unicode/utf16"
	"unicode/utf8"
)

// DaemonConfigError is a daemon.json dockerd would refuse, with where.
type DaemonConfigError struct {
	Path         string
	Line, Column int // 0 when the whole file is at fault
	Msg          string
}

func (e *DaemonConfigError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.Path, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.Path, e.Line, e.Column, e.Msg)
}

// readDaemonConfig reads daemon.json strictly, as dockerd does (a JSON
// object, no comments; a byte order mark, UTF-8 or UTF-16 as Windows
// editors write it, and an empty file are accepted), naming it name in
// errors; a missing file is (nil, nil, nil). It also returns the decoded
// text, for the lines of keys.
func readDaemonConfig(file, name string) (map[string]any, []byte, error) {
	raw, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	data, bad, err := decodeDaemonText(raw)
	if err != nil {
		de := &DaemonConfigError{Path: name, Msg: err.Error()}
		if bad >= 0 {
			de.Line, de.Column = jsonLineCol(data, bad)
		}
		return nil, nil, de
	}
	cfg := map[string]any{}
	if len(bytes.TrimSpace(data)) == 0 {
		return cfg, data, nil
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, data, daemonConfigErrorAt(name, data, err)
	}
	switch v := v.(type) {
	case map[string]any:
		cfg = v
	case nil: // "null": dockerd reads it as no settings
	default:
		line, col := jsonLineCol(data, len(data)-len(bytes.TrimLeft(data, " \t\r\n")))
		return nil, data, &DaemonConfigError{Path: name, Line: line, Column: col, Msg: fmt.Sprintf("a JSON object is expected, not %s", jsonKindOf(v))}
	}
	return cfg, data, nil
}

// decodeDaemonText does what dockerd does before parsing: a byte order mark
// picks UTF-8 or UTF-16, and the text must then be valid UTF-8. bad is the
// offset of the first byte that is not.
func decodeDaemonText(b []byte) (text []byte, bad int, err error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		b = b[3:]
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		le := b[0] == 0xFF
		b = b[2:]
		if len(b)%2 != 0 {
			return nil, -1, errors.New("UTF-16 text with an odd number of bytes")
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			if le {
				u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
			} else {
				u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
			}
		}
		return []byte(string(utf16.Decode(u))), 0, nil
	}
	for off := 0; off < len(b); {
		r, n := utf8.DecodeRune(b[off:])
		if r == utf8.RuneError && n == 1 {
			return b, off, errors.New("not UTF-8 text (save the file as UTF-8)")
		}
		off += n
	}
	return b, 0, nil
}

func daemonConfigErrorAt(name string, data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off := min(max(int(se.Offset)-1, 0), len(data)) // the offending byte
		line, col := jsonLineCol(data, off)
		msg := se.Error()
		prev := bytes.TrimRight(data[:off], " \t\r\n")
		switch {
		case off < len(data) && (data[off] == '/' || data[off] == '#'):
			msg = "comments are not allowed: dockerd reads daemon.json as strict JSON"
		case off < len(data) && (data[off] == '}' || data[off] == ']') && bytes.HasSuffix(prev, []byte(",")):
			msg = "a trailing comma is not allowed"
			line, col = jsonLineCol(data, len(prev)-1)
		case se.Offset >= int64(len(data)):
			msg = "the JSON ends early (an unclosed { or [, or a trailing comma)"
			line, col = jsonLineCol(data, len(bytes.TrimRight(data, " \t\r\n")))
		}
		return &DaemonConfigError{Path: name, Line: line, Column: col, Msg: msg}
	case errors.As(err, &te):
		line, col := jsonLineCol(data, int(te.Offset))
		return &DaemonConfigError{Path: name, Line: line, Column: col, Msg: te.Error()}
	}
	return &DaemonConfigError{Path: name, Msg: err.Error()}
}

func jsonLineCol(data []byte, off int) (int, int) {
	off = min(max(off, 0), len(data))
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}

func jsonKindOf(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	}
	return "null"
}

// daemonKeyLines is the line of each top-level key, for evidence.
func daemonKeyLines(data []byte) map[string]int {
	out := map[string]int{}
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return out
	}
	for dec.More() {
		off := dec.InputOffset()
		t, err := dec.Token()
		if err != nil {
			return out
		}
		k, _ := t.(string)
		// The key starts after whitespace and the comma before it.
		rest := data[off:]
		skip := len(rest) - len(bytes.TrimLeft(rest, " \t\r\n,"))
		line, _ := jsonLineCol(data, int(off)+skip)
		out[k] = line
		var skipV json.RawMessage
		if dec.Decode(&skipV) != nil {
			return out
		}
	}
	return out
}

func (e *hostEnv) readDaemonJSON() (map[string]any, []byte, error) {
	real, err := hostResolve(e.root, e.daemonJSON)
	if err != nil {
		return nil, nil, err
	}
	return readDaemonConfig(e.join(real), e.daemonJSON)
}

// daemonKeyTypes are the types dockerd's Config gives keys berth reads or
// people often get wrong: a value of another type stops dockerd at start.
var daemonKeyTypes = map[string]string{
	"hosts": "list", "insecure-registries": "list", "registry-mirrors": "list", "dns": "list", "dns-opts": "list",
	"dns-search": "list", "exec-opts": "list", "storage-opts": "list", "labels": "list", "authorization-plugins": "list",
	"log-opts": "string map",
	"icc":      "boolean", "userland-proxy": "boolean", "no-new-privileges": "boolean", "live-restore": "boolean", "tls": "boolean",
	"tlsverify": "boolean", "debug": "boolean", "experimental": "boolean", "ipv6": "boolean", "iptables": "boolean",
	"ip6tables": "boolean", "ip-forward": "boolean", "ip-masq": "boolean", "selinux-enabled": "boolean", "init": "boolean",
	"log-driver": "string", "log-level": "string", "metrics-addr": "string", "tlscacert": "string", "tlscert": "string",
	"tlskey": "string", "data-root": "string", "group": "string", "userns-remap": "string", "storage-driver": "string",
	"bip": "string", "exec-root": "string", "pidfile": "string", "default-runtime": "string", "seccomp-profile": "string",
}

func daemonTypeProblem(key string, v any) string {
	want, ok := daemonKeyTypes[key]
	if !ok || v == nil {
		return "" // dockerd takes null as unset
	}
	switch want {
	case "boolean":
		if _, ok := v.(bool); ok {
			return ""
		}
	case "string":
		if _, ok := v.(string); ok {
			return ""
		}
	case "list":
		if l, ok := v.([]any); ok {
			for _, x := range l {
				if _, ok := x.(string); !ok {
					return fmt.Sprintf("%q must be a list of strings", key)
				}
			}
			return ""
		}
	case "string map":
		if m, ok := v.(map[string]any); ok {
			for _, k := range hostSortedKeys(m) {
				if _, ok := m[k].(string); !ok {
					return fmt.Sprintf("%q: the value of %q must be a string (quoted)", key, k) // the value may be a secret
				}
			}
			return ""
		}
	}
	return fmt.Sprintf("%q must be a %s, not %s", key, want, jsonKindOf(v))
}
