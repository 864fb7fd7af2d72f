package scaffold

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/berthhq/berth/internal/config"
)

// Options are the inputs of Init.
type Options struct {
	// File is the berth.yaml to write; the compose project is the one in
	// its directory, as Load will look for it there.
	File string
	// Force replaces an existing File.
	Force bool
	// Load are the profiles and environment, as for config.Load.
	Load config.LoadOptions
}

// Result is what Init wrote and what the checks said about it.
type Result struct {
	File    string `json:"file"`    // as given in Options.File
	Compose string `json:"compose"` // the main compose file
	// ComposeFiles are every compose file read, main file first.
	ComposeFiles []string `json:"compose_files"`
	App          string   `json:"app"`
	Content      string   `json:"content"` // the berth.yaml written
	Guesses      []Guess  `json:"services"`
	Reviews      []Review `json:"review"`
	Check
}

// Init writes a berth.yaml for the compose project in the directory of
// opts.File and judges it. An existing file is an error unless opts.Force;
// no file is written when the compose project cannot be read. Problems
// with the written file are not errors: they are in Result.Check, because
// the file is a draft the user is expected to edit.
func Init(ctx context.Context, opts Options) (*Result, error) {
	if !opts.Force {
		if err := refuseExisting(opts.File); err != nil {
			return nil, err
		}
	}
	dir := filepath.Dir(opts.File)
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	app := AppName(filepath.Base(abs))
	cp, err := config.LoadComposeProject(ctx, dir, app, opts.Load)
	if err != nil {
		return nil, err
	}
	for _, f := range cp.Files {
		if sameFile(opts.File, f) {
			return nil, &config.Error{File: opts.File, Msg: "is a compose file of the project; berth init writes berth.yaml beside it, never over it",
				Fix: "name another file with -f, such as berth.yaml"}
		}
	}
	compose := filepath.Base(cp.File)
	var bases []string
	for _, f := range cp.Files {
		bases = append(bases, filepath.Base(f))
	}
	from := fmt.Sprintf("the directory name %q", filepath.Base(abs))
	if cp.Name != "" {
		app = AppName(cp.Name)
		from = fmt.Sprintf("the compose project name %q (name: in %s)", cp.Name, compose)
	}
	guesses := classifyProject(cp)
	content, reviews := render(draftInput{App: app, AppFrom: from, Compose: strings.Join(bases, " + "), Guesses: guesses})
	if err := writeFile(opts.File, content, opts.Force); err != nil {
		return nil, err
	}
	res := &Result{File: opts.File, Compose: cp.File, ComposeFiles: cp.Files, App: app, Content: string(content), Guesses: guesses, Reviews: reviews}
	res.Check, err = check(ctx, opts.File, opts.Load)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// refuseExisting is the early, friendly refusal; writeFile refuses again
// at the moment of writing, so a file created in between is kept too.
func refuseExisting(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return existsError(path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return &config.Error{File: path, Msg: "cannot check whether the file exists: " + err.Error()}
	}
	return nil
}

// sameFile reports whether a and b are one existing file, however named.
func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

func existsError(path string) error {
	return &config.Error{File: path, Msg: "already exists; berth init does not overwrite it",
		Fix: "pass --force to replace it, or -f to write another file"}
}

// classifyProject guesses every service, enabled or left out by the active
// profiles, in the order the compose file defines them.
func classifyProject(cp *config.ComposeProject) []Guess {
	var out []Guess
	for name, s := range cp.Project.Services {
		out = append(out, Classify(name, s))
	}
	for name, s := range cp.Project.DisabledServices {
		g := Classify(name, s)
		g.Profiles = append([]string(nil), s.Profiles...)
		if len(g.Profiles) == 0 {
			g.Profiles = []string{"(none active)"}
		}
		out = append(out, g)
	}
	// Services from include: or extends: have no line in the file: last.
	line := func(svc string) int {
		if l := cp.Sources[svc].Line; l > 0 {
			return l
		}
		return int(^uint(0) >> 1)
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := line(out[i].Service), line(out[j].Service); a != b {
			return a < b
		}
		return out[i].Service < out[j].Service
	})
	return out
}

var notAppChars = regexp.MustCompile(`[^a-z0-9]+`)

// maxApp is config's limit on app names: room is left in container names
// for the service and the release.
const maxApp = 40

// AppName makes an app name berth accepts ([a-z0-9-]+, at most 40
// characters, starting and ending with a letter or digit) from a directory
// name: "My_Shop.v2" becomes "my-shop-v2". A name with nothing usable
// becomes "app".
func AppName(dir string) string {
	s := strings.Trim(notAppChars.ReplaceAllString(strings.ToLower(dir), "-"), "-")
	if len(s) > maxApp {
		s = strings.TrimRight(s[:maxApp], "-")
	}
	if s == "" {
		return "app"
	}
	return s
}
