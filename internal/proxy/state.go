package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

const stateVersion = 1

// stateRoute is a Route as persisted: without the live in-flight count.
// Target always holds the first target and Targets is written only for
// several, so a file without replicas is byte for byte what a proxy from
// before replicas wrote, and such a proxy (a downgrade) still reads a file
// with replicas, serving the first of them.
type stateRoute struct {
	Key     string       `json:"key"`
	Hosts   []string     `json:"hosts"`
	Target  string       `json:"target"`
	Targets []string     `json:"targets,omitempty"`
	Health  *RouteHealth `json:"health,omitempty"`
}

type stateDoc struct {
	Version int          `json:"version"`
	Routes  []stateRoute `json:"routes"`
}

// loadState reads the routes persisted at path. A missing file is a first
// start and means no routes; anything unreadable is an error naming the file,
// since routing from a guessed table would be worse than not starting.
func loadState(path string) ([]Route, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading proxy state %s: %w", path, err)
	}
	var doc stateDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("proxy state %s is corrupt: %w (move it aside to start with no routes)", path, err)
	}
	if doc.Version != stateVersion {
		return nil, fmt.Errorf("proxy state %s: version %d is not supported (want %d)", path, doc.Version, stateVersion)
	}
	routes := make([]Route, 0, len(doc.Routes))
	for _, sr := range doc.Routes {
		r, err := Route{Key: sr.Key, Hosts: sr.Hosts, Target: sr.Target, Targets: sr.Targets, Health: sr.Health}.normalize()
		if err != nil {
			return nil, fmt.Errorf("proxy state %s: %w", path, err)
		}
		routes = append(routes, r)
	}
	return routes, nil
}

// saveState writes routes to path atomically: a crash leaves either the old
// file or the new one, never a torn mix.
func saveState(path string, routes []Route) error {
	doc := stateDoc{Version: stateVersion, Routes: make([]stateRoute, 0, len(routes))}
	for _, r := range routes {
		sr := stateRoute{Key: r.Key, Hosts: r.Hosts, Target: r.Target, Health: r.Health}
		if len(r.Targets) > 1 {
			sr.Targets = r.Targets
		}
		doc.Routes = append(doc.Routes, sr)
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding proxy state: %w", err)
	}
	data = append(data, '\n')
	return writeFileAtomic(path, data, 0o600)
}

func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("writing proxy state: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing proxy state: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("writing proxy state %s: %w", tmp, err)
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("writing proxy state %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("writing proxy state %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing proxy state %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing proxy state %s: %w", path, err)
	}
	// The rename is durable only once the directory entry is on disk.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("writing proxy state %s: %w", path, err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("writing proxy state %s: syncing %s: %w", path, dir, err)
	}
	return nil
}
