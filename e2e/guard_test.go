package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/testenv"
)

// guardPolicy is the policy the guard enforces in these tests: the
// defaults (enforce from high up), a registry allow-list, and one custom
// CEL rule, so every kind of rule is exercised through a real engine.
const guardPolicy = `mode: enforce
threshold: high
registries: [docker.io/berth-it, registry.internal:5000]
custom:
  - id: no-debug-shell
    severity: high
    violation: spec.env.exists(e, e.name == "DEBUG_SHELL")
    message: opens a debug shell
    fix: remove DEBUG_SHELL
`

// guardProc is a `berth guard` process of the test's own.
type guardProc struct {
	cmd    *exec.Cmd
	name   string
	policy string
	log    string
	done   chan error
}

func startGuardProc(t *testing.T, name, dir string) *guardProc {
	t.Helper()
	g := &guardProc{name: name, policy: filepath.Join(dir, "policy.yaml"), log: filepath.Join(dir, "guard.log")}
	if _, err := os.Stat(g.policy); err != nil {
		write(t, g.policy, guardPolicy)
	}
	g.start(t)
	t.Cleanup(func() { g.stop(t) })
	return g
}

func (g *guardProc) sock() string { return filepath.Join("/run/docker/plugins", g.name+".sock") }

func (g *guardProc) start(t *testing.T) {
	t.Helper()
	g.cmd = exec.Command(testenv.Berth(t), "guard", "-f", g.policy, "--name", g.name, "--log", g.log)
	var stderr bytes.Buffer
	g.cmd.Stderr = &stderr
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g.done = make(chan error, 1)
	go func() { g.done <- g.cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", g.sock()); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-g.done:
			t.Fatalf("berth guard exited: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("berth guard did not listen on %s", g.sock())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (g *guardProc) stop(t *testing.T) {
	if g.cmd == nil || g.cmd.ProcessState != nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
	g.cmd = nil
}

// rawAPI sends one request to an engine's unix socket, as a client that
// does not go through the docker CLI would.
func rawAPI(t *testing.T, sock, method, path, contentType string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://engine"+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := unixClient(sock).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestGuardOnARealEngine starts a second dockerd with
// --authorization-plugin pointing at a `berth guard` of the test's own,
// then tries privilege escalations through the docker CLI and the raw API
// (each must be denied, naming its rule) and least-privilege containers
// (each must be allowed and running).
func TestGuardOnARealEngine(t *testing.T) {
	dir, err := os.MkdirTemp("", "bg-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	name := fmt.Sprintf("berth-it-%d", time.Now().UnixNano()%1_000_000)
	g := startGuardProc(t, name, dir)
	eng := testenv.StartEngine(t, testenv.ExtraEngineOptions{Args: []string{"--authorization-plugin=" + name}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	const image = "berth-it/app:1.0"
	testenv.AppImage(t, eng.Client(t), image)

	// Links and dot-dot paths on the host that lead to / and to /etc.
	linkRoot := filepath.Join(dir, "root-link")
	if err := os.Symlink("/", linkRoot); err != nil {
		t.Fatal(err)
	}
	linkSock := filepath.Join(dir, "sock-link")
	if err := os.Symlink(eng.Socket, linkSock); err != nil {
		t.Fatal(err)
	}
	ownDir := filepath.Join(dir, "static")
	if err := os.Mkdir(ownDir, 0o755); err != nil {
		t.Fatal(err)
	}
	climb := dir + strings.Repeat("/..", strings.Count(dir, "/")) + "/etc"

	docker := func(args ...string) (string, error) { return eng.Docker(ctx, args...) }

	// A locked-down container to exec into.
	locked := "locked"
	if out, err := docker("run", "-d", "--name", locked, "--user", "10001", "--read-only", "--cap-drop", "ALL",
		"--security-opt", "no-new-privileges", "--memory", "64m", "--pids-limit", "64", image); err != nil {
		t.Fatalf("the locked-down container was refused: %v\n%s", err, out)
	}

	type escalation struct {
		name string
		args []string // docker CLI
		rule string
	}
	run := func(extra ...string) []string {
		return append(append([]string{"run", "-d", "--user", "10001"}, extra...), image)
	}
	cli := []escalation{
		{"privileged", run("--privileged"), "privileged"},
		{"cap-add SYS_ADMIN", run("--cap-add", "SYS_ADMIN"), "dangerous-capabilities"},
		{"cap-add ALL", run("--cap-add", "ALL"), "dangerous-capabilities"},
		{"cap-add NET_ADMIN", run("--cap-add", "NET_ADMIN"), "dangerous-capabilities"},
		{"cap-add SYS_PTRACE", run("--cap-add", "SYS_PTRACE"), "dangerous-capabilities"},
		{"cap-add SYS_MODULE", run("--cap-add", "SYS_MODULE"), "dangerous-capabilities"},
		{"cap-add cap_dac_read_search", run("--cap-add", "cap_dac_read_search"), "dangerous-capabilities"},
		{"pid host", run("--pid", "host"), "host-pid"},
		{"network host", run("--network", "host"), "host-network"},
		{"ipc host", run("--ipc", "host"), "host-ipc"},
		{"userns host", run("--userns", "host"), "host-userns"},
		{"docker socket", run("-v", "/var/run/docker.sock:/var/run/docker.sock"), "docker-socket"},
		{"this engine's socket through a symlink", run("-v", linkSock+":/var/run/docker.sock"), "docker-socket"},
		{"host root", run("-v", "/:/host"), "sensitive-mount"},
		{"host root through a symlink", run("-v", linkRoot+":/host:ro"), "sensitive-mount"},
		{"/etc read-only", run("-v", "/etc:/host-etc:ro"), "sensitive-mount"},
		{"/etc/shadow", run("-v", "/etc/shadow:/shadow:ro"), "sensitive-mount"},
		{"/root", run("-v", "/root:/r"), "sensitive-mount"},
		{"/proc", run("--mount", "type=bind,src=/proc,dst=/hostproc"), "sensitive-mount"},
		{"/var/lib/docker", run("--mount", "type=bind,src=/var/lib/docker,dst=/d,readonly"), "sensitive-mount"},
		{"device /dev/mem", run("--device", "/dev/mem"), "devices"},
		{"device /dev/kmsg", run("--device", "/dev/kmsg:/dev/kmsg:r"), "devices"},
		{"seccomp unconfined", run("--security-opt", "seccomp=unconfined"), "seccomp-unconfined"},
		{"apparmor unconfined", run("--security-opt", "apparmor=unconfined"), "apparmor-unconfined"},
		{"custom CEL rule", run("-e", "DEBUG_SHELL=1"), "no-debug-shell"},
		{"image from a registry outside the allow-list", []string{"run", "-d", "--user", "10001", "evil.example.com/miner:1.0"}, "registry-not-allowed"},
		{"pull from a registry outside the allow-list", []string{"pull", "evil.example.com/miner:1.0"}, "registry-not-allowed"},
		{"systempaths unconfined", run("--security-opt", "systempaths=unconfined"), "systempaths-unconfined"},
		{"device cgroup rule for every block device", run("--device-cgroup-rule", "b *:* rwm"), "devices"},
		{"label disable", run("--security-opt", "label=disable"), "selinux-disabled"},
		{"a volume that binds /etc", []string{"volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt", "device=/etc", "etcvol"}, "sensitive-mount"},
		{"mount of a volume that binds /", run("--mount", "type=volume,dst=/h,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/"), "sensitive-mount"},
		{"privileged exec", []string{"exec", "--privileged", locked, "/app", "health"}, "privileged"},
		{"exec as root into a locked-down container", []string{"exec", "--user", "root", locked, "/app", "health"}, "root-user"},
		{"exec as uid 0", []string{"exec", "--user", "0:0", locked, "/app", "health"}, "root-user"},
	}
	denied := 0
	for _, e := range cli {
		out, err := docker(e.args...)
		if err == nil {
			t.Errorf("CLI %s: allowed\n%s", e.name, out)
			continue
		}
		if !strings.Contains(out, "authorization denied by plugin "+name) || !strings.Contains(out, "rule "+e.rule) {
			t.Errorf("CLI %s: want a denial naming rule %s, got: %s", e.name, e.rule, out)
			continue
		}
		denied++
	}

	// The raw API: bodies no docker CLI would write.
	type rawCase struct {
		name, path, ctype string
		body              []byte
		rule              string // "" for a denial that names no rule (body unreadable)
		want              string
	}
	js := func(s string) []byte { return []byte(s) }
	big := fmt.Sprintf(`{"Image":%q,"User":"1","Env":["PAD=%s"],"HostConfig":{"Privileged":true}}`, image, strings.Repeat("x", 1100<<10))
	raw := []rawCase{
		{"privileged", "/v1.41/containers/create", "application/json", js(`{"Image":"` + image + `","User":"1","HostConfig":{"Privileged":true}}`), "privileged", ""},
		{"cap_sys_admin in lower case with prefix", "/v1.41/containers/create", "application/json", js(`{"Image":"` + image + `","User":"1","HostConfig":{"CapAdd":["cap_sys_admin"]}}`), "dangerous-capabilities", ""},
		{"/etc by climbing with ..", "/v1.41/containers/create", "application/json", js(`{"Image":"` + image + `","User":"1","HostConfig":{"Binds":["` + climb + `:/e:ro"]}}`), "sensitive-mount", ""},
		{"host root as a Mounts entry", "/v1.41/containers/create", "application/json", js(`{"Image":"` + image + `","User":"1","HostConfig":{"Mounts":[{"Type":"bind","Source":"/","Target":"/host","ReadOnly":true}]}}`), "sensitive-mount", ""},
		{"pid host", "/v1.41/containers/create", "application/json", js(`{"Image":"` + image + `","User":"1","HostConfig":{"PidMode":"host"}}`), "host-pid", ""},
		{"device", "/v1.41/containers/create", "application/json", js(`{"Image":"` + image + `","User":"1","HostConfig":{"Devices":[{"PathOnHost":"/dev/sda","PathInContainer":"/dev/sda","CgroupPermissions":"rwm"}]}}`), "devices", ""},
		{"version with a patch number", "/v1.41.0/containers/create", "application/json", js(`{"Image":"` + image + `","User":"1","HostConfig":{"Privileged":true}}`), "privileged", ""},
		{"host settings at the top level of the body", "/v1.41/containers/create", "application/json", js(`{"Image":"` + image + `","User":"1","Privileged":true,"Binds":["/etc:/h"]}`), "privileged", ""},
		{"start with a host config at API 1.23", "/v1.23/containers/" + locked + "/start", "application/json", js(`{"Privileged":true}`), "", "before 1.24"},
		{"unversioned path", "/containers/create", "application/json", js(`{"Image":"` + image + `","User":"1","HostConfig":{"Privileged":true}}`), "privileged", ""},
		{"body over the 1 MiB forwarding limit", "/v1.41/containers/create", "application/json", []byte(big), "", "not visible"},
		// The engine forwards only JSON bodies: this one arrives empty.
		{"body sent as text/plain", "/v1.41/containers/create", "text/plain", js(`{"Image":"` + image + `","HostConfig":{"Privileged":true}}`), "", "not visible"},
		{"truncated body", "/v1.41/containers/create", "application/json", js(`{"Image":"` + image + `","HostConfig":{"Privileged":tr`), "", "cannot be read"},
		{"privileged exec", "/v1.41/containers/" + locked + "/exec", "application/json", js(`{"Privileged":true,"Cmd":["/app","health"]}`), "privileged", ""},
		{"plugin with all devices", "/v1.41/plugins/pull?remote=evil.example.com/p:1&name=p", "application/json", js(`[{"Name":"allow-all-devices","Value":["true"]}]`), "privileged", ""},
		{"plugin with host network and /", "/v1.41/plugins/pull?remote=evil.example.com/p:1", "application/json", js(`[{"Name":"network","Value":["host"]},{"Name":"mount","Value":["/"]}]`), "host-network", ""},
	}
	for _, r := range raw {
		code, body := rawAPI(t, eng.Socket, "POST", r.path, r.ctype, r.body)
		want := r.want
		if r.rule != "" {
			want = "rule " + r.rule
		}
		if code != http.StatusForbidden || !strings.Contains(body, "authorization denied by plugin") || !strings.Contains(body, want) {
			t.Errorf("raw %s: HTTP %d %s; want 403 naming %q", r.name, code, body, want)
			continue
		}
		denied++
	}

	// Services: the same rules through a swarm service spec.
	if out, err := docker("swarm", "init", "--advertise-addr", eng.Addr); err != nil {
		t.Fatalf("swarm init: %v\n%s", err, out)
	}
	services := []escalation{
		{"service with SYS_ADMIN", []string{"service", "create", "--detach", "--no-resolve-image", "--name", "s1", "--user", "10001", "--cap-add", "SYS_ADMIN", image}, "dangerous-capabilities"},
		{"service binding /", []string{"service", "create", "--detach", "--no-resolve-image", "--name", "s2", "--user", "10001", "--mount", "type=bind,src=/,dst=/host", image}, "sensitive-mount"},
		{"service with the docker socket", []string{"service", "create", "--detach", "--no-resolve-image", "--name", "s3", "--user", "10001", "--mount", "type=bind,src=/var/run/docker.sock,dst=/var/run/docker.sock", image}, "docker-socket"},
	}
	for _, e := range services {
		out, err := docker(e.args...)
		if err == nil || !strings.Contains(out, "rule "+e.rule) {
			t.Errorf("%s: want a denial naming rule %s, got err=%v: %s", e.name, e.rule, err, out)
			continue
		}
		denied++
	}
	if out, err := docker("service", "create", "--detach", "--no-resolve-image", "--name", "ok-svc", "--user", "10001", "--read-only", "--limit-memory", "64m", image); err != nil {
		t.Errorf("a least-privilege service was refused: %v\n%s", err, out)
	}
	if out, err := docker("service", "update", "--detach", "--no-resolve-image", "--cap-add", "SYS_ADMIN", "ok-svc"); err == nil || !strings.Contains(out, "rule dangerous-capabilities") {
		t.Errorf("service update adding SYS_ADMIN: err=%v %s", err, out)
	} else {
		denied++
	}
	_, _ = docker("service", "rm", "ok-svc")
	if out, err := docker("swarm", "leave", "--force"); err != nil {
		t.Logf("swarm leave: %v %s", err, out)
	}
	if denied < 30 {
		t.Errorf("%d escalations denied; the corpus must have at least 30", denied)
	}
	t.Logf("%d escalation attempts denied, each naming its rule (or, for an unreadable body, why)", denied)

	// The legitimate corpus: allowed, and running.
	port := testenv.FreePort(t)
	legit := map[string][]string{
		"plain (root, warned not blocked)": {"run", "-d", image},
		"hardened":                         {"run", "-d", "--user", "10001", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--memory", "64m", "--cpus", "0.5", "--pids-limit", "64", image},
		"named volume":                     {"run", "-d", "--user", "10001", "-v", "appdata:/data", image},
		"own directory read-only":          {"run", "-d", "--user", "10001", "-v", ownDir + ":/static:ro", image},
		"localtime read-only":              {"run", "-d", "--user", "10001", "-v", "/etc/localtime:/etc/localtime:ro", image},
		"port on loopback":                 {"run", "-d", "--user", "10001", "-p", fmt.Sprintf("127.0.0.1:%d:8080", port), image},
		"NET_BIND_SERVICE":                 {"run", "-d", "--user", "10001", "--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE", image},
		"tmpfs":                            {"run", "-d", "--user", "10001", "--read-only", "--tmpfs", "/tmp", image},
		"healthcheck and log rotation":     {"run", "-d", "--user", "10001", "--health-cmd", "/app health", "--log-opt", "max-size=1m", image},
		"allowed registry name":            {"run", "-d", "--user", "10001", "--restart", "on-failure:3", image},
		// A request cannot say where a value came from (a committed file or
		// the environment), so a secret in it warns, as a deploy's
		// ${DB_PASSWORD} does; the decision line names the rule.
		"secret from the environment (warned)": {"run", "-d", "--user", "10001", "-e", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY", image},
		"uts host (warned)":                    {"run", "-d", "--user", "10001", "--uts", "host", image},
	}
	for name, args := range legit {
		out, err := docker(args...)
		if err != nil {
			t.Errorf("legitimate %s: refused: %v\n%s", name, err, out)
			continue
		}
		id := strings.TrimSpace(lastLine(out))
		state, err := docker("inspect", "-f", "{{.State.Running}}", id)
		if err != nil || strings.TrimSpace(state) != "true" {
			t.Errorf("legitimate %s: allowed but not running: %s %v", name, state, err)
		}
	}
	code, body := rawAPI(t, eng.Socket, "POST", "/v1.41/containers/create?name=raw-ok", "application/json",
		js(`{"Image":"`+image+`","User":"10001","HostConfig":{"CapDrop":["ALL"],"ReadonlyRootfs":true,"SecurityOpt":["no-new-privileges"]}}`))
	if code != http.StatusCreated {
		t.Errorf("raw least-privilege create: HTTP %d %s", code, body)
	} else if code, body := rawAPI(t, eng.Socket, "POST", "/v1.41/containers/raw-ok/start", "", nil); code != http.StatusNoContent {
		t.Errorf("raw start: HTTP %d %s", code, body)
	}
	if out, err := docker("exec", locked, "/app", "health"); err != nil {
		t.Errorf("exec as the container's own user: %v %s", err, out)
	}

	// Every decision is a JSON line: who, what, verdict, and the rules that
	// fired, allowed or denied, never null.
	decisions := readDecisions(t, g.log)
	var sawDeny, sawAllow bool
	warned := map[string]bool{}
	for _, d := range decisions {
		if d["msg"] != "authz" {
			continue
		}
		rules, ok := d["rules"].([]any)
		if !ok {
			t.Errorf("decision without a list of rules: %v", d)
			continue
		}
		if d["allow"] == false && len(rules) > 0 {
			sawDeny = true
		}
		if d["allow"] == true && d["action"] == "container-create" {
			sawAllow = true
			for _, r := range rules {
				warned[fmt.Sprint(r)] = true
			}
		}
	}
	if !sawDeny || !sawAllow || !warned["secret-in-env"] || !warned["host-uts"] {
		t.Errorf("decision log lacks a denial with rules, or an allowed create naming secret-in-env and host-uts (%d lines; allowed with %v)", len(decisions), warned)
	}

	// SIGHUP: a new rule applies without restarting the guard.
	write(t, g.policy, guardPolicy+`  - id: no-forbidden-label
    severity: critical
    violation: spec.labels.exists(k, k == "forbidden")
    message: carries the forbidden label
    fix: remove the label
`)
	if err := g.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, g.log, "policy reloaded")
	if out, err := docker(run("--label", "forbidden=1")...); err == nil || !strings.Contains(out, "rule no-forbidden-label") {
		t.Errorf("after reload: err=%v %s", err, out)
	}

	// The guard down: the engine refuses every request (that is why
	// docs/guard.md tells how to recover), and the guard back: it works.
	g.stop(t)
	if out, err := docker(run()...); err == nil {
		t.Errorf("with the guard down a container was created: %s", out)
	} else {
		t.Logf("guard down, engine says: %s", strings.SplitN(strings.TrimSpace(out), "\n", 2)[0])
	}
	g.start(t)
	if out, err := docker(run()...); err != nil {
		t.Errorf("guard back, a plain container was refused: %v %s", err, out)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func readDecisions(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("decision log line is not JSON: %s", sc.Text())
			continue
		}
		out = append(out, m)
	}
	return out
}

func waitLog(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(path); strings.Contains(string(b), want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never logged %q", path, want)
}
