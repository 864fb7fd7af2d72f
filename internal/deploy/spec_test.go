package deploy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/release"
)

func loadTestConfig(t *testing.T, berth, compose string, files map[string]string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	files["berth.yaml"] = berth
	files["compose.yaml"] = compose
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(context.Background(), filepath.Join(dir, "berth.yaml"), config.LoadOptions{Env: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestContainerSpec(t *testing.T) {
	cfg := loadTestConfig(t, `app: shop
services:
  web:
    route: { host: shop.test, port: 8080 }
`, `services:
  web:
    image: shop:v1
    command: ["serve", "--fast"]
    user: "1000"
    env_file: [web.env]
    environment: { B: two, A: one }
    secrets: [token]
    volumes: [data:/data, ./static:/static:ro]
    stop_grace_period: 25s
    deploy: { resources: { limits: { memory: 256M, cpus: "0.5", pids: 100 } } }
    healthcheck: { test: ["CMD", "/app", "health"], interval: 5s, retries: 2 }
volumes:
  data: {}
secrets:
  token: { file: ./token.txt }
`, map[string]string{"web.env": "C=three\n", "token.txt": "hunter2"})
	svc := cfg.Service("web")
	spec, err := containerSpec(cfg, svc, "shop:v1", "sha256:aaa", 4, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Name != "shop-web-4" {
		t.Errorf("name %q", spec.Name)
	}
	if got := strings.Join(spec.Env, " "); got != "A=one B=two C=three" {
		t.Errorf("env %q (sorted, env_file included)", got)
	}
	if spec.User != "1000" || strings.Join(spec.Cmd, " ") != "serve --fast" {
		t.Errorf("user %q cmd %v", spec.User, spec.Cmd)
	}
	if spec.Memory != 256<<20 || spec.NanoCPUs != 5e8 || spec.PidsLimit != 100 {
		t.Errorf("limits: mem %d cpus %d pids %d", spec.Memory, spec.NanoCPUs, spec.PidsLimit)
	}
	if spec.StopTimeout == nil || *spec.StopTimeout != 25 {
		t.Errorf("stop timeout %v", spec.StopTimeout)
	}
	if spec.LogDriver != "json-file" || spec.LogOpts["max-size"] == "" {
		t.Errorf("logs must rotate by default: %s %v", spec.LogDriver, spec.LogOpts)
	}
	if spec.Restart != "unless-stopped" {
		t.Errorf("restart %q", spec.Restart)
	}
	if spec.Healthcheck == nil || spec.Healthcheck.Retries != 2 {
		t.Errorf("healthcheck %+v", spec.Healthcheck)
	}
	var sawSecret, sawVolume, sawBind bool
	for _, m := range spec.Mounts {
		switch {
		case m.Target == "/run/secrets/token":
			sawSecret = m.ReadOnly && m.Type == "bind"
		case m.Target == "/data":
			sawVolume = m.Type == "volume" && m.Source == "shop_data"
		case m.Target == "/static":
			sawBind = m.Type == "bind" && m.ReadOnly && filepath.IsAbs(m.Source)
		}
	}
	if !sawSecret || !sawVolume || !sawBind {
		t.Errorf("mounts %+v: secret ro %v, volume %v, bind %v", spec.Mounts, sawSecret, sawVolume, sawBind)
	}
	if spec.NetworkOrder[0] != AppNetwork("shop") || spec.NetworkOrder[1] != SharedNetwork {
		t.Errorf("networks %v", spec.NetworkOrder)
	}
	if got := spec.Networks[AppNetwork("shop")]; len(got) != 1 || got[0] != "web" {
		t.Errorf("alias on the app network %v", got)
	}
	l := spec.Labels
	if l[release.LabelApp] != "shop" || l[release.LabelService] != "web" || l[release.LabelRelease] != "4" || l[release.LabelVersion] != "v1" || l[release.LabelConfigHash] == "" {
		t.Errorf("labels %v", l)
	}
	for k, v := range l {
		if strings.Contains(k+v, "hunter2") {
			t.Errorf("secret in label %s=%s", k, v)
		}
	}

	// The hash ignores the release number and follows the image content.
	again, _ := containerSpec(cfg, svc, "shop:v1", "sha256:aaa", 5, "v1")
	other, _ := containerSpec(cfg, svc, "shop:v1", "sha256:bbb", 5, "v1")
	if again.Labels[release.LabelConfigHash] != l[release.LabelConfigHash] {
		t.Errorf("hash changed with the release number")
	}
	if other.Labels[release.LabelConfigHash] == l[release.LabelConfigHash] {
		t.Errorf("hash did not change with the image ID")
	}
}

func TestVersionOf(t *testing.T) {
	for _, c := range []struct{ image, id, want string }{
		{"shop:v2", "sha256:abc", "v2"},
		{"registry:5000/shop:v3", "sha256:abc", "v3"},
		{"registry:5000/shop", "sha256:0123456789abcdef", "0123456789ab"},
		{"shop@sha256:fedcba9876543210", "sha256:x", "fedcba987654"},
	} {
		if got := versionOf(c.image, c.id); got != c.want {
			t.Errorf("versionOf(%q) = %q, want %q", c.image, got, c.want)
		}
	}
}

func TestPolicyFromConfigAndAdmission(t *testing.T) {
	compose := `services:
  web:
    image: shop:v1
    privileged: true
`
	cfg := loadTestConfig(t, "app: shop\nservices:\n  web:\n    route: { host: shop.test, port: 8080 }\n", compose, map[string]string{})
	d := &Deployer{Cfg: cfg}
	err := d.admit(context.Background(), cfg.Services, nil)
	var pe *PolicyError
	if !errors.As(err, &pe) || len(pe.Blocking) != 1 || pe.Blocking[0].Rule != "privileged" {
		t.Fatalf("default policy on a privileged service: %v", err)
	}

	cfg = loadTestConfig(t, "app: shop\npolicy:\n  rules: { privileged: warn }\nservices:\n  web:\n    route: { host: shop.test, port: 8080 }\n", compose, map[string]string{})
	if err := (&Deployer{Cfg: cfg}).admit(context.Background(), cfg.Services, nil); err != nil {
		t.Errorf("privileged: warn still refuses: %v", err)
	}

	cfg = loadTestConfig(t, "app: shop\npolicy:\n  mode: enforce\n  threshold: medium\n  rules: { privileged: off, no-such-rule: off }\nservices:\n  web:\n    route: { host: shop.test, port: 8080 }\n", compose, map[string]string{})
	_, err = PolicyFromConfig(cfg)
	if !config.IsConfigError(err) || !strings.Contains(err.Error(), "berth.yaml:5:") || !strings.Contains(err.Error(), "no-such-rule") {
		t.Errorf("unknown rule ID: %v, want a config error at berth.yaml:5", err)
	}
}

func TestWaivers(t *testing.T) {
	compose := `services:
  web:
    image: shop:v1
    privileged: true
  worker:
    image: shop:v1
    privileged: true
`
	berth := "app: shop\npolicy:\n  waivers:\n    - { rule: privileged, service: web, reason: \"needs /dev/kvm for the emulator\" }\n    - { rule: privileged, service: worker, reason: \"old\", expires: 2020-01-31 }\nservices:\n  web:\n    route: { host: shop.test, port: 8080 }\n"
	cfg := loadTestConfig(t, berth, compose, map[string]string{})
	err := (&Deployer{Cfg: cfg}).admit(context.Background(), cfg.Services, nil)
	var pe *PolicyError
	if !errors.As(err, &pe) || len(pe.Blocking) != 1 || pe.Blocking[0].Container != "worker" || !strings.Contains(pe.Blocking[0].WaiverExpired, "expired on 2020-01-31") {
		t.Fatalf("web waived, worker's waiver expired: %v", err)
	}
	p, _ := PolicyFromConfig(cfg)
	res, _ := CheckPolicy(cfg, p, cfg.Services, nil)
	for _, r := range res {
		for _, f := range r.Findings {
			if f.Rule == "privileged" && r.Service == "web" && (!f.Waived || f.Waiver != "needs /dev/kvm for the emulator") {
				t.Errorf("web's privileged finding is not shown as waived: %+v", f)
			}
		}
	}
	for name, bad := range map[string]string{
		"no reason":     "    - { rule: privileged, service: web }\n",
		"two selectors": "    - { rule: privileged, service: web, container: x, reason: r }\n",
		"bad date":      "    - { rule: privileged, service: web, reason: r, expires: tomorrow }\n",
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o600)
		os.WriteFile(filepath.Join(dir, "berth.yaml"), []byte("app: shop\npolicy:\n  waivers:\n"+bad), 0o600)
		if _, err := config.Load(context.Background(), filepath.Join(dir, "berth.yaml"), config.LoadOptions{Env: map[string]string{}}); !config.IsConfigError(err) || !strings.Contains(err.Error(), "berth.yaml:4:") {
			t.Errorf("%s: %v, want a config error at berth.yaml:4", name, err)
		}
	}
}
