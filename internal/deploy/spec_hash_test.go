package deploy

import (
	"testing"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/release"
)

// A project that uses none of the settings berth learned later hashes as it
// did before them: a redeploy after upgrading berth says "unchanged".
// The wanted hashes were computed by berth before those settings existed
// (commit 484f7a7); the project has no path that depends on where the
// test runs, so they are the same on every machine.
func TestSpecHashStable(t *testing.T) {
	cfg := loadTestConfig(t, `app: shop
services:
  web:
    route: { host: shop.test, port: 8080 }
  db:
    accessory: true
`, `services:
  web:
    image: shop:v1
    command: ["serve", "--fast"]
    entrypoint: ["/app"]
    user: "1000"
    working_dir: /srv
    env_file: [web.env]
    environment: { B: two, A: one }
    volumes: [data:/data, /srv/static:/static:ro, { type: tmpfs, target: /scratch }]
    tmpfs: [/tmp]
    stop_grace_period: 25s
    stop_signal: SIGINT
    init: true
    read_only: true
    cap_drop: [ALL]
    extra_hosts: ["api.local:10.0.0.1"]
    logging: { driver: json-file, options: { max-size: 1m } }
    labels: { team: shop }
    deploy: { resources: { limits: { memory: 256M, cpus: "0.5", pids: 100 } } }
    healthcheck: { test: ["CMD", "/app", "health"], interval: 5s, retries: 2 }
    depends_on: [db]
  db:
    image: postgres:17
    restart: on-failure:3
    volumes: [pg:/var/lib/postgresql/data]
    sysctls: { net.core.somaxconn: "1024" }
volumes:
  data: {}
  pg: {}
`, map[string]string{"web.env": "C=three\n"})
	for _, tc := range []struct{ svc, want string }{{"web", "c66638d5619e69bc"}, {"db", "e3974faeef7be41f"}} {
		spec, err := containerSpec(cfg, cfg.Service(tc.svc), "img:v1", "sha256:aaa", 4, "v1")
		if err != nil {
			t.Fatal(err)
		}
		if got := spec.Labels[release.LabelConfigHash]; got != tc.want {
			t.Errorf("%s: hash %s; want %s (the hash of a project that uses no new setting must not change)", tc.svc, got, tc.want)
		}
	}
}

// An upgrade of berth changes berth-proxy's image; the proxy's settings
// hash must not follow, or the next deploy recreates the proxy (cutting
// every app's connections) or refuses to, when other apps route through it.
func TestProxySpecHashIgnoresImage(t *testing.T) {
	cfg := &config.Config{App: "shop", Proxy: config.Proxy{HTTP: "127.0.0.1:8088", MaxBody: 1 << 20}}
	a, err := proxySpec(cfg, "berth:v1-aaaa")
	if err != nil {
		t.Fatal(err)
	}
	b, err := proxySpec(cfg, "berth:v2-bbbb")
	if err != nil {
		t.Fatal(err)
	}
	if a.Labels[release.LabelConfigHash] != b.Labels[release.LabelConfigHash] {
		t.Errorf("proxy hash follows the image: %s vs %s", a.Labels[release.LabelConfigHash], b.Labels[release.LabelConfigHash])
	}
	if a.Image != "berth:v1-aaaa" {
		t.Errorf("the spec lost its image: %q", a.Image)
	}
	cfg.Proxy.HTTP = "127.0.0.1:9090"
	c, _ := proxySpec(cfg, "berth:v1-aaaa")
	if c.Labels[release.LabelConfigHash] == a.Labels[release.LabelConfigHash] {
		t.Error("a new proxy.http does not change the hash")
	}
}
