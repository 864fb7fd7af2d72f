package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/testenv"
)

// TestComposeKeys deploys a project that uses the compose settings berth
// honours on the container and reads every container back with docker
// inspect (and the files through the app): each setting took effect. A
// second deploy of the unchanged project changes nothing. Missing external
// networks and volumes stop the deploy before anything is created.
func TestComposeKeys(t *testing.T) {
	const (
		tokenEnv   = "tok-from-env-5d2e"
		tokenFile  = "tok-from-file-9a41"
		settingEnv = "setting-from-env"
	)
	net := 20 + testenv.FreePort(t)%200 // a /24 unlikely to be in use
	subnet, dbIP := fmt.Sprintf("10.231.%d.0/24", net), fmt.Sprintf("10.231.%d.10", net)
	extraBerth := `  db:
    accessory: true
    deploy: { min_ready: 1s }
  worker:
    deploy: { min_ready: 1s }
`
	a := newApp(t, extraBerth, "") // compose.yaml is written below
	disk := blockDevice()
	blkio := ""
	if disk != "" {
		blkio = "    blkio_config: { device_read_bps: [{ path: " + disk + ", rate: 1mb }], device_write_iops: [{ path: " + disk + ", rate: 300 }] }\n"
	}
	extNet, extVol := a.name+"-extnet", a.name+"-extvol"
	compose := fmt.Sprintf(`services:
  web:
    image: berth-testapp:v1
    entrypoint: ["/app"]
    working_dir: /
    hostname: web-host
    domainname: example.test
    platform: linux/%[1]s
    ulimits: { nofile: { soft: 1024, hard: 2048 }, nproc: 512 }
    shm_size: 64m
    runtime: runc
    group_add: ["1234"]
    extra_hosts: ["api.local:10.0.0.1"]
    dns: [10.0.0.53]
    dns_search: [example.test]
    dns_opt: ["ndots:2"]
    tmpfs: ["/cache:size=1m,mode=1777"]
    stop_signal: SIGINT
    stop_grace_period: 7s
    init: true
    logging: { driver: json-file, options: { max-size: 2m, max-file: "2" } }
    cpuset: "0"
    cpu_shares: 512
    memswap_limit: 256m
    mem_swappiness: 10
    oom_score_adj: 100
    device_cgroup_rules: ["c 1:3 mr"]
%[6]s    links: ["db:database"]
    deploy:
      restart_policy: { condition: on-failure, max_attempts: 4 }
      resources:
        limits: { memory: 128M, cpus: "0.5", pids: 64 }
        reservations: { memory: 32M }
    networks:
      default: {}
      back: { aliases: [api] }
      ext: {}
    volumes:
      - { type: bind, source: ./made-by-engine, target: /made }
      - { type: volume, source: data, target: /data, volume: { nocopy: true } }
      - { type: tmpfs, target: /scratch, tmpfs: { size: 2097152 } }
      - { type: volume, source: ext, target: /ext }
    configs:
      - { source: settings_file, target: /etc/app/file.conf }
      - settings_content
      - { source: settings_env, target: /etc/app/env.conf }
    secrets:
      - token_file
      - { source: token_env, target: /etc/token-env, uid: "1000", gid: "1001", mode: 0400 }
  worker:
    image: berth-testapp:v1
    command: ["worker"]
    cpu_quota: 50000
    cpu_period: 100000
    mem_limit: 64m
    mem_reservation: 16m
    oom_kill_disable: true
    stdin_open: true
    tty: true
    volumes_from: [db]
    restart: "no"
  db:
    image: berth-testapp:v1
    command: ["worker"]
    networks:
      default: {}
      back: { ipv4_address: %[2]s }
    volumes: [dbdata:/dbdata]
volumes:
  data: { labels: { tier: web } }
  dbdata: {}
  ext: { external: true, name: %[3]s }
networks:
  back:
    ipam: { config: [{ subnet: %[4]s }] }
    labels: { tier: back }
    attachable: true
  ext: { external: true, name: %[5]s }
configs:
  settings_file: { file: ./settings.conf }
  settings_content: { content: "content=yes" }
  settings_env: { environment: SETTING }
secrets:
  token_file: { file: ./token.txt }
  token_env: { environment: TOKEN }
`, runtime.GOARCH, dbIP, extVol, subnet, extNet, blkio)
	write(t, filepath.Join(a.dir, "compose.yaml"), compose)
	write(t, filepath.Join(a.dir, "settings.conf"), "file=yes\n")
	write(t, filepath.Join(a.dir, "token.txt"), tokenFile)
	write(t, filepath.Join(a.dir, ".env"), "TOKEN="+tokenEnv+"\nSETTING="+settingEnv+"\n")
	testenv.AppImage(t, a.eng, "berth-testapp:v1", "VERSION=v1")

	// External objects are never created by berth: missing, they stop the
	// deploy before anything changes.
	out, errOut, code := a.run("deploy")
	if code == 0 {
		t.Fatalf("deploy without the external network and volume succeeded:\n%s%s", out, errOut)
	}
	for _, want := range []string{"network " + extNet, "docker network create " + extNet, "volume " + extVol, "nothing was changed"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the refusal lacks %q:\n%s", want, errOut)
		}
	}
	if ps, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=berth.app="+a.name).Output(); len(bytes.TrimSpace(ps)) > 0 {
		t.Errorf("containers were created although the deploy was refused: %s", ps)
	}
	docker(t, "network", "create", extNet)
	t.Cleanup(func() { _ = exec.Command("docker", "network", "rm", extNet).Run() })
	docker(t, "volume", "create", extVol)
	t.Cleanup(func() { _ = exec.Command("docker", "volume", "rm", extVol).Run() })

	out, errOut, code = a.run("deploy")
	if code != 0 {
		t.Fatalf("deploy: exit %d\n%s\n%s", code, out, errOut)
	}
	a.waitServing("v1", 10*time.Second)

	web, worker, db := inspectContainer(t, a.name+"-web-1"), inspectContainer(t, a.name+"-worker-1"), inspectContainer(t, a.name+"-db")
	checkWeb(t, a, web, extNet)
	if disk != "" {
		if got := fmt.Sprint(web.HostConfig.BlkioDeviceReadBps, web.HostConfig.BlkioDeviceWriteIOps); got != "[{"+disk+" 1048576}] [{"+disk+" 300}]" {
			t.Errorf("web blkio_config throttles: %s", got)
		}
	}
	checkWorker(t, a, worker)
	if ep := db.NetworkSettings.Networks[a.name+"_back"]; ep == nil || ep.IPAddress != dbIP || !slices.Contains(ep.Aliases, "database") {
		t.Errorf("db on %s_back: %+v; want address %s and the link alias database", a.name, ep, dbIP)
	}
	netLabels := dockerOut(t, "network", "inspect", "-f", "{{json .Labels}} {{.Attachable}} {{range .IPAM.Config}}{{.Subnet}}{{end}}", a.name+"_back")
	for _, want := range []string{`"tier":"back"`, `"berth.app":"` + a.name + `"`, "true", subnet} {
		if !strings.Contains(netLabels, want) {
			t.Errorf("network %s_back lacks %q: %s", a.name, want, netLabels)
		}
	}
	if vl := dockerOut(t, "volume", "inspect", "-f", "{{json .Labels}}", a.name+"_data"); !strings.Contains(vl, `"tier":"web"`) {
		t.Errorf("volume labels: %s", vl)
	}

	// Files: content from each source, at its target, with its mode.
	for path, want := range map[string]string{
		"/etc/app/file.conf":      "file=yes",
		"/settings_content":       "content=yes",
		"/etc/app/env.conf":       settingEnv,
		"/run/secrets/token_file": tokenFile,
		"/etc/token-env":          tokenEnv,
	} {
		if got := body(t, a, "/file?path="+path); got != want {
			t.Errorf("%s in the container: %q; want %q", path, got, want)
		}
	}
	if h := fileHeader(t, a.name+"-web-1", "/etc/token-env"); h.Mode&0o777 != 0o400 || h.Uid != 1000 || h.Gid != 1001 {
		t.Errorf("/etc/token-env: mode %o uid %d gid %d; want 400 1000 1001", h.Mode&0o777, h.Uid, h.Gid)
	}
	if h := fileHeader(t, a.name+"-web-1", "/settings_content"); h.Mode&0o777 != 0o444 {
		t.Errorf("/settings_content: mode %o; want 444 (docker compose's default)", h.Mode&0o777)
	}

	// An unchanged project redeploys as unchanged: every setting hashes
	// the same, secrets included.
	again := a.mustRun("deploy", "--format", "json")
	var res struct {
		Services []struct{ Service, Action string }
	}
	if err := json.Unmarshal([]byte(again), &res); err != nil {
		t.Fatalf("deploy --format json: %v\n%s", err, again)
	}
	for _, s := range res.Services {
		if s.Action != "unchanged" {
			t.Errorf("second deploy of an unchanged project: %s %s", s.Service, s.Action)
		}
	}

	// No secret value in output, labels or the environment.
	labels := dockerOut(t, "ps", "-a", "--filter", "label=berth.app="+a.name, "--format", "{{.Labels}}")
	for what, text := range map[string]string{"deploy output": out + errOut + again, "labels": labels, "web's environment": strings.Join(web.Config.Env, " ")} {
		for _, secret := range []string{tokenEnv, tokenFile} {
			if strings.Contains(text, secret) {
				t.Errorf("a secret value appears in %s", what)
			}
		}
	}
}

// A setting this engine's API is too old for is refused before anything
// changes (mac_address needs API 1.44; the engine here may be older).
func TestComposeKeysAPIGated(t *testing.T) {
	a := newApp(t, "  db:\n    accessory: true\n    deploy: { min_ready: 1s }\n",
		"    depends_on: [db]\n  db:\n    image: berth-testapp:v1\n    command: [\"worker\"]\n    mac_address: 02:42:ac:11:00:42\n")
	testenv.AppImage(t, a.eng, "berth-testapp:v1", "VERSION=v1")
	out, errOut, code := a.run("deploy")
	var major, minor int
	if _, err := fmt.Sscanf(a.eng.APIVersion, "%d.%d", &major, &minor); err != nil {
		t.Fatalf("engine API version %q: %v", a.eng.APIVersion, err)
	}
	if major > 1 || minor >= 44 {
		if code != 0 {
			t.Fatalf("deploy on API %s: exit %d\n%s%s", a.eng.APIVersion, code, out, errOut)
		}
		if got := dockerOut(t, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.MacAddress}}{{end}}", a.name+"-db"); got != "02:42:ac:11:00:42" {
			t.Errorf("db MAC address %q", got)
		}
		return
	}
	if code == 0 {
		t.Fatalf("deploy with mac_address on API %s succeeded; the engine would ignore it", a.eng.APIVersion)
	}
	for _, want := range []string{"mac_address", "needs Engine API 1.44", "nothing was changed"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("refusal lacks %q:\n%s", want, errOut)
		}
	}
	if ps := dockerOut(t, "ps", "-aq", "--filter", "label=berth.app="+a.name); ps != "" {
		t.Errorf("containers were created although the deploy was refused: %s", ps)
	}
}

// TestComposeKeysEngineRefusals: settings this engine cannot satisfy reach
// it and are refused by it, so the deploy fails before any switch instead of
// running a container without them. No GPU here: the device request is
// sent and the engine answers that no driver can serve it. A block IO
// weight the host's kernel cannot apply is discarded by the engine with a
// warning; berth turns that into a refused deploy.
func TestComposeKeysEngineRefusals(t *testing.T) {
	for _, tc := range []struct{ name, key, want string }{
		{"gpus", "    gpus: all\n", "could not select device driver"},
		{"reservations", "    deploy: { resources: { reservations: { devices: [{ capabilities: [gpu], count: 1 }] } } }\n", "could not select device driver"},
		{"platform", "    platform: linux/s390x\n", "s390x"},
		{"blkio", "    blkio_config: { weight: 300 }\n", "Weight discarded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "blkio" && blkioWeightWorks(t) {
				t.Skip("this host honours blkio weight; TestComposeKeys would need it instead")
			}
			a := newApp(t, "  worker:\n    deploy: { min_ready: 1s }\n", "  worker:\n    image: berth-testapp:v1\n    command: [\"worker\"]\n"+tc.key)
			testenv.AppImage(t, a.eng, "berth-testapp:v1", "VERSION=v1")
			out, errOut, code := a.run("deploy", "worker")
			if code == 0 {
				t.Fatalf("deploy succeeded; want the engine to refuse %s:\n%s%s", tc.name, out, errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("deploy output lacks %q:\n%s", tc.want, errOut)
			}
			if tc.name == "blkio" && !strings.Contains(errOut, "remove them from compose.yaml") {
				t.Errorf("the refusal names no fix:\n%s", errOut)
			}
			if ps := dockerOut(t, "ps", "-q", "--filter", "label=berth.app="+a.name, "--filter", "label=berth.service=worker"); ps != "" {
				t.Errorf("a worker runs although its create was refused: %s", ps)
			}
		})
	}
}

func checkWeb(t *testing.T, a *app, c inspected, extNet string) {
	t.Helper()
	cfg, h := c.Config, c.HostConfig
	eq := fieldEq(t, "web")
	eq("hostname", cfg.Hostname, "web-host")
	eq("domainname", cfg.Domainname, "example.test")
	eq("working_dir", cfg.WorkingDir, "/")
	eq("entrypoint", cfg.Entrypoint, []string{"/app"})
	eq("stop_signal", cfg.StopSignal, "SIGINT")
	eq("stop_grace_period", cfg.StopTimeout, 7)
	eq("ulimits", h.Ulimits, `[{nofile 1024 2048} {nproc 512 512}]`)
	eq("shm_size", h.ShmSize, 64<<20)
	eq("runtime", h.Runtime, "runc")
	eq("group_add", h.GroupAdd, []string{"1234"})
	eq("extra_hosts", h.ExtraHosts, []string{"api.local:10.0.0.1"})
	eq("dns", h.DNS, []string{"10.0.0.53"})
	eq("dns_search", h.DNSSearch, []string{"example.test"})
	eq("dns_opt", h.DNSOptions, []string{"ndots:2"})
	eq("tmpfs", h.Tmpfs, map[string]string{"/cache": "size=1m,mode=1777", "/scratch": "size=2097152"})
	eq("init", h.Init, true)
	eq("logging", h.LogConfig, "{json-file map[max-file:2 max-size:2m]}")
	eq("restart_policy", h.RestartPolicy, "{on-failure 4}")
	eq("limits.memory", h.Memory, 128<<20)
	eq("limits.cpus", h.NanoCPUs, 500000000)
	eq("limits.pids", h.PidsLimit, 64)
	eq("reservations.memory", h.MemoryReservation, 32<<20)
	eq("memswap_limit", h.MemorySwap, 256<<20)
	eq("mem_swappiness", h.MemorySwappiness, 10)
	eq("oom_score_adj", h.OomScoreAdj, 100)
	eq("cpuset", h.CpusetCpus, "0")
	eq("cpu_shares", h.CPUShares, 512)
	eq("device_cgroup_rules", h.DeviceCgroupRules, []string{"c 1:3 mr"})
	if !slices.Contains(h.Binds, filepath.Join(a.dir, "made-by-engine")+":/made") {
		t.Errorf("web binds %v lack the created host path", h.Binds)
	}
	mounts := map[string]string{}
	for _, m := range c.Mounts {
		mounts[m.Destination] = fmt.Sprintf("%s %s rw=%v", m.Type, m.Name+m.Source, m.RW)
	}
	for dst, want := range map[string]string{
		"/data":                   "volume " + a.name + "_data",
		"/ext":                    "volume " + a.name + "-extvol",
		"/etc/app/file.conf":      "bind " + filepath.Join(a.dir, "settings.conf") + " rw=false",
		"/run/secrets/token_file": "bind " + filepath.Join(a.dir, "token.txt") + " rw=false",
	} {
		if !strings.HasPrefix(mounts[dst], want) {
			t.Errorf("web mount at %s: %q; want %q", dst, mounts[dst], want)
		}
	}
	for _, m := range h.Mounts {
		if m.Target == "/data" && (m.VolumeOptions == nil || !m.VolumeOptions.NoCopy) {
			t.Errorf("volume /data: nocopy not set: %+v", m.VolumeOptions)
		}
	}
	for net, alias := range map[string]string{"berth-" + a.name: "web", a.name + "_back": "api", extNet: "web"} {
		if ep := c.NetworkSettings.Networks[net]; ep == nil || !slices.Contains(ep.Aliases, alias) {
			t.Errorf("web on network %s: %+v; want alias %s", net, ep, alias)
		}
	}
}

func checkWorker(t *testing.T, a *app, c inspected) {
	t.Helper()
	h := c.HostConfig
	if h.CPUQuota != 50000 || h.CPUPeriod != 100000 || h.Memory != 64<<20 || h.MemoryReservation != 16<<20 {
		t.Errorf("worker cpu_quota %d cpu_period %d mem_limit %d mem_reservation %d", h.CPUQuota, h.CPUPeriod, h.Memory, h.MemoryReservation)
	}
	if h.OomKillDisable == nil || !*h.OomKillDisable {
		t.Errorf("worker oom_kill_disable not set")
	}
	if !c.Config.Tty || !c.Config.OpenStdin {
		t.Errorf("worker tty %v stdin_open %v", c.Config.Tty, c.Config.OpenStdin)
	}
	if !slices.Equal(h.VolumesFrom, []string{a.name + "-db"}) {
		t.Errorf("worker volumes_from %v; want the db accessory's container", h.VolumesFrom)
	}
	if h.RestartPolicy.Name != "no" {
		t.Errorf("worker restart %q", h.RestartPolicy.Name)
	}
	found := false
	for _, m := range c.Mounts {
		found = found || m.Destination == "/dbdata"
	}
	if !found {
		t.Errorf("worker lacks db's /dbdata volume (volumes_from)")
	}
}

// fieldEq compares a field read back from inspect with what the compose
// file asked for, as text (pointers followed), naming the container.
func fieldEq(t *testing.T, who string) func(what string, got, want any) {
	return func(what string, got, want any) {
		t.Helper()
		if v := reflect.ValueOf(got); v.Kind() == reflect.Pointer && !v.IsNil() {
			got = v.Elem().Interface()
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s %s = %v; want %v", who, what, got, want)
		}
	}
}
