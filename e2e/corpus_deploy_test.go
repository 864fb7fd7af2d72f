package e2e

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/testenv"
)

// TestCorpusDeploy deploys projects of testdata/projects (the corpus
// TestCorpusGolden validates) on the real engine and checks, from docker
// inspect and from real traffic, that the keys berth says it honours took
// effect. No image can be pulled here, so every image a project names is the
// test app imported under that exact name, with the environment that makes
// it listen where the project expects (PORT for HTTP, ECHO_PORT for TCP and
// UDP echo). Each project is deployed from a copy in a temporary directory;
// the copy differs from the corpus only where a test must (a free proxy
// port and free host ports, so the test never collides with this host's
// services), and each adaptation says why.
func TestCorpusDeploy(t *testing.T) {
	t.Run("dns-server", corpusDNSServer)
	t.Run("game-server", corpusGameServer)
	t.Run("logging-restart", corpusLoggingRestart)
	t.Run("override-dev-prod", corpusOverrideDevProd)
	t.Run("env-interpolation", corpusEnvInterpolation)
}

// corpusDNSServer: a worker publishing 53/udp and 53/tcp through its
// forwarder, a bind-mounted read-only file and capabilities; a routed UI
// behind berth-proxy that also publishes a TCP port on loopback.
func corpusDNSServer(t *testing.T) {
	dnsPort, uiPort := testenv.FreePort(t), testenv.FreePort(t)
	a := corpusProject(t, "dns-server", "dns.example.com", map[string][]string{
		"coredns/coredns:1.11.3": {"VERSION=coredns", "ECHO_PORT=53"},
		"example/dns-ui:1.2.0":   {"VERSION=ui", "ECHO_PORT=9153"},
	}, map[string][][2]string{
		// Host port 53 may be this host's resolver; the copy publishes the
		// same container ports on a free host port (TCP and UDP alike, as
		// in the project).
		"compose.yaml": {
			{`"53:53/udp"`, fmt.Sprintf(`"%d:53/udp"`, dnsPort)},
			{`"53:53/tcp"`, fmt.Sprintf(`"%d:53/tcp"`, dnsPort)},
			{`"127.0.0.1:9153:9153"`, fmt.Sprintf(`"127.0.0.1:%d:9153"`, uiPort)},
		},
	})
	a.mustRun("deploy")
	a.waitServing("ui", 15*time.Second)

	dnsAddr := fmt.Sprintf("127.0.0.1:%d", dnsPort)
	if got, err := echoTCP(dnsAddr, "q"); err != nil || got != "coredns q" {
		t.Errorf("53/tcp through the forwarder: %q %v", got, err)
	}
	udp, err := net.Dial("udp", dnsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	if got := echoUDP(t, udp, "q"); got != "coredns q" {
		t.Errorf("53/udp through the forwarder: %q", got)
	}
	if got, err := echoTCP(fmt.Sprintf("127.0.0.1:%d", uiPort), "m"); err != nil || got != "ui m" {
		t.Errorf("the routed ui's 9153 on loopback: %q %v", got, err)
	}

	dns := serviceContainer(t, a, "coredns", "app")
	// The engine writes capabilities with their CAP_ prefix.
	if got := inspectField(t, dns, "{{json .HostConfig.CapDrop}} {{json .HostConfig.CapAdd}}"); got != `["ALL"] ["CAP_NET_BIND_SERVICE"]` {
		t.Errorf("coredns cap_drop, cap_add: %s", got)
	}
	c := inspectContainer(t, dns)
	found := false
	for _, m := range c.Mounts {
		if m.Destination == "/etc/coredns/Corefile" {
			found = true
			if m.Type != "bind" || m.RW || m.Source != filepath.Join(a.dir, "Corefile") {
				t.Errorf("the Corefile mount: %+v; want a read-only bind of %s", m, filepath.Join(a.dir, "Corefile"))
			}
		}
	}
	if !found {
		t.Errorf("coredns has no Corefile mount: %+v", c.Mounts)
	}
	if h := fileHeader(t, dns, "/etc/coredns/Corefile"); h.Size == 0 {
		t.Errorf("the Corefile in the container is empty")
	}
}

// corpusGameServer: an accessory publishing a TCP and a UDP port itself,
// with a named volume, environment, a TTY and open stdin.
func corpusGameServer(t *testing.T) {
	tcpPort, udpPort := testenv.FreePort(t), testenv.FreePort(t)
	a := corpusProject(t, "game-server", "", map[string][]string{
		// HTTP on the game port stands for the game's TCP protocol; the
		// bedrock port echoes UDP.
		"example/minecraft-server:2024.10.0": {"VERSION=mc", "PORT=25565", "ECHO_PORT=19132"},
	}, map[string][][2]string{
		// Free host ports instead of 25565 and 19132, which this host may use.
		"compose.yaml": {
			{`"25565:25565"`, fmt.Sprintf(`"%d:25565"`, tcpPort)},
			{`"19132:19132/udp"`, fmt.Sprintf(`"%d:19132/udp"`, udpPort)},
		},
	})
	a.mustRun("deploy")

	resp, err := httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d/", tcpPort))
	if err != nil {
		t.Fatalf("the accessory's TCP port: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the accessory's TCP port answered %d", resp.StatusCode)
	}
	udp, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", udpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	if got := echoUDP(t, udp, "ping"); got != "mc ping" {
		t.Errorf("the accessory's UDP port: %q", got)
	}

	name := serviceContainer(t, a, "server", "accessory")
	c := inspectContainer(t, name)
	if !c.Config.Tty || !c.Config.OpenStdin {
		t.Errorf("tty %v, stdin_open %v; want both", c.Config.Tty, c.Config.OpenStdin)
	}
	for _, want := range []string{"EULA=TRUE", "MEMORY=2G"} {
		if !contains(c.Config.Env, want) {
			t.Errorf("environment lacks %s: %v", want, c.Config.Env)
		}
	}
	vol := ""
	for _, m := range c.Mounts {
		if m.Destination == "/data" && m.Type == "volume" && m.RW {
			vol = m.Name
		}
	}
	if vol != a.name+"_world" {
		t.Fatalf("/data is not the writable named volume %s_world: %+v", a.name, c.Mounts)
	}
	// --volumes takes the named volume away with the app.
	a.mustRun("remove", "--yes", "--volumes")
	if err := exec.Command("docker", "volume", "inspect", vol).Run(); err == nil {
		t.Errorf("volume %s still exists after berth remove --volumes", vol)
	}
}

// corpusLoggingRestart: a worker whose restart, stop, logging, resource and
// name-resolution keys are all read back from docker inspect.
func corpusLoggingRestart(t *testing.T) {
	a := corpusProject(t, "logging-restart", "", map[string][]string{
		"example/jobs:2.2.0": {"VERSION=jobs"},
	}, nil)
	a.mustRun("deploy")

	name := serviceContainer(t, a, "scheduler", "app")
	c := inspectContainer(t, name)
	cfg, h := c.Config, c.HostConfig
	eq := fieldEq(t, "scheduler")
	// deploy.restart_policy wins over restart:, as in docker compose.
	eq("restart_policy", h.RestartPolicy, "{on-failure 3}")
	eq("stop_signal", cfg.StopSignal, "SIGINT")
	eq("stop_grace_period", cfg.StopTimeout, 45)
	eq("logging", h.LogConfig, "{local map[max-size:20m]}")
	eq("limits.memory", h.Memory, 128<<20)
	eq("limits.pids", h.PidsLimit, 100)
	eq("reservations.memory", h.MemoryReservation, 64<<20)
	eq("oom_score_adj", h.OomScoreAdj, 200)
	eq("cpu_shares", h.CPUShares, 512)
	eq("hostname", cfg.Hostname, "scheduler-1")
	eq("working_dir", cfg.WorkingDir, "/srv")
	eq("group_add", h.GroupAdd, []string{"998"})
	eq("dns", h.DNS, []string{"10.0.0.2"})
	eq("dns_search", h.DNSSearch, []string{"corp.example.com"})
	eq("extra_hosts", h.ExtraHosts, []string{"metadata:169.254.169.254"})
	if got := inspectField(t, name, "{{.State.Running}}"); got != "true" {
		t.Errorf("the scheduler is not running: %s", got)
	}
}

// corpusOverrideDevProd: compose.override.yaml is read next to compose.yaml
// and merged into it; the routed app answers through berth-proxy with the
// merged environment.
func corpusOverrideDevProd(t *testing.T) {
	a := corpusProject(t, "override-dev-prod", "tracker.example.com", map[string][]string{
		"ghcr.io/example/tracker:1.4.2": {"VERSION=tracker"},
	}, map[string][][2]string{
		// The test app's health command is `app health`; the project's
		// `app healthcheck` would start a second server and fail.
		"compose.override.yaml": {{`"/app", "healthcheck"`, `"/app", "health"`}},
	})
	a.mustRun("deploy")
	a.waitServing("tracker", 30*time.Second)

	if got := body(t, a, "/env?k=APP_ENV"); got != "production" {
		t.Errorf("APP_ENV (compose.yaml) = %q", got)
	}
	if got := body(t, a, "/env?k=APP_DEBUG"); got != "false" {
		t.Errorf("APP_DEBUG (compose.override.yaml) = %q", got)
	}
	name := serviceContainer(t, a, "app", "app")
	got := inspectField(t, name, `{{index .Config.Labels "com.example.override"}} {{.HostConfig.ReadonlyRootfs}} {{json .Config.Healthcheck.Test}} {{.Config.Healthcheck.Interval}}`)
	if want := `true true ["CMD","/app","health"] 10s`; got != want {
		t.Errorf("label, read_only, healthcheck: %s; want %s", got, want)
	}
	// The engine runs the override's healthcheck: its first run comes one
	// interval (10s) after the start.
	health := ""
	for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if health = inspectField(t, name, "{{.State.Health.Status}}"); health != "starting" {
			break
		}
	}
	if health != "healthy" {
		t.Errorf("the override's healthcheck left the container %s; want healthy", health)
	}
	if c := inspectContainer(t, name); !reflect.DeepEqual(mapKeys(c.HostConfig.Tmpfs), []string{"/tmp"}) {
		t.Errorf("tmpfs = %v; want /tmp", c.HostConfig.Tmpfs)
	}
}

// corpusEnvInterpolation: .env sets the image tag; defaults fill the rest.
// Only example/interp:1.2.3 exists, so the deploy itself shows .env was read.
func corpusEnvInterpolation(t *testing.T) {
	a := corpusProject(t, "env-interpolation", "interp.example.com", map[string][]string{
		"example/interp:1.2.3": {"VERSION=interp"},
	}, nil)
	a.mustRun("deploy")
	a.waitServing("interp", 15*time.Second)

	if got := body(t, a, "/env?k=REGION"); got != "eu-west-1" {
		t.Errorf("REGION = %q; want the default eu-west-1", got)
	}
	name := serviceContainer(t, a, "web", "app")
	if got := inspectField(t, name, "{{.Config.Image}} {{.HostConfig.Memory}}"); got != fmt.Sprintf("example/interp:1.2.3 %d", 512<<20) {
		t.Errorf("image, mem_limit: %s", got)
	}
}

// corpusProject copies testdata/projects/<project> into a temporary
// directory, applies the edits (each must match), points berth-proxy at a
// free port and imports the test app under each image name. Everything is
// removed at the end of the test: the app with its volumes, then the images.
func corpusProject(t *testing.T, project, host string, images map[string][]string, edits map[string][][2]string) *app {
	t.Helper()
	eng := testenv.Engine(t)
	dir := t.TempDir()
	src := filepath.Join("testdata", "projects", project)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		if rel == "want.txt" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for file, pairs := range edits {
		p := filepath.Join(dir, file)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, e := range pairs {
			if !strings.Contains(s, e[0]) {
				t.Fatalf("%s/%s no longer contains %s: update the test's adaptation", project, file, e[0])
			}
			s = strings.Replace(s, e[0], e[1], 1)
		}
		write(t, p, s)
	}
	berthYAML, err := os.ReadFile(filepath.Join(dir, "berth.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(berthYAML), "\n")
	name, ok := strings.CutPrefix(first, "app: ")
	if !ok {
		t.Fatalf("%s/berth.yaml does not start with app:", project)
	}
	port := testenv.FreePort(t)
	// The proxy listens on a free loopback port, not on 80 and 443.
	write(t, filepath.Join(dir, "berth.yaml"), fmt.Sprintf("%sproxy:\n  http: 127.0.0.1:%d\n", berthYAML, port))

	for ref, env := range images {
		t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "-f", ref).Run() })
		testenv.AppImage(t, eng, ref, env...)
	}
	a := &app{t: t, name: strings.TrimSpace(name), dir: dir, port: port, host: host, berth: testenv.Berth(t), eng: eng, ownProxy: true}
	t.Cleanup(func() {
		if out, errOut, code := a.run("remove", "--yes", "--volumes"); code != 0 && !strings.Contains(errOut+out, "nothing") {
			t.Logf("cleanup: berth remove exit %d: %s %s", code, out, errOut)
		}
	})
	return a
}

// serviceContainer is the one container of the app's service in role
// (app or accessory).
func serviceContainer(t *testing.T, a *app, service, role string) string {
	t.Helper()
	out := dockerOut(t, "ps", "-a", "--filter", "label=berth.app="+a.name, "--filter", "label=berth.service="+service,
		"--filter", "label=berth.role="+role, "--format", "{{.Names}}")
	names := strings.Fields(out)
	if len(names) != 1 {
		t.Fatalf("containers of %s/%s (%s): %v; want one", a.name, service, role, names)
	}
	return names[0]
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func mapKeys(m map[string]string) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
