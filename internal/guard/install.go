package guard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/berthhq/berth/internal/setup"
)

// DaemonConfigChange is what installing (or removing) the guard changes in
// the engine's daemon.json.
type DaemonConfigChange struct {
	Path    string
	Before  []byte // nil when the file does not exist
	After   []byte
	Changed bool
}

// PlanDaemonConfig computes daemon.json with plugin name added to (add) or
// removed from (!add) "authorization-plugins", keeping every other key and,
// where it can, the file's own layout. A file that is not a JSON object is
// an error that changes nothing: the engine would refuse to start with it.
func PlanDaemonConfig(path, name string, add bool) (DaemonConfigChange, error) {
	c := DaemonConfigChange{Path: path}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		data = nil
	case err != nil:
		return c, fmt.Errorf("reading %s: %w", path, err)
	}
	c.Before = data
	doc := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(data)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&doc); err != nil {
			return c, fmt.Errorf("%s is not a JSON object (%s): dockerd reads it as strict JSON, without comments (fix: correct the file, then run this again)", path, setup.SyntaxAt(data, err))
		}
		if dec.More() {
			return c, fmt.Errorf("%s has data after its JSON object (fix: correct the file, then run this again)", path)
		}
	}
	var plugins []string
	if raw, ok := doc["authorization-plugins"]; ok {
		if err := json.Unmarshal(raw, &plugins); err != nil {
			return c, fmt.Errorf("%s: authorization-plugins is not a list of names (fix: correct the file, then run this again)", path)
		}
	}
	has := slices.Contains(plugins, name)
	switch {
	case add && has, !add && !has:
		c.After = data
		return c, nil
	case add:
		plugins = append(plugins, name)
	default:
		plugins = slices.DeleteFunc(plugins, func(p string) bool { return p == name })
	}
	c.Changed = true
	if _, had := doc["authorization-plugins"]; !had && len(bytes.TrimSpace(data)) > 0 {
		// Add the key before the closing brace, keeping the rest as written.
		c.After = setup.InsertKeys(data, []setup.KV{{Key: "authorization-plugins", Value: plugins}})
		return c, nil
	}
	if len(plugins) == 0 {
		delete(doc, "authorization-plugins")
		if out, ok := removeKeyLine(data, doc); ok {
			c.After = out
			return c, nil
		}
	} else {
		raw, _ := json.Marshal(plugins)
		doc["authorization-plugins"] = raw
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return c, err
	}
	c.After = append(out, '\n')
	return c, nil
}

var pluginsLine = regexp.MustCompile(`(?m)^[ \t]*"authorization-plugins"[ \t]*:[ \t]*\[[^\]\n]*\][ \t]*,?[ \t]*\r?\n`)

// removeKeyLine deletes the "authorization-plugins" line as install wrote
// it, keeping the rest of the file as written; ok is false when the result
// would not be exactly want.
func removeKeyLine(data []byte, want map[string]json.RawMessage) ([]byte, bool) {
	loc := pluginsLine.FindIndex(data)
	if loc == nil {
		return nil, false
	}
	head, tail := bytes.TrimRight(data[:loc[0]], " \t\r\n"), data[loc[1]:]
	if bytes.HasPrefix(bytes.TrimSpace(tail), []byte("}")) {
		head = bytes.TrimSuffix(head, []byte(","))
	}
	out := append(append(append([]byte{}, head...), '\n'), tail...)
	var got map[string]json.RawMessage
	if json.Unmarshal(out, &got) != nil || len(got) != len(want) {
		return nil, false
	}
	for k, v := range want {
		if !bytes.Equal(bytes.TrimSpace(got[k]), bytes.TrimSpace(v)) {
			return nil, false
		}
	}
	return out, true
}

// SystemdUnit is a unit that runs the guard before the engine, restarted
// whenever it stops: while it is down the engine refuses every request.
func SystemdUnit(berthPath, policyPath, name string) string {
	return fmt.Sprintf(`[Unit]
Description=berth guard: Docker authorization plugin %[3]s
Documentation=https://github.com/berthhq/berth/blob/main/docs/guard.md
Before=docker.service
After=local-fs.target

[Service]
ExecStart=%[1]q guard -f %[2]q --name %[3]s
ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target docker.service
`, berthPath, policyPath, name)
}

// Diff is a line diff of before and after, for showing a change before it
// is made: " " kept, "-" removed, "+" added. Credentials in URLs
// (daemon.json's proxies, say: http://user:password@proxy) are shown as
// ***: a diff goes to terminals and CI logs.
func Diff(name string, before, after []byte) string {
	a, b := splitLines(redactURLs(before)), splitLines(redactURLs(after))
	// Longest common subsequence; the files are small.
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	from := name
	if before == nil {
		from = "/dev/null"
	}
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", from, name)
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out.WriteString("  " + a[i] + "\n")
			i++
			j++
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			out.WriteString("- " + a[i] + "\n")
			i++
		default:
			out.WriteString("+ " + b[j] + "\n")
			j++
		}
	}
	return out.String()
}

var urlCredentials = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s"']+@`)

func redactURLs(b []byte) []byte {
	if b == nil {
		return nil
	}
	return urlCredentials.ReplaceAll(b, []byte("${1}***@"))
}

func splitLines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
