package policy

import (
	"slices"
	"strings"
	"testing"

	"github.com/berthhq/berth/internal/engine"
)

// hardened is a container every rule accepts: each case below breaks it in
// one way and expects exactly the rules that way violates.
func hardened() engine.ContainerSpec {
	return engine.ContainerSpec{
		Name: "shop-web-1", Image: "shop:1.4.2", User: "10001", ReadOnly: true,
		CapDrop: []string{"ALL"}, SecurityOpt: []string{"no-new-privileges:true"},
		Memory: 256 << 20, NanoCPUs: 5e8, PidsLimit: 100, Restart: "unless-stopped",
		Healthcheck: &engine.Healthcheck{Test: []string{"CMD", "/app", "health"}},
		LogDriver:   "json-file", LogOpts: map[string]string{"max-size": "10m"},
		NetworkOrder: []string{"berth-shop"},
		Env:          []string{"GREETING=hello", "PORT=8080"},
	}
}

func TestRules(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(*engine.ContainerSpec)
		want   []string
	}{
		{"hardened container", func(*engine.ContainerSpec) {}, nil},
		{"privileged", func(s *engine.ContainerSpec) { s.Privileged = true }, []string{"privileged"}},
		{"cap_add SYS_ADMIN", func(s *engine.ContainerSpec) { s.CapAdd = []string{"sys_admin"} }, []string{"dangerous-capabilities"}},
		{"cap_add ALL", func(s *engine.ContainerSpec) { s.CapAdd = []string{"ALL"} }, []string{"dangerous-capabilities"}},
		{"cap_add CAP_CHOWN", func(s *engine.ContainerSpec) { s.CapAdd = []string{"CAP_CHOWN"} }, []string{"added-capabilities"}},
		{"cap_add NET_BIND_SERVICE is allowed", func(s *engine.ContainerSpec) { s.CapAdd = []string{"NET_BIND_SERVICE"} }, nil},
		{"capabilities not dropped", func(s *engine.ContainerSpec) { s.CapDrop = nil }, []string{"capabilities-not-dropped"}},
		{"pid host", func(s *engine.ContainerSpec) { s.PidMode = "host" }, []string{"host-pid"}},
		{"ipc host", func(s *engine.ContainerSpec) { s.IpcMode = "host" }, []string{"host-ipc"}},
		{"uts host", func(s *engine.ContainerSpec) { s.UTSMode = "host" }, []string{"host-uts"}},
		{"userns host", func(s *engine.ContainerSpec) { s.UsernsMode = "host" }, []string{"host-userns"}},
		{"cgroupns host", func(s *engine.ContainerSpec) { s.CgroupnsMode = "host" }, []string{"host-cgroupns"}},
		{"docker socket", func(s *engine.ContainerSpec) {
			s.Mounts = []engine.Mount{{Type: "bind", Source: "/var/run/docker.sock", Target: "/var/run/docker.sock", ReadOnly: true}}
		}, []string{"docker-socket"}},
		{"host root, writable", func(s *engine.ContainerSpec) {
			s.Mounts = []engine.Mount{{Type: "bind", Source: "/", Target: "/host"}}
		}, []string{"sensitive-mount", "writable-bind-mount"}},
		{"host /etc/ read-only, unclean path", func(s *engine.ContainerSpec) {
			s.Mounts = []engine.Mount{{Type: "bind", Source: "/etc/", Target: "/h", ReadOnly: true}}
		}, []string{"sensitive-mount"}},
		{"app directory read-only is fine", func(s *engine.ContainerSpec) {
			s.Mounts = []engine.Mount{{Type: "bind", Source: "/srv/shop/static", Target: "/static", ReadOnly: true}, {Type: "volume", Source: "shop_data", Target: "/data"}}
		}, nil},
		{"a file below /etc (shadow), read-only", func(s *engine.ContainerSpec) {
			s.Mounts = []engine.Mount{{Type: "bind", Source: "/etc/shadow", Target: "/s", ReadOnly: true}}
		}, []string{"sensitive-mount"}},
		{"/etc/localtime and CA certificates read-only are ordinary", func(s *engine.ContainerSpec) {
			s.Mounts = []engine.Mount{{Type: "bind", Source: "/etc/localtime", Target: "/etc/localtime", ReadOnly: true}, {Type: "bind", Source: "/etc/ssl/certs", Target: "/etc/ssl/certs", ReadOnly: true}}
		}, nil},
		{"/etc/localtime writable is not", func(s *engine.ContainerSpec) {
			s.Mounts = []engine.Mount{{Type: "bind", Source: "/etc/localtime", Target: "/etc/localtime"}}
		}, []string{"sensitive-mount", "writable-bind-mount"}},
		{"/var/lib/docker/volumes below the engine's root", func(s *engine.ContainerSpec) {
			s.Mounts = []engine.Mount{{Type: "bind", Source: "/var/lib/docker/volumes", Target: "/v", ReadOnly: true}}
		}, []string{"sensitive-mount"}},
		{"/proc/sysrq-trigger", func(s *engine.ContainerSpec) {
			s.Mounts = []engine.Mount{{Type: "bind", Source: "/proc/sysrq-trigger", Target: "/t", ReadOnly: true}}
		}, []string{"sensitive-mount"}},
		{"image from a registry: no allow-list, no finding", func(s *engine.ContainerSpec) { s.Image = "evil.io/miner:1.0" }, nil},
		{"restart always without a health check", func(s *engine.ContainerSpec) { s.Restart = "always"; s.Healthcheck = nil }, []string{"restart-unbounded", "no-healthcheck"}},
		{"restart always with a health check", func(s *engine.ContainerSpec) { s.Restart = "always" }, nil},
		{"device", func(s *engine.ContainerSpec) {
			s.Devices = []engine.Device{{HostPath: "/dev/mem", ContainerPath: "/dev/mem"}}
		}, []string{"devices"}},
		{"seccomp unconfined", func(s *engine.ContainerSpec) { s.SecurityOpt = append(s.SecurityOpt, "seccomp=unconfined") }, []string{"seccomp-unconfined"}},
		{"apparmor unconfined", func(s *engine.ContainerSpec) { s.SecurityOpt = append(s.SecurityOpt, "apparmor:unconfined") }, []string{"apparmor-unconfined"}},
		{"no no-new-privileges", func(s *engine.ContainerSpec) { s.SecurityOpt = nil }, []string{"no-new-privileges"}},
		{"root user", func(s *engine.ContainerSpec) { s.User = "" }, []string{"root-user"}},
		{"root by name with group", func(s *engine.ContainerSpec) { s.User = "root:root" }, []string{"root-user"}},
		{"writable rootfs", func(s *engine.ContainerSpec) { s.ReadOnly = false }, []string{"writable-rootfs"}},
		{"no limits", func(s *engine.ContainerSpec) { s.Memory, s.NanoCPUs, s.PidsLimit = 0, 0, 0 }, []string{"no-memory-limit", "no-cpu-limit", "no-pids-limit"}},
		{"on-failure without a limit", func(s *engine.ContainerSpec) { s.Restart = "on-failure" }, []string{"restart-unbounded"}},
		{"on-failure:5 is fine", func(s *engine.ContainerSpec) { s.Restart = "on-failure:5" }, nil},
		{"no healthcheck", func(s *engine.ContainerSpec) { s.Healthcheck = nil }, []string{"no-healthcheck"}},
		{"healthcheck NONE", func(s *engine.ContainerSpec) { s.Healthcheck = &engine.Healthcheck{Test: []string{"NONE"}} }, []string{"no-healthcheck"}},
		{"logs not rotated", func(s *engine.ContainerSpec) { s.LogOpts = nil }, []string{"no-log-rotation"}},
		{"latest tag", func(s *engine.ContainerSpec) { s.Image = "registry:5000/shop:latest" }, []string{"mutable-image-tag"}},
		{"no tag", func(s *engine.ContainerSpec) { s.Image = "registry:5000/shop" }, []string{"mutable-image-tag"}},
		{"digest is fine", func(s *engine.ContainerSpec) { s.Image = "shop@sha256:" + strings.Repeat("a", 64) }, nil},
		{"stable tag", func(s *engine.ContainerSpec) { s.Image = "nginx:stable" }, []string{"mutable-image-tag"}},
		{"nightly tag", func(s *engine.ContainerSpec) { s.Image = "ghcr.io/acme/app:nightly" }, []string{"mutable-image-tag"}},
		{"edge tag", func(s *engine.ContainerSpec) { s.Image = "alpine:edge" }, []string{"mutable-image-tag"}},
		{"main tag", func(s *engine.ContainerSpec) { s.Image = "acme/app:main" }, []string{"mutable-image-tag"}},
		{"master tag", func(s *engine.ContainerSpec) { s.Image = "acme/app:master" }, []string{"mutable-image-tag"}},
		{"dev tag", func(s *engine.ContainerSpec) { s.Image = "acme/app:dev" }, []string{"mutable-image-tag"}},
		{"beta tag", func(s *engine.ContainerSpec) { s.Image = "acme/app:beta" }, []string{"mutable-image-tag"}},
		{"LATEST in capitals", func(s *engine.ContainerSpec) { s.Image = "acme/app:LATEST" }, []string{"mutable-image-tag"}},
		{"a version that contains a channel word is fixed", func(s *engine.ContainerSpec) { s.Image = "nginx:1.27-alpine-stable3" }, nil},
		{"an image ID names one image", func(s *engine.ContainerSpec) { s.Image = "sha256:" + strings.Repeat("b", 64) }, nil},
		{"port on all interfaces, privileged", func(s *engine.ContainerSpec) { s.Ports = []engine.PortBinding{{HostPort: 80, ContainerPort: 8080}} }, []string{"port-all-interfaces", "privileged-port"}},
		{"port on loopback is fine", func(s *engine.ContainerSpec) {
			s.Ports = []engine.PortBinding{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 8080}}
		}, nil},
		{"sysctl", func(s *engine.ContainerSpec) { s.Sysctls = map[string]string{"net.ipv4.ip_forward": "1"} }, []string{"sysctls"}},
		{"secret by name", func(s *engine.ContainerSpec) { s.Env = append(s.Env, "DB_PASSWORD=hunter2") }, []string{"secret-in-env"}},
		{"secret by entropy", func(s *engine.ContainerSpec) { s.Env = append(s.Env, "STRIPE=sk_live_4eC39HqLyjWDarjtT1zdp7dc") }, []string{"secret-in-env"}},
		{"a _FILE pointer is not a secret", func(s *engine.ContainerSpec) { s.Env = append(s.Env, "DB_PASSWORD_FILE=/run/secrets/db") }, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			es := hardened()
			c.change(&es)
			spec := FromEngine(es, "web")
			var got []string
			for _, f := range Default().Evaluate(&spec) {
				if !slices.Contains(got, f.Rule) {
					got = append(got, f.Rule)
				}
				if strings.Contains(f.Message, "hunter2") || strings.Contains(f.Message, "sk_live") {
					t.Errorf("a finding shows a secret value: %s", f.Message)
				}
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("findings %v, want %v", got, c.want)
			}
		})
	}
}

func TestModesAndThreshold(t *testing.T) {
	es := hardened()
	es.Privileged, es.Memory = true, 0
	spec := FromEngine(es, "web")
	blocked := func(p Policy) []string {
		var ids []string
		for _, f := range Blocking(p.Evaluate(&spec)) {
			ids = append(ids, f.Rule)
		}
		return ids
	}
	if got := blocked(Default()); strings.Join(got, ",") != "privileged" {
		t.Errorf("default policy blocks %v, want only privileged (critical); no-memory-limit (medium) only warns", got)
	}
	if got := blocked(Policy{Mode: Warn, Threshold: High}); len(got) != 0 {
		t.Errorf("warn mode blocks %v", got)
	}
	if got := blocked(Policy{Mode: Enforce, Threshold: Medium}); strings.Join(got, ",") != "privileged,no-memory-limit" {
		t.Errorf("threshold medium blocks %v", got)
	}
	if got := blocked(Policy{Mode: Enforce, Threshold: High, Rules: map[string]Mode{"privileged": Off}}); len(got) != 0 {
		t.Errorf("rule turned off still blocks: %v", got)
	}
	for _, r := range Rules() {
		if r.ID == "" || r.Fix == "" || r.Rationale == "" || r.Severity == 0 {
			t.Errorf("rule %q lacks an ID, fix, rationale or severity", r.ID)
		}
	}
}
