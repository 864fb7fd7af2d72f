package config

import (
	"context"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// composeFile is one compose file as berth reads it for positions:
// compose-go reports what is wrong with a service but not where, and an
// error that names the line is the difference between a fix and a search.
type composeFile struct {
	display string // path as shown to the user
	abs     string
	root    *yaml.Node
	data    []byte
}

// composeDoc is the compose project's files in merge order (main file
// first, overrides after). A key's position is taken from the last file
// that sets it, since that is the value compose-go keeps.
type composeDoc struct {
	files []*composeFile
}

// lookup returns the key node of keys in the last file that has it.
func (d *composeDoc) lookup(keys ...string) *yaml.Node {
	_, n := d.find(keys...)
	return n
}

func (d *composeDoc) find(keys ...string) (*composeFile, *yaml.Node) {
	for i := len(d.files) - 1; i >= 0; i-- {
		if n := lookup(d.files[i].root, keys...); n != nil {
			return d.files[i], n
		}
	}
	return nil, nil
}

// source is where a service is defined: its key in the first file that
// names it; overlays only change it.
func (d *composeDoc) source(service string) (*composeFile, *yaml.Node) {
	for _, f := range d.files {
		if n := lookup(f.root, "services", service); n != nil {
			return f, n
		}
	}
	return nil, nil
}

// at returns the file and node of services.<service>.<keys...>, or of the
// service itself when the key came from elsewhere (extends, include, a
// merge key), so the error still lands near the cause.
func (d *composeDoc) at(service string, keys ...string) (*composeFile, *yaml.Node) {
	if f, n := d.find(append([]string{"services", service}, keys...)...); n != nil {
		return f, n
	}
	if f, n := d.source(service); n != nil {
		return f, n
	}
	return d.files[0], nil
}

func (d *composeDoc) errorf(e *errs, service string, keys []string, fix, format string, args ...any) {
	path := strings.Join(append([]string{"services", service}, keys...), ".")
	f, n := d.at(service, keys...)
	e.at(f.display, n, path, fix, format, args...)
}

func (d *composeDoc) data() []byte {
	var all []byte
	for _, f := range d.files {
		all = append(all, f.data...)
	}
	return all
}

// loadProject runs compose-go's loader on the files berth has already read
// (so nothing is read twice, and what was checked is what is loaded),
// configured as `docker compose` would be: interpolation with env, the
// given profiles, paths resolved against the first file's directory.
// env_file and label_file are left unread: berth checks those files first.
func loadProject(ctx context.Context, doc *composeDoc, name string, env types.Mapping, profiles []string, consistency bool) (*types.Project, error) {
	details := types.ConfigDetails{
		WorkingDir:  filepath.Dir(doc.files[0].abs),
		Environment: env,
	}
	for _, f := range doc.files {
		details.ConfigFiles = append(details.ConfigFiles, types.ConfigFile{Filename: f.abs, Content: f.data})
	}
	p, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName(name, true)
		o.Profiles = profiles
		o.ResolvePaths = true
		o.SkipConsistencyCheck = !consistency
		o.SkipResolveEnvironment = true
		o.SkipResolveLabels = true
	})
	if err != nil {
		return nil, err
	}
	for _, f := range doc.files {
		p.ComposeFiles = append(p.ComposeFiles, f.abs)
	}
	return p, nil
}

// composeError keeps compose-go's text, which often carries the line
// already, but shows paths the way the user wrote them so messages match
// what they typed and golden files do not depend on the machine, and
// scrubs interpolated values, which compose-go echoes ("invalid
// containerPort: <value>") and which may be secrets.
func composeError(doc *composeDoc, err error, interp types.Mapping) *Error {
	msg := scrubDotenv(redact(err.Error(), doc.data(), interp))
	var file *composeFile // the first file the message names
	for _, f := range doc.files {
		if file == nil && strings.Contains(msg, f.abs) {
			file = f
		}
		msg = strings.ReplaceAll(msg, f.abs, f.display)
	}
	if file == nil {
		file = doc.files[0]
	}
	dir := filepath.Dir(doc.files[0].abs)
	displayDir := filepath.Dir(doc.files[0].display)
	if displayDir == "." {
		msg = strings.ReplaceAll(msg, dir+string(filepath.Separator), "")
	} else {
		msg = strings.ReplaceAll(msg, dir, displayDir)
	}
	msg = strings.TrimPrefix(msg, "validating "+file.display+": ")
	// One line per error, so an ErrorList reads as one problem per line.
	msg = strings.Join(strings.Fields(msg), " ")
	e := &Error{File: file.display, Msg: msg}
	locate(doc, e)
	return e
}

// compose-go's .env parser quotes the offending line or value, which for
// an env file is as likely as not a secret: keep what is wrong, drop what
// it quoted.
var (
	unterminatedValue = regexp.MustCompile(`(?s)(unterminated quoted value).*`)
	badVariableName   = regexp.MustCompile(`(unexpected character ".+?" in variable name) ".*"`)
)

func scrubDotenv(msg string) string {
	msg = unterminatedValue.ReplaceAllString(msg, "$1")
	return badVariableName.ReplaceAllString(msg, "$1")
}

// varRef finds $NAME and ${NAME...} references in a compose file.
var varRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// secretName catches variables that hold secrets even when the reference
// is not in the main compose file (include:, extends:).
var secretName = regexp.MustCompile(`(?i)secret|passw|token|key|credential|auth|private|pass$`)

// minRedact skips short values: replacing "1" or "yes" everywhere would
// garble the message while protecting nothing.
const minRedact = 4

// redact replaces the value of every variable the compose file references,
// or whose name says it is secret, with a ${NAME} reference, so the user
// still learns which variable produced the bad value.
func redact(msg string, composeData []byte, interp types.Mapping) string {
	names := map[string]bool{}
	for _, m := range varRef.FindAllSubmatch(composeData, -1) {
		names[string(m[1])] = true
	}
	for name := range interp {
		if secretName.MatchString(name) {
			names[name] = true
		}
	}
	type pair struct{ name, value string }
	var pairs []pair
	for name := range names {
		if v := interp[name]; len(v) >= minRedact {
			pairs = append(pairs, pair{name, v})
		}
	}
	// Longest first, so a value that contains another is replaced whole.
	sort.Slice(pairs, func(i, j int) bool {
		if len(pairs[i].value) != len(pairs[j].value) {
			return len(pairs[i].value) > len(pairs[j].value)
		}
		return pairs[i].name < pairs[j].name
	})
	for _, p := range pairs {
		msg = strings.ReplaceAll(msg, p.value, "${"+p.name+"}")
	}
	return msg
}
