package config

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
	"go.yaml.in/yaml/v4"
)

// compose-go reports its warnings (an unset variable, an obsolete key)
// through the global logrus logger, as raw lines on stderr. berth captures
// them while it loads and turns them into its own positioned warnings, so
// no library log line reaches the user. logrus is global, hence the lock:
// loads that capture take turns.
var logMu sync.Mutex

type logHook struct{ msgs []string }

func (h *logHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h *logHook) Fire(e *logrus.Entry) error {
	if e.Level <= logrus.WarnLevel {
		h.msgs = append(h.msgs, e.Message)
	}
	return nil
}

// captureLogs runs fn with logrus silenced and returns the warnings it
// logged, in order.
func captureLogs(fn func()) []string {
	logMu.Lock()
	defer logMu.Unlock()
	l := logrus.StandardLogger()
	out, level := l.Out, l.GetLevel()
	h := &logHook{}
	hooks := l.ReplaceHooks(logrus.LevelHooks{})
	l.AddHook(h)
	l.SetOutput(io.Discard)
	if level < logrus.WarnLevel {
		l.SetLevel(logrus.WarnLevel)
	}
	defer func() {
		l.ReplaceHooks(hooks)
		l.SetOutput(out)
		l.SetLevel(level)
	}()
	fn()
	return h.msgs
}

var yesNoLog = regexp.MustCompile(`^"([^"]*)" for boolean is not supported by YAML 1.2`)

var unsetVar = regexp.MustCompile(`^The "([^"]+)" variable is not set\. Defaulting to a blank string\.$`)

// unsetWarnings turns compose-go's log lines into warnings: an unset
// variable at every place the files use it, anything else as said, with
// paths shown as the user wrote them.
//
// yesNo are the yes/no booleans berth already warned about, with their
// position: compose-go's line about them is dropped.
func unsetWarnings(doc *composeDoc, logs []string, yesNo map[string]bool, e *errs) {
	unset := map[string]bool{}
	var other []string
	for _, msg := range logs {
		if m := unsetVar.FindStringSubmatch(msg); m != nil {
			unset[m[1]] = true
			continue
		}
		if strings.Contains(msg, "the attribute `version` is obsolete") {
			continue // versionWarning says it, with the position
		}
		if m := yesNoLog.FindStringSubmatch(msg); m != nil && yesNo[m[1]] {
			continue
		}
		other = append(other, msg)
	}
	names := make([]string, 0, len(unset))
	for n := range unset {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		fix := fmt.Sprintf("set %s in the environment or in .env, or give it a default: ${%s:-value}", name, name)
		msg := fmt.Sprintf("variable %s is not set; it is replaced by an empty string", name)
		found := false
		for _, f := range doc.files {
			walkScalars(f.root, "", func(n *yaml.Node, path string) {
				if usesPlain(n.Value, name) {
					found = true
					e.warn(&Error{File: f.display, Line: n.Line, Column: n.Column, Path: path, Msg: msg, Fix: fix})
				}
			})
		}
		if !found { // used by a file that include: or extends: brought in
			e.warn(&Error{File: doc.files[0].display, Msg: msg + " (in a file that include: or extends: names)", Fix: fix})
		}
	}
	for _, msg := range other {
		for _, f := range doc.files {
			msg = strings.ReplaceAll(msg, f.abs, f.display)
		}
		e.warn(&Error{File: doc.files[0].display, Msg: "compose: " + msg})
	}
}

// versionWarning says what docker compose says of version:, at its line.
func versionWarning(f *composeFile, e *errs) {
	if n := lookup(f.root, "version"); n != nil {
		e.warn(&Error{File: f.display, Line: n.Line, Column: n.Column, Path: "version",
			Msg: "obsolete: compose ignores it", Fix: "remove version:"})
	}
}

// walkScalars calls fn for every scalar value under n with its key path.
func walkScalars(n *yaml.Node, path string, fn func(*yaml.Node, string)) {
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				continue // the anchor's own place is walked
			}
			walkScalars(v, join(path, k.Value), fn)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			walkScalars(item, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case yaml.ScalarNode:
		fn(n, path)
	}
}

// usesPlain reports whether s references name without a default or
// alternative ($NAME or ${NAME}), the references compose warns about;
// $$ is a literal dollar.
func usesPlain(s, name string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			continue
		}
		switch c := s[i+1]; {
		case c == '$':
			i++
		case c == '{':
			j := i + 2
			for j < len(s) && isNameByte(s[j], j == i+2) {
				j++
			}
			if s[i+2:j] == name && j < len(s) && s[j] == '}' {
				return true
			}
		case isNameByte(c, true):
			j := i + 1
			for j < len(s) && isNameByte(s[j], j == i+1) {
				j++
			}
			if s[i+1:j] == name {
				return true
			}
		}
	}
	return false
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9')
}
