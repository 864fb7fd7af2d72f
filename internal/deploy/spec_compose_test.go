package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/release"
)

// The compose settings whose mapping is berth's own choice (not a copy of
// the value): links, namespaces of accessories, restart_policy, files
// written into the container, device requests.
func TestContainerSpecComposeMappings(t *testing.T) {
	cfg := loadTestConfig(t, `app: shop
services:
  db: { accessory: true }
  sidecar: { accessory: true }
`, `services:
  web:
    image: shop:v1
    links: ["db:database", "db"]
    network_mode: none
    ipc: service:db
    gpus: [{ driver: nvidia, count: 2 }]
    deploy:
      restart_policy: { condition: any }
      resources: { reservations: { devices: [{ capabilities: [compute], device_ids: ["0"] }] } }
    secrets:
      - { source: env_secret, target: api, uid: "1000", mode: 0400 }
    configs: [inline, { source: from_file, target: conf/app.conf }]
    volumes: [{ type: tmpfs, target: /scratch, tmpfs: { size: 1048576 } }]
  db:
    image: postgres:17
    networks:
      default:
      back: { ipv4_address: 10.9.0.5, priority: 10 }
    deploy: { restart_policy: { condition: on-failure, max_attempts: 2 } }
  sidecar:
    image: shop:v1
    network_mode: service:db
    volumes_from: ["db:ro", "container:legacy"]
networks:
  back: { ipam: { config: [{ subnet: 10.9.0.0/24 }] } }
secrets:
  env_secret: { environment: API_KEY }
configs:
  inline: { content: "x=1" }
  from_file: { file: ./app.conf }
`, map[string]string{"app.conf": "y=2", ".env": "API_KEY=k3y-value-123\n"})

	web, err := containerSpec(cfg, cfg.Service("web"), "shop:v1", "", 1, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if web.NetworkMode != "none" || len(web.NetworkOrder) != 0 {
		t.Errorf("network_mode none: mode %q networks %v", web.NetworkMode, web.NetworkOrder)
	}
	if web.IpcMode != "container:"+release.AccessoryName("shop", "db") {
		t.Errorf("ipc service:db = %q; want the accessory's container", web.IpcMode)
	}
	if web.Restart != "unless-stopped" {
		t.Errorf("restart_policy any = %q; want unless-stopped (stopped releases stay stopped)", web.Restart)
	}
	if got := fmt.Sprint(web.DeviceRequests); got != "[{nvidia 2 [] [[gpu]] map[]} { 0 [0] [[compute]] map[]}]" {
		t.Errorf("device requests %s", got)
	}
	if web.Tmpfs["/scratch"] != "size=1048576" {
		t.Errorf("tmpfs %v", web.Tmpfs)
	}
	files := map[string]string{}
	for _, f := range web.Files {
		files[f.Path] = fmt.Sprintf("%s %o %d", f.Data, f.Mode, f.UID)
		if f.Digest == "" || strings.Contains(f.Digest, string(f.Data)) {
			t.Errorf("%s: digest %q", f.Path, f.Digest)
		}
	}
	if files["/run/secrets/api"] != "k3y-value-123 400 1000" || files["/inline"] != "x=1 444 0" {
		t.Errorf("files %v", files)
	}
	if !slices.ContainsFunc(web.Mounts, func(m engine.Mount) bool { return m.Target == "/conf/app.conf" && m.ReadOnly && m.Type == "bind" }) {
		t.Errorf("config from a file is not bind-mounted read-only at /conf/app.conf: %+v", web.Mounts)
	}

	db, err := containerSpec(cfg, cfg.Service("db"), "postgres:17", "", 1, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if db.NetworkOrder[0] != "shop_back" || db.Endpoints["shop_back"].IPv4Address != "10.9.0.5" {
		t.Errorf("db networks %v endpoints %v; want back first (priority) with its address", db.NetworkOrder, db.Endpoints)
	}
	if got := db.Networks[AppNetwork("shop")]; !slices.Equal(got, []string{"db", "database"}) {
		t.Errorf("db aliases on the app network %v; want the service name and the link alias", got)
	}
	if db.Restart != "on-failure:2" {
		t.Errorf("restart_policy on-failure max 2 = %q", db.Restart)
	}

	side, err := containerSpec(cfg, cfg.Service("sidecar"), "shop:v1", "", 1, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if side.NetworkMode != "container:"+release.AccessoryName("shop", "db") {
		t.Errorf("network_mode service:db = %q", side.NetworkMode)
	}
	if !slices.Equal(side.VolumesFrom, []string{release.AccessoryName("shop", "db") + ":ro", "legacy"}) {
		t.Errorf("volumes_from %v", side.VolumesFrom)
	}

	// The secret's value is in no label, and a changed value makes a new hash.
	for k, v := range web.Labels {
		if strings.Contains(k+v, "k3y-value-123") {
			t.Errorf("secret value in label %s", k)
		}
	}
	cfg.Project.Environment["API_KEY"] = "another-value"
	changed, _ := containerSpec(cfg, cfg.Service("web"), "shop:v1", "", 1, "v1")
	if changed.Labels[release.LabelConfigHash] == web.Labels[release.LabelConfigHash] {
		t.Errorf("a changed secret value did not change the spec hash")
	}
}
