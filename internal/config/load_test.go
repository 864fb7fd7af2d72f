package config

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func load(t *testing.T, path string, opts LoadOptions) *Config {
	t.Helper()
	if opts.Env == nil {
		opts.Env = map[string]string{}
	}
	if _, ok := opts.Env["HOME"]; !ok {
		opts.Env["HOME"] = "/home/test"
	}
	cfg, err := Load(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return cfg
}

func serviceNames(cfg *Config) []string {
	var names []string
	for _, s := range cfg.Services {
		names = append(names, s.Name)
	}
	return names
}

func TestLoadFull(t *testing.T) {
	path := filepath.Join("testdata", "ok", "full", "berth.yaml")
	cfg := load(t, path, LoadOptions{})

	if cfg.App != "shop" {
		t.Errorf("App = %q", cfg.App)
	}
	if want := mustAbs(t, path); cfg.File != want {
		t.Errorf("File = %q; want %q", cfg.File, want)
	}
	if want := mustAbs(t, "testdata/ok/full/compose.yaml"); cfg.ComposeFile != want {
		t.Errorf("ComposeFile = %q; want %q", cfg.ComposeFile, want)
	}
	wantHosts := []Host{
		{Name: "web-1", Endpoint: "unix:///var/run/docker.sock"},
		{Name: "web-2", Endpoint: "tcp://10.0.0.2:2376", TLS: &TLS{CertPath: mustAbs(t, "testdata/ok/full/certs"), Verify: false}},
		{Name: "web-3", Endpoint: "tcp://10.0.0.3:2376"},
	}
	if !reflect.DeepEqual(cfg.Hosts, wantHosts) {
		t.Errorf("Hosts = %+v; want %+v", cfg.Hosts, wantHosts)
	}
	if want := (Proxy{HTTP: "0.0.0.0:8080", MaxBody: 10_000_000}); cfg.Proxy != want {
		t.Errorf("Proxy = %+v; want %+v", cfg.Proxy, want)
	}

	// depends_on: web -> api, cache; api -> db; worker -> db. Ties by name.
	if got, want := serviceNames(cfg), []string{"cache", "db", "api", "web", "worker"}; !reflect.DeepEqual(got, want) {
		t.Errorf("service order = %v; want %v", got, want)
	}
	if cfg.Service("debug") != nil {
		t.Error("service debug is behind a profile that is not enabled, but was loaded")
	}
	if cfg.Project == nil || cfg.Project.Name != "shop" {
		t.Errorf("Project name = %v; want shop", cfg.Project)
	}

	web := cfg.Service("web")
	wantRoute := &Route{Host: "shop.example.com", Port: 8080, Health: "/up", HealthInterval: time.Second, HealthRequestTimeout: 2 * time.Second}
	if !reflect.DeepEqual(web.Route, wantRoute) {
		t.Errorf("web.Route = %+v; want %+v", web.Route, wantRoute)
	}
	if web.Deploy != defaultDeploy() {
		t.Errorf("web.Deploy = %+v; want defaults", web.Deploy)
	}
	if !reflect.DeepEqual(web.Hosts, []string{"web-1", "web-2"}) {
		t.Errorf("web.Hosts = %v", web.Hosts)
	}
	if got := web.Compose.Image; got != "registry.example.com/shop/web:1.2.3" {
		t.Errorf("web image = %q; want interpolation from .env", got)
	}
	if v := web.Compose.Environment["RAILS_ENV"]; v == nil || *v != "production" {
		t.Errorf("web RAILS_ENV = %v; want production from env_file", v)
	}

	api := cfg.Service("api")
	wantAPI := Deploy{HealthTimeout: time.Minute, Drain: 0, MinReady: 2 * time.Second, Parallel: 2, Keep: 5}
	if api.Deploy != wantAPI {
		t.Errorf("api.Deploy = %+v; want %+v", api.Deploy, wantAPI)
	}
	if api.Route.Health != "/healthz" || api.Route.HealthInterval != 500*time.Millisecond || api.Route.HealthRequestTimeout != time.Second {
		t.Errorf("api.Route = %+v", api.Route)
	}

	db := cfg.Service("db")
	if !db.Accessory || db.IsWorker() || db.Route != nil || !reflect.DeepEqual(db.Hosts, []string{"web-1"}) {
		t.Errorf("db = %+v; want an accessory on web-1", db)
	}
	if v := db.Compose.Environment["POSTGRES_PASSWORD"]; v == nil || *v != "from-dotenv" {
		t.Errorf("db POSTGRES_PASSWORD not interpolated from .env")
	}

	worker := cfg.Service("worker")
	if !worker.IsWorker() || !reflect.DeepEqual(worker.Hosts, []string{"web-1", "web-2", "web-3"}) {
		t.Errorf("worker = %+v; want a worker on every host", worker)
	}
	if web.IsWorker() {
		t.Error("web is routed but IsWorker() is true")
	}
}

func TestLoadEnvAndProfiles(t *testing.T) {
	path := filepath.Join("testdata", "ok", "full", "berth.yaml")
	tests := []struct {
		name    string
		opts    LoadOptions
		image   string   // of web
		present []string // extra services expected
		web3TLS *TLS
	}{
		{
			name:  "environment wins over .env",
			opts:  LoadOptions{Env: map[string]string{"TAG": "9.9.9"}},
			image: "registry.example.com/shop/web:9.9.9",
		},
		{
			name:    "profile enables its service",
			opts:    LoadOptions{Profiles: []string{"debug"}},
			image:   "registry.example.com/shop/web:1.2.3",
			present: []string{"debug"},
		},
		{
			name:    "COMPOSE_PROFILES as in docker compose",
			opts:    LoadOptions{Env: map[string]string{"COMPOSE_PROFILES": "debug"}},
			image:   "registry.example.com/shop/web:1.2.3",
			present: []string{"debug"},
		},
		{
			name:    "tcp host without tls: follows DOCKER_TLS_VERIFY",
			opts:    LoadOptions{Env: map[string]string{"DOCKER_TLS_VERIFY": "1"}},
			image:   "registry.example.com/shop/web:1.2.3",
			web3TLS: &TLS{CertPath: "/home/test/.docker", Verify: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := load(t, path, tt.opts)
			if got := cfg.Service("web").Compose.Image; got != tt.image {
				t.Errorf("web image = %q; want %q", got, tt.image)
			}
			for _, name := range tt.present {
				s := cfg.Service(name)
				if s == nil {
					t.Fatalf("service %s missing; have %v", name, serviceNames(cfg))
				}
				if s.Deploy != defaultDeploy() || s.Route != nil {
					t.Errorf("%s = %+v; want defaults", name, s)
				}
			}
			if got := cfg.Host("web-3").TLS; !reflect.DeepEqual(got, tt.web3TLS) {
				t.Errorf("web-3 TLS = %+v; want %+v", got, tt.web3TLS)
			}
			if got := cfg.Host("web-2").TLS; got == nil || got.Verify {
				t.Errorf("web-2 TLS = %+v; its own tls: block must win over the environment", got)
			}
		})
	}
}

func TestLoadDefaultHost(t *testing.T) {
	path := filepath.Join("testdata", "ok", "minimal", "berth.yaml")
	tests := []struct {
		name string
		env  map[string]string
		want Host
	}{
		{
			name: "local socket",
			want: Host{Name: "default", Endpoint: "unix:///var/run/docker.sock"},
		},
		{
			name: "DOCKER_HOST with TLS",
			env:  map[string]string{"DOCKER_HOST": "tcp://10.0.0.9:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/certs"},
			want: Host{Name: "default", Endpoint: "tcp://10.0.0.9:2376", TLS: &TLS{CertPath: "/certs", Verify: true}},
		},
		{
			name: "DOCKER_HOST without port gets the docker CLI's TLS port",
			env:  map[string]string{"DOCKER_HOST": "tcp://10.0.0.9", "DOCKER_TLS_VERIFY": "1"},
			want: Host{Name: "default", Endpoint: "tcp://10.0.0.9:2376", TLS: &TLS{CertPath: "/home/test/.docker", Verify: true}},
		},
		{
			name: "cert path without verify",
			env:  map[string]string{"DOCKER_HOST": "tcp://10.0.0.9:2375", "DOCKER_CERT_PATH": "/c"},
			want: Host{Name: "default", Endpoint: "tcp://10.0.0.9:2375", TLS: &TLS{CertPath: "/c", Verify: false}},
		},
		{
			name: "unix socket ignores TLS variables",
			env:  map[string]string{"DOCKER_HOST": "unix:///run/user/1000/docker.sock", "DOCKER_CERT_PATH": "/c"},
			want: Host{Name: "default", Endpoint: "unix:///run/user/1000/docker.sock"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := load(t, path, LoadOptions{Env: tt.env})
			if !reflect.DeepEqual(cfg.Hosts, []Host{tt.want}) {
				t.Errorf("Hosts = %+v; want %+v", cfg.Hosts, tt.want)
			}
			app := cfg.Service("app")
			if app == nil || !reflect.DeepEqual(app.Hosts, []string{"default"}) || app.Deploy != defaultDeploy() || !app.IsWorker() {
				t.Errorf("app = %+v; want a default worker on the default host", app)
			}
			if cfg.Proxy != defaultProxy() {
				t.Errorf("Proxy = %+v; want defaults", cfg.Proxy)
			}
		})
	}
}

// A path given as plain "berth.yaml" must yield messages naming plain
// "compose.yaml", exactly as the user would type them.
func TestLoadRelativePaths(t *testing.T) {
	t.Chdir(filepath.Join("testdata", "errors", "refused-keys"))
	_, err := Load(context.Background(), "berth.yaml", LoadOptions{Env: map[string]string{}})
	if err == nil || !strings.HasPrefix(err.Error(), "compose.yaml:3:5: ") {
		t.Errorf("err = %v; want it to start with compose.yaml:3:5:", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(context.Background(), filepath.Join("testdata", "nope", "berth.yaml"), LoadOptions{})
	if !IsConfigError(err) {
		t.Fatalf("IsConfigError(%v) = false", err)
	}
	want := "testdata/nope/berth.yaml: file does not exist (fix: run `berth init` to write one, or name the right file)"
	if err.Error() != want {
		t.Errorf("err = %q; want %q", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("errors.Is(err, fs.ErrNotExist) = false")
	}
}

func TestLoadCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Load(ctx, filepath.Join("testdata", "ok", "minimal", "berth.yaml"), LoadOptions{})
	if !errors.Is(err, context.Canceled) || IsConfigError(err) {
		t.Errorf("err = %v; want context.Canceled, not a config error", err)
	}
}

func TestLoadAnchorsAndMergeKeys(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), "services:\n  web:\n    image: w:1\n  api:\n    image: a:1\n")
	writeFile(t, filepath.Join(dir, "berth.yaml"), `app: shop
x-deploy: &slow { drain: 30s, keep: 5 }
services:
  web:
    deploy: *slow
  api:
    deploy:
      <<: *slow
      keep: 2
`)
	cfg := load(t, filepath.Join(dir, "berth.yaml"), LoadOptions{})
	if d := cfg.Service("api").Deploy; d.Drain != 30*time.Second || d.Keep != 2 {
		t.Errorf("api.Deploy = %+v; want drain 30s from the anchor and keep 2 overriding it", d)
	}
	if d := cfg.Service("web").Deploy; d.Drain != 30*time.Second || d.Keep != 5 {
		t.Errorf("web.Deploy = %+v", d)
	}

	// x- is for anchors only at the top level; elsewhere it is a typo.
	writeFile(t, filepath.Join(dir, "berth.yaml"), "app: shop\nservices:\n  web:\n    x-note: hi\n")
	_, err := Load(context.Background(), filepath.Join(dir, "berth.yaml"), LoadOptions{Env: map[string]string{}})
	if err == nil || !strings.Contains(err.Error(), `services.web.x-note: unknown key "x-note"`) {
		t.Errorf("err = %v; want x-note rejected", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
