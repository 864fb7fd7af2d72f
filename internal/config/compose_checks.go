package config

import (
	"errors"
	"fmt"
	"io/fs"
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
	base, baseDisplay := filepath.Dir(doc.files[0].abs), filepath.Dir(doc.files[0].display)
	display := func(abs string) string {
		if rel, err := filepath.Rel(base, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.Join(baseDisplay, rel)
		}
		return abs
	}
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
