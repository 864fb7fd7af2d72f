package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Error is one problem in the user's configuration, positioned at the
// input that caused it so an editor can jump there.
type Error struct {
	File   string // as the user named it (relative stays relative)
	Line   int    // 1-based; 0 when the problem has no single position
	Column int    // 1-based; 0 when unknown
	Path   string // key path, e.g. services.web.deploy.drain
	Msg    string // what is wrong; never echoes a secret value
	Fix    string // what to change
	// Warning marks a problem that does not stop a deploy (an unset
	// variable); it is printed with a "warning:" tag.
	Warning bool

	cause error // for errors.Is (fs.ErrNotExist...); never printed
}

// Error formats as FILE:LINE:COL: PATH: MSG (fix: FIX), dropping empty parts,
// which is the shape compilers use and editors already understand.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Column > 0 {
				fmt.Fprintf(&b, ":%d", e.Column)
			}
		}
		b.WriteString(": ")
	}
	if e.Warning {
		b.WriteString("warning: ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Fix != "" {
		fmt.Fprintf(&b, " (fix: %s)", e.Fix)
	}
	return b.String()
}

// Unwrap exposes the underlying cause, if any, so callers can tell a
// missing file from a bad one without matching text.
func (e *Error) Unwrap() error { return e.cause }

// ErrorList is every problem Load found. Reporting them all at once saves
// the user a fix-and-rerun loop per mistake.
type ErrorList []*Error

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap lets errors.As find each *Error.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// IsConfigError reports whether err was caused by the user's files or
// environment rather than by berth or the engine, so the CLI can exit with
// the one config-error code.
func IsConfigError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// errs collects problems while loading; every check appends and carries on.
// Warnings are kept apart: they fail nothing, but travel with the errors
// when there are some, since an unset variable often explains one.
type errs struct {
	list     ErrorList
	warnings []*Error
}

func (c *errs) add(e *Error) { c.list = append(c.list, e) }

func (c *errs) warn(e *Error) {
	e.Warning = true
	c.warnings = append(c.warnings, e)
}

// at positions an error at n, which may be nil when the input has no node.
func (c *errs) at(file string, n *yaml.Node, path, fix, format string, args ...any) {
	e := &Error{File: file, Path: path, Fix: fix, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	c.add(e)
}

// result sorts by file (in order of first report), then position, so the
// output reads top to bottom like the files do.
func (c *errs) result() error {
	if len(c.list) == 0 {
		return nil
	}
	return sortErrors(append(append(ErrorList(nil), c.list...), c.warnings...))
}

// sortedWarnings are the warnings in the order result uses.
func (c *errs) sortedWarnings() []*Error {
	if len(c.warnings) == 0 {
		return nil
	}
	return sortErrors(append(ErrorList(nil), c.warnings...))
}

func sortErrors(out ErrorList) ErrorList {
	rank := map[string]int{}
	for _, e := range out {
		if _, ok := rank[e.File]; !ok {
			rank[e.File] = len(rank)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if rank[a.File] != rank[b.File] {
			return rank[a.File] < rank[b.File]
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Path < b.Path
	})
	return out
}

// syntaxError turns a yaml parse failure into a positioned Error. The
// parser's text is kept; only its "yaml: line N:" prefix is dropped because
// the position moves into FILE:LINE:COL.
func syntaxError(file string, err error) *Error {
	var le *yaml.LoadError
	if errors.As(err, &le) {
		msg := "invalid YAML: " + le.Message
		if le.ContextMsg != "" {
			msg += " (" + le.ContextMsg + ")"
		}
		return &Error{File: file, Line: le.Mark.Line, Column: le.Mark.Column, Msg: msg}
	}
	return &Error{File: file, Msg: "invalid YAML: " + err.Error()}
}
