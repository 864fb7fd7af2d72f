package policy

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/berthhq/berth/internal/config"
)

// ServiceError places a problem with a service's planned container (a
// secret berth cannot mount, a volume type it does not support) at the
// service's key in its compose file, as a configuration error: the input
// named, exit code 2, never a bare message with no position.
func ServiceError(svc *config.Service, err error) *config.Error {
	var ce *config.Error
	if errors.As(err, &ce) {
		return ce
	}
	msg := strings.TrimPrefix(err.Error(), "service "+svc.Name+": ")
	return &config.Error{File: shownPath(svc.Source.File), Line: svc.Source.Line, Column: svc.Source.Column,
		Path: "services." + svc.Name, Msg: msg}
}

// CheckSecretFiles finds the secrets the services use whose file: does not
// exist: compose loads such a project, and the deploy would fail at the
// engine with no position. Each is reported once, at its file: key.
func CheckSecretFiles(cfg *config.Config, services []*config.Service) config.ErrorList {
	if cfg.Project == nil {
		return nil
	}
	used := map[string][]string{}
	for _, svc := range services {
		for _, s := range svc.Compose.Secrets {
			used[s.Source] = append(used[s.Source], svc.Name)
		}
	}
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	r := &envReader{docs: map[string]*yaml.Node{}}
	var out config.ErrorList
	for _, name := range names {
		def, ok := cfg.Project.Secrets[name]
		if !ok || def.File == "" || bool(def.External) {
			continue
		}
		if _, err := os.Stat(def.File); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		e := &config.Error{Path: "secrets." + name + ".file",
			Msg: "the secret's file " + shownPath(def.File) + " does not exist (used by " + strings.Join(used[name], ", ") + ")",
			Fix: "create it, readable only by you (chmod 600), or point file: at the secret's file"}
		e.File, e.Line, e.Column = r.position(cfg, "secrets", name, "file")
		out = append(out, e)
	}
	return out
}

// shownPath is a path relative to the working directory when it is below
// it, as the user would type it.
func shownPath(p string) string {
	if wd, err := os.Getwd(); err == nil && p != "" {
		if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return p
}

// position finds keys in the compose files, the last file that has them
// first (it is the one that wins), for an error's position.
func (r *envReader) position(cfg *config.Config, keys ...string) (string, int, int) {
	files := cfg.ComposeFiles
	if len(files) == 0 {
		files = []string{cfg.ComposeFile}
	}
	for i := len(files) - 1; i >= 0; i-- {
		n, err := r.doc(files[i])
		if err != nil {
			continue
		}
		for _, k := range keys {
			n = get(n, k)
		}
		if n != nil {
			return shownPath(files[i]), n.Line, n.Column
		}
	}
	return shownPath(cfg.ComposeFile), 0, 0
}
