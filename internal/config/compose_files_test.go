package config

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/sirupsen/logrus"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func warningTexts(cfg *Config) []string {
	var out []string
	for _, w := range cfg.Warnings {
		out = append(out, w.Error())
	}
	return out
}

const (
	webCompose  = "services:\n  web:\n    image: shop/web:1.0\n"
	prodCompose = "services:\n  web:\n    image: shop/web:2.0\n  worker:\n    image: shop/worker:2.0\n"
)

func TestComposeFilesFound(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		env      map[string]string
		profiles []string
		want     []string // compose files, relative to the directory
		image    string   // of web
		services []string
		warn     string // a substring of one warning
	}{
		{
			name:  "default file only",
			files: map[string]string{"berth.yaml": "app: shop\n", "compose.yaml": webCompose},
			want:  []string{"compose.yaml"}, image: "shop/web:1.0", services: []string{"web"},
		},
		{
			name: "default file plus override, as docker compose",
			files: map[string]string{"berth.yaml": "app: shop\n", "compose.yaml": webCompose,
				"compose.override.yaml": prodCompose},
			want: []string{"compose.yaml", "compose.override.yaml"}, image: "shop/web:2.0", services: []string{"web", "worker"},
		},
		{
			name: "docker-compose names and their override",
			files: map[string]string{"berth.yaml": "app: shop\n", "docker-compose.yml": webCompose,
				"docker-compose.override.yml": prodCompose},
			want: []string{"docker-compose.yml", "docker-compose.override.yml"}, image: "shop/web:2.0", services: []string{"web", "worker"},
		},
		{
			name:  "two default names: the first wins, with a warning",
			files: map[string]string{"berth.yaml": "app: shop\n", "compose.yaml": webCompose, "docker-compose.yml": prodCompose},
			want:  []string{"compose.yaml"}, image: "shop/web:1.0", services: []string{"web"},
			warn: "using " + "compose.yaml",
		},
		{
			name: "compose: list, merged in order, override not read",
			files: map[string]string{"berth.yaml": "app: shop\ncompose: [compose.yaml, prod/compose.prod.yaml]\n",
				"compose.yaml": webCompose, "prod/compose.prod.yaml": prodCompose, "compose.override.yaml": "services:\n  web:\n    image: shop/web:9\n"},
			want: []string{"compose.yaml", "prod/compose.prod.yaml"}, image: "shop/web:2.0", services: []string{"web", "worker"},
		},
		{
			name:  "COMPOSE_FILE",
			files: map[string]string{"berth.yaml": "app: shop\n", "compose.yaml": webCompose, "prod.yaml": prodCompose},
			env:   map[string]string{"COMPOSE_FILE": "compose.yaml:prod.yaml"},
			want:  []string{"compose.yaml", "prod.yaml"}, image: "shop/web:2.0", services: []string{"web", "worker"},
		},
		{
			name:  "COMPOSE_FILE with COMPOSE_PATH_SEPARATOR",
			files: map[string]string{"berth.yaml": "app: shop\n", "compose.yaml": webCompose, "prod.yaml": prodCompose},
			env:   map[string]string{"COMPOSE_FILE": "compose.yaml;prod.yaml", "COMPOSE_PATH_SEPARATOR": ";"},
			want:  []string{"compose.yaml", "prod.yaml"}, image: "shop/web:2.0", services: []string{"web", "worker"},
		},
		{
			name: "COMPOSE_FILE from .env",
			files: map[string]string{"berth.yaml": "app: shop\n", "compose.yaml": webCompose, "prod.yaml": prodCompose,
				".env": "COMPOSE_FILE=prod.yaml\n"},
			want: []string{"prod.yaml"}, image: "shop/web:2.0", services: []string{"web", "worker"},
		},
		{
			name:  "compose: wins over COMPOSE_FILE, with a warning",
			files: map[string]string{"berth.yaml": "app: shop\ncompose: compose.yaml\n", "compose.yaml": webCompose, "prod.yaml": prodCompose},
			env:   map[string]string{"COMPOSE_FILE": "prod.yaml"},
			want:  []string{"compose.yaml"}, image: "shop/web:1.0", services: []string{"web"},
			warn: "COMPOSE_FILE is set but berth.yaml's compose: wins",
		},
		{
			name: "COMPOSE_PROFILES from .env",
			files: map[string]string{"berth.yaml": "app: shop\n", ".env": "COMPOSE_PROFILES=ops\n",
				"compose.yaml": webCompose + "  admin:\n    image: shop/admin:1\n    profiles: [ops]\n"},
			want: []string{"compose.yaml"}, image: "shop/web:1.0", services: []string{"admin", "web"},
		},
		{
			name: "--profile wins over COMPOSE_PROFILES, and enables a routed service",
			files: map[string]string{"berth.yaml": "app: shop\nservices:\n  admin:\n    route: {host: a.example.com, port: 80}\n",
				"compose.yaml": webCompose + "  admin:\n    image: shop/admin:1\n    profiles: [ops]\n  debug:\n    image: shop/debug:1\n    profiles: [debug]\n"},
			env: map[string]string{"COMPOSE_PROFILES": "debug"}, profiles: []string{"ops"},
			want: []string{"compose.yaml"}, image: "shop/web:1.0", services: []string{"admin", "web"},
		},
		{
			name:  "COMPOSE_PROJECT_NAME is superseded by app:, with a warning",
			files: map[string]string{"berth.yaml": "app: shop\n", "compose.yaml": webCompose},
			env:   map[string]string{"COMPOSE_PROJECT_NAME": "dev"},
			want:  []string{"compose.yaml"}, image: "shop/web:1.0", services: []string{"web"},
			warn: "COMPOSE_PROJECT_NAME=dev is not used",
		},
		{
			name:  "${COMPOSE_PROJECT_NAME} is app:",
			files: map[string]string{"berth.yaml": "app: shop\n", "compose.yaml": "services:\n  web:\n    image: acme/${COMPOSE_PROJECT_NAME}:1\n"},
			env:   map[string]string{"COMPOSE_PROJECT_NAME": "dev"},
			want:  []string{"compose.yaml"}, image: "acme/shop:1", services: []string{"web"},
			warn: "berth names the project and every object after app: shop",
		},
		{
			name: "the environment wins over .env",
			files: map[string]string{"berth.yaml": "app: shop\n", ".env": "TAG=1\n",
				"compose.yaml": "services:\n  web:\n    image: shop/web:${TAG}\n"},
			env:  map[string]string{"TAG": "3"},
			want: []string{"compose.yaml"}, image: "shop/web:3", services: []string{"web"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			env := map[string]string{"HOME": "/home/test"}
			for k, v := range tt.env {
				env[k] = v
			}
			cfg := load(t, filepath.Join(dir, "berth.yaml"), LoadOptions{Env: env, Profiles: tt.profiles})
			var want []string
			for _, f := range tt.want {
				want = append(want, filepath.Join(dir, f))
			}
			if !reflect.DeepEqual(cfg.ComposeFiles, want) {
				t.Errorf("ComposeFiles = %v; want %v", cfg.ComposeFiles, want)
			}
			if cfg.ComposeFile != want[0] {
				t.Errorf("ComposeFile = %q; want %q", cfg.ComposeFile, want[0])
			}
			if got := cfg.Service("web").Compose.Image; got != tt.image {
				t.Errorf("web image = %q; want %q", got, tt.image)
			}
			names := serviceNames(cfg)
			sortStrings(names)
			if !reflect.DeepEqual(names, tt.services) {
				t.Errorf("services = %v; want %v", names, tt.services)
			}
			warnings := strings.Join(warningTexts(cfg), "\n")
			if tt.warn == "" && warnings != "" {
				t.Errorf("unexpected warnings:\n%s", warnings)
			}
			if tt.warn != "" && !strings.Contains(warnings, tt.warn) {
				t.Errorf("warnings %q do not say %q", warnings, tt.warn)
			}
		})
	}
}

func sortStrings(s []string) {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}

// TestServiceSourceAcrossOverlays: a service's Source is where it is
// defined, the first file that names it, whatever the overlays change.
func TestServiceSourceAcrossOverlays(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"berth.yaml":            "app: shop\n",
		"compose.yaml":          "# main\nservices:\n  web:\n    image: shop/web:1.0\n",
		"compose.override.yaml": "services:\n  web:\n    image: shop/web:2.0\n  worker:\n    image: shop/worker:1\n",
	})
	cfg := load(t, filepath.Join(dir, "berth.yaml"), LoadOptions{})
	want := map[string]Position{
		"web":    {File: filepath.Join(dir, "compose.yaml"), Line: 3, Column: 3},
		"worker": {File: filepath.Join(dir, "compose.override.yaml"), Line: 4, Column: 3},
	}
	for name, pos := range want {
		if got := cfg.Service(name).Source; got != pos {
			t.Errorf("%s Source = %+v; want %+v", name, got, pos)
		}
	}
}

// TestNoLibraryLogLines: compose-go's logrus warnings become berth's own,
// positioned warnings and nothing is written to logrus's output.
func TestNoLibraryLogLines(t *testing.T) {
	var buf bytes.Buffer
	logrus.SetOutput(&buf)
	t.Cleanup(func() { logrus.SetOutput(os.Stderr) })
	dir := writeFiles(t, map[string]string{
		"berth.yaml":   "app: shop\n",
		"compose.yaml": "version: '3.8'\nservices:\n  web:\n    image: shop/web:1.0\n    environment:\n      A: ${UNSET_ONE}\n      B: ${UNSET_TWO:-x}\n    read_only: yes\n    init: ${ON}\n",
	})
	cfg := load(t, filepath.Join(dir, "berth.yaml"), LoadOptions{Env: map[string]string{"ON": "on"}})
	if buf.Len() > 0 {
		t.Errorf("library log lines reached logrus's output:\n%s", buf.String())
	}
	got := warningTexts(cfg)
	c := filepath.Join(dir, "compose.yaml")
	want := []string{
		// An interpolated value: compose-go's words, as berth cannot place it.
		c + `: warning: compose: "on" for boolean is not supported by YAML 1.2, please use ` + "`true`",
		c + ":1:1: warning: version: obsolete: compose ignores it (fix: remove version:)",
		c + ":6:10: warning: services.web.environment.A: variable UNSET_ONE is not set; it is replaced by an empty string (fix: set UNSET_ONE in the environment or in .env, or give it a default: ${UNSET_ONE:-value})",
		c + `:8:16: warning: services.web.read_only: "yes" is read as true here, but YAML 1.2 and other tools read it as a string (fix: write true)`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSpecialFilesRefused: berth.yaml and .env that are FIFOs or devices
// fail at once instead of blocking or reading forever.
func TestSpecialFilesRefused(t *testing.T) {
	dir := writeFiles(t, map[string]string{"compose.yaml": webCompose, "ok/berth.yaml": "app: shop\ncompose: ../compose.yaml\n"})
	if err := syscall.Mkfifo(filepath.Join(dir, "berth.yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "ok", ".env"), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		filepath.Join(dir, "berth.yaml"):       "berth.yaml: is a FIFO (named pipe), not a regular file",
		"/dev/zero":                            "/dev/zero: is a device, not a regular file",
		filepath.Join(dir, "ok", "berth.yaml"): ".env: is a FIFO (named pipe), not a regular file",
	} {
		_, err := Load(context.Background(), path, LoadOptions{Env: map[string]string{}})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%s) = %v; want %q", path, err, want)
		}
		if !IsConfigError(err) {
			t.Errorf("Load(%s): not a config error: %v", path, err)
		}
	}
}
