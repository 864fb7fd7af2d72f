package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/distribution/reference"
	"go.yaml.in/yaml/v4"
)

func sortedServices(p *types.Project) []string {
	names := make([]string, 0, len(p.Services))
	for name := range p.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// checkImages validates every image reference as the engine will parse it,
// so a typo fails here, with its line, rather than on each host at pull
// time. The value is shown after interpolation: an empty tag from an unset
// variable is the usual cause, and its warning sits next to this error.
func checkImages(doc *composeDoc, p *types.Project, e *errs) {
	for _, name := range sortedServices(p) {
		img := p.Services[name].Image
		if img == "" {
			continue
		}
		if _, err := reference.ParseNormalizedNamed(img); err != nil {
			doc.errorf(e, name, []string{"image"}, "write [registry/]name[:tag][@digest] in lower case, such as nginx:1.27 or ghcr.io/acme/web:v2",
				"%q is not a valid image reference: %s", img, strings.TrimPrefix(err.Error(), "invalid reference format: "))
		}
	}
}

// checkEnvFiles checks every env_file and label_file before compose-go
// reads them: a missing required file is named at its entry, and a device,
// FIFO or oversized file is refused before anything blocks on it.
func checkEnvFiles(doc *composeDoc, p *types.Project, e *errs) {
	display := func(abs string) string { return displayPath(doc, abs) }
	for _, name := range sortedServices(p) {
		s := p.Services[name]
		for i, ef := range s.EnvFiles {
			checkSourceFile(doc, e, name, "env_file", i, ef.Path, display(ef.Path), bool(ef.Required))
		}
		for i, lf := range s.LabelFiles {
			checkSourceFile(doc, e, name, "label_file", i, lf, display(lf), true)
		}
	}
}

func checkSourceFile(doc *composeDoc, e *errs, service, key string, i int, abs, shown string, required bool) {
	err := checkFile(abs)
	if err == nil || (!required && errors.Is(err, fs.ErrNotExist)) {
		return
	}
	f, n := doc.at(service, key)
	path := fmt.Sprintf("services.%s.%s", service, key)
	if item := listItem(f, service, key, i); item != nil {
		n, path = item, fmt.Sprintf("%s[%d]", path, i)
	}
	fe := fileErr(shown, err)
	fix := fe.Fix
	if errors.Is(err, fs.ErrNotExist) {
		fix = fmt.Sprintf("create %s, or mark it optional: %s: [{path: %s, required: false}]", shown, key, filepath.Base(shown))
	}
	e.at(f.display, n, path, fix, "%s %s", shown, strings.TrimPrefix(fe.Msg, "file "))
}

// listItem is the i-th entry of services.<service>.<key> when it is a list.
func listItem(f *composeFile, service, key string, i int) *yaml.Node {
	if f == nil {
		return nil
	}
	v := valueAt(f.root, "services", service, key)
	if v == nil || v.Kind != yaml.SequenceNode || i >= len(v.Content) {
		return nil
	}
	return resolve(v.Content[i])
}

// checkSources checks the file: of every top-level secret and config an
// enabled service uses: a missing one is named at its file: line here
// rather than failing the deploy halfway, on a host, with no position.
// Their size is not bounded: berth passes them on, it does not parse them.
func checkSources(doc *composeDoc, p *types.Project, e *errs) {
	used := map[string]map[string]bool{"secrets": {}, "configs": {}}
	for _, name := range sortedServices(p) {
		s := p.Services[name]
		for _, ref := range s.Secrets {
			used["secrets"][ref.Source] = true
		}
		for _, ref := range s.Configs {
			used["configs"][ref.Source] = true
		}
	}
	files := map[string]map[string]string{"secrets": {}, "configs": {}}
	for name, sc := range p.Secrets {
		files["secrets"][name] = sc.File
	}
	for name, cc := range p.Configs {
		files["configs"][name] = cc.File
	}
	for _, kind := range []string{"secrets", "configs"} {
		names := make([]string, 0, len(used[kind]))
		for name := range used[kind] {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			path := files[kind][name]
			if path == "" {
				continue
			}
			st, err := os.Stat(path)
			if err == nil {
				if m := st.Mode(); m.IsRegular() || m.IsDir() && kind == "configs" {
					continue
				}
				err = checkMode(st)
			}
			f, n := doc.find(kind, name, "file")
			if f == nil {
				f = doc.files[0]
			}
			shown := displayPath(doc, path)
			fe := fileErr(shown, err)
			fix := fe.Fix
			if errors.Is(err, fs.ErrNotExist) {
				fix = fmt.Sprintf("create %s, or point file: at the %s", shown, strings.TrimSuffix(kind, "s"))
			}
			e.at(f.display, n, kind+"."+name+".file", fix, "%s %s", shown, strings.TrimPrefix(fe.Msg, "file "))
		}
	}
}

// displayPath shows an absolute path from the project relative to the way
// the user named the first compose file's directory.
func displayPath(doc *composeDoc, abs string) string {
	base, baseDisplay := filepath.Dir(doc.files[0].abs), filepath.Dir(doc.files[0].display)
	if rel, err := filepath.Rel(base, abs); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.Join(baseDisplay, rel)
	}
	return abs
}

// checkReferencedFiles checks the files a compose file makes compose-go
// read (include: paths and env_file, extends.file) before it reads them,
// so `include: [/dev/zero]` fails with its line instead of hanging. Paths
// with variables are left to compose-go.
func checkReferencedFiles(f *composeFile, e *errs) {
	dir := filepath.Dir(f.abs)
	check := func(n *yaml.Node, path string) {
		if n == nil || n.Kind != yaml.ScalarNode || strings.Contains(n.Value, "$") || n.Value == "" {
			return
		}
		p := n.Value
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if strings.Contains(p, "://") { // a remote include (git, oci): not a local file
			return
		}
		if err := checkFile(p); err != nil {
			fe := fileErr(n.Value, err)
			if errors.Is(err, fs.ErrNotExist) {
				fe.Fix = "create it, or correct the path (relative to " + f.display + ")"
			}
			e.at(f.display, n, path, fe.Fix, "%s %s", n.Value, strings.TrimPrefix(fe.Msg, "file "))
		}
	}
	stringsAt := func(n *yaml.Node, path string) {
		n = resolve(n)
		if n == nil {
			return
		}
		if n.Kind == yaml.SequenceNode {
			for i, item := range n.Content {
				check(resolve(item), fmt.Sprintf("%s[%d]", path, i))
			}
			return
		}
		check(n, path)
	}
	if inc := valueAt(f.root, "include"); inc != nil && inc.Kind == yaml.SequenceNode {
		for i, item := range inc.Content {
			item = resolve(item)
			p := fmt.Sprintf("include[%d]", i)
			if item.Kind == yaml.MappingNode {
				stringsAt(valueAt(item, "path"), p+".path")
				stringsAt(valueAt(item, "env_file"), p+".env_file")
				continue
			}
			check(item, p)
		}
	}
	if services := valueAt(f.root, "services"); services != nil && services.Kind == yaml.MappingNode {
		for _, kv := range mergedPairs(services) {
			check(valueAt(kv[1], "extends", "file"), "services."+kv[0].Value+".extends.file")
		}
	}
}
