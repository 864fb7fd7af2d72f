package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/berthhq/berth/internal/policy"
)

// hostFixture lays out a fake host below a temp dir: files with the modes
// and owners a test gives them.
type hostFixture struct {
	t    *testing.T
	root string
}

const (
	uidAlice = 1000
	gidAlice = 1000
	gidAdm   = 4
	gidDock  = 999
)

func newHostFixture(t *testing.T) *hostFixture {
	t.Helper()
	h := &hostFixture{t: t, root: t.TempDir()}
	me, mg := os.Geteuid(), os.Getegid() // who owns these matters to no check
	h.file("/etc/passwd", 0o644, me, mg, "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/bash\ncarol:x:1002:999::/home/carol:/bin/bash\n")
	h.file("/etc/group", 0o644, me, mg, "root:x:0:\nadm:x:4:\nalice:x:1000:\nbob:x:1001:\ndocker:x:999:alice,bob\n")
	return h
}

// needRoot skips a test that gives files owners other than the caller.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("gives files other owners: needs to run as root")
	}
}

func (h *hostFixture) path(p string) string { return filepath.Join(h.root, p) }

func (h *hostFixture) own(p string, mode fs.FileMode, uid, gid int) {
	h.t.Helper()
	if err := os.Lchown(h.path(p), uid, gid); err != nil {
		h.t.Fatalf("chown %s: %v", p, err)
	}
	if err := os.Chmod(h.path(p), mode); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hostFixture) file(p string, mode fs.FileMode, uid, gid int, content string) {
	h.t.Helper()
	if err := os.MkdirAll(filepath.Dir(h.path(p)), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(h.path(p), []byte(content), 0o600); err != nil {
		h.t.Fatal(err)
	}
	h.own(p, mode, uid, gid)
}

func (h *hostFixture) dir(p string, mode fs.FileMode, uid, gid int) {
	h.t.Helper()
	if err := os.MkdirAll(h.path(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	h.own(p, mode, uid, gid)
}

func (h *hostFixture) socket(p string, mode fs.FileMode, uid, gid int) {
	h.t.Helper()
	if err := os.MkdirAll(filepath.Dir(h.path(p)), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := syscall.Mknod(h.path(p), syscall.S_IFSOCK|0o600, 0); err != nil {
		h.t.Fatalf("mknod %s: %v", p, err)
	}
	h.own(p, mode, uid, gid)
}

func (h *hostFixture) symlink(target, p string) {
	h.t.Helper()
	if err := os.MkdirAll(filepath.Dir(h.path(p)), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Symlink(target, h.path(p)); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hostFixture) facts() HostFacts {
	return HostFacts{Host: "h1", Local: true, Root: h.root, DataRoot: "/var/lib/docker", Socket: "/var/run/docker.sock"}
}

// audit runs the host checks with the free space a test chooses.
func (h *hostFixture) audit(space hostSpace) []Result {
	e := newHostEnv(h.facts())
	e.statfs = func(string) (hostSpace, error) { return space, nil }
	return e.audit()
}

func byID(rs []Result) map[string]Result {
	out := map[string]Result{}
	for _, r := range rs {
		out[r.ID] = r
	}
	return out
}

// wantStatuses compares every check's status, listing each difference with
// what the check saw.
func wantStatuses(t *testing.T, rs []Result, want map[string]Status) {
	t.Helper()
	got := byID(rs)
	var diffs []string
	for id, st := range want {
		r, ok := got[id]
		switch {
		case !ok:
			diffs = append(diffs, id+": no result")
		case r.Status != st:
			diffs = append(diffs, fmt.Sprintf("%s: %s, want %s (evidence %q, reason %q)", id, r.Status, st, r.Evidence, r.Reason))
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: %s not expected by the test", id, got[id].Status))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("statuses differ:\n%s", strings.Join(diffs, "\n"))
	}
}

var plentyOfSpace = hostSpace{total: 100 * hostGiB, avail: 60 * hostGiB, files: 1000, ffree: 900}

// saneHost is a host set up as the benchmark asks, with some modes
// stricter than it asks: nothing may fail.
func saneHost(t *testing.T) *hostFixture {
	h := newHostFixture(t)
	h.dir("/etc/docker", 0o755, 0, 0)
	h.file("/etc/docker/daemon.json", 0o600, 0, 0, `{
  "log-driver": "local",
  "no-new-privileges": true,
  "userland-proxy": false,
  "live-restore": true,
  "metrics-addr": "127.0.0.1:9323",
  "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"],
  "tlsverify": true,
  "tlscacert": "/etc/docker/tls/ca.pem",
  "tlscert": "/etc/docker/tls/cert.pem",
  "tlskey": "/etc/docker/tls/key.pem",
  "insecure-registries": ["127.0.0.1:5000"]
}
`)
	h.file("/etc/docker/tls/ca.pem", 0o444, 0, 0, "ca")
	h.file("/etc/docker/tls/cert.pem", 0o644, 0, 0, "cert")
	h.file("/etc/docker/tls/key.pem", 0o400, 0, 0, "key")
	h.file("/etc/docker/certs.d/registry.example.com:5000/ca.crt", 0o444, 0, 0, "ca")
	h.file("/etc/docker/certs.d/registry.example.com:5000/client.cert", 0o644, 0, 0, "cert")
	h.file("/etc/docker/certs.d/registry.example.com:5000/client.key", 0o600, 0, 0, "key")
	h.file("/lib/systemd/system/docker.service", 0o644, 0, 0,
		"[Unit]\nDescription=Docker\n\n[Service]\nType=notify\nExecStart=/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock\n")
	h.file("/lib/systemd/system/docker.socket", 0o444, 0, 0, "[Socket]\nListenStream=/run/docker.sock\nSocketMode=0660\nSocketGroup=docker\n")
	// "hosts" in daemon.json needs the unit's -H gone: the usual drop-in.
	h.file("/etc/systemd/system/docker.service.d/override.conf", 0o644, 0, 0, "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd \\\n  --containerd=/run/containerd/containerd.sock\n")
	for _, b := range []string{"dockerd", "containerd", "containerd-shim-runc-v2", "runc"} {
		h.file("/usr/bin/"+b, 0o755, 0, 0, "")
	}
	h.dir("/run/containerd", 0o711, 0, 0)
	h.socket("/run/containerd/containerd.sock", 0o660, 0, 0)
	h.symlink("/run", "/var/run") // absolute, as on a real host: resolved inside the fake root
	h.socket("/run/docker.sock", 0o660, 0, gidDock)
	h.dir("/var/lib/docker", 0o710, 0, 0)
	var rules strings.Builder
	for _, p := range []string{"/usr/bin/dockerd", "/run/containerd", "/var/lib/docker", "/etc/docker", "/lib/systemd/system/docker.service",
		"/lib/systemd/system/docker.socket", "/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2"} {
		fmt.Fprintf(&rules, "-w %s -p wa -k docker\n", p)
	}
	rules.WriteString("-a always,exit -F path=/bin/runc -F perm=x -k docker\n") // merged /usr: /bin/runc is /usr/bin/runc
	h.file("/etc/audit/rules.d/docker.rules", 0o640, 0, 0, rules.String())
	return h
}

func TestHostSane(t *testing.T) {
	needRoot(t)
	h := saneHost(t)
	rs := h.audit(plentyOfSpace)
	wantStatuses(t, rs, map[string]Status{
		"host-data-root-partition":      Warn, // the fake host's data root shares its /
		"host-data-root-space":          Pass,
		"host-docker-group":             Info,
		"host-audit-rules":              Pass,
		"host-daemon-json":              Pass,
		"host-log-rotation":             Pass,
		"host-no-new-privileges":        Pass,
		"host-userland-proxy":           Pass,
		"host-metrics-addr":             Pass,
		"host-tcp-tls":                  Pass,
		"host-insecure-registries":      Pass,
		"host-docker-service-owner":     Pass,
		"host-docker-service-mode":      Pass,
		"host-docker-socket-unit-owner": Pass,
		"host-docker-socket-unit-mode":  Pass,
		"host-etc-docker-owner":         Pass,
		"host-etc-docker-mode":          Pass,
		"host-registry-certs-owner":     Pass,
		"host-registry-certs-mode":      Pass,
		"host-tls-ca-owner":             Pass,
		"host-tls-ca-mode":              Pass,
		"host-tls-cert-owner":           Pass,
		"host-tls-cert-mode":            Pass,
		"host-tls-key-owner":            Pass,
		"host-tls-key-mode":             Pass,
		"host-docker-socket-owner":      Pass,
		"host-docker-socket-mode":       Pass,
		"host-daemon-json-owner":        Pass,
		"host-daemon-json-mode":         Pass,
		"host-default-docker-owner":     Info,
		"host-default-docker-mode":      Info,
		"host-sysconfig-docker-mode":    Info,
		"host-sysconfig-docker-owner":   Info,
		"host-containerd-socket-owner":  Pass,
		"host-containerd-socket-mode":   Pass,
	})
	got := byID(rs)
	for id, want := range map[string]string{
		"host-docker-group":        "the docker group (gid 999): alice, bob, carol (primary group)",
		"host-docker-socket-mode":  "/var/run/docker.sock (-> /run/docker.sock): mode 0660 owner root:docker",
		"host-daemon-json-mode":    "/etc/docker/daemon.json: mode 0600 owner root:root", // stricter than 644 passes
		"host-tls-key-mode":        "mode 0400",
		"host-registry-certs-mode": "3 files below /etc/docker/certs.d",
		"host-default-docker-mode": "/etc/default/docker is not present",
		"host-tcp-tls":             "tcp://0.0.0.0:2376 (/etc/docker/daemon.json hosts) with tlsverify",
	} {
		if !strings.Contains(got[id].Evidence, want) {
			t.Errorf("%s: evidence %q, want it to contain %q", id, got[id].Evidence, want)
		}
	}
	for _, r := range rs {
		if r.Host != "h1" || r.Area != AreaHost {
			t.Errorf("%s: host %q area %q", r.ID, r.Host, r.Area)
		}
	}
}

// badHost gets every check's failure.
func TestHostBad(t *testing.T) {
	needRoot(t)
	h := newHostFixture(t)
	h.dir("/etc/docker", 0o777, uidAlice, gidAlice)
	h.file("/etc/docker/daemon.json", 0o666, uidAlice, gidAlice, `{
  "log-driver": "json-file",
  "no-new-privileges": false,
  "metrics-addr": "0.0.0.0:9323",
  "hosts": ["tcp://0.0.0.0:2375"],
  "tls": true,
  "tlscacert": "/etc/docker/ca.pem",
  "tlscert": "/etc/docker/cert.pem",
  "tlskey": "/etc/docker/key.pem",
  "insecure-registries": ["localhost:5000", "10.0.0.5:5000"]
}`)
	h.file("/etc/docker/ca.pem", 0o666, uidAlice, 0, "ca") // cert.pem is missing
	h.file("/etc/docker/key.pem", 0o640, 0, gidAdm, "key")
	h.file("/etc/docker/certs.d/r.example.com/ca.crt", 0o666, uidAlice, 0, "ca")
	h.file("/usr/lib/systemd/system/docker.service", 0o666, uidAlice, 0,
		"[Service]\nEnvironmentFile=-/etc/default/docker\nExecStart=/usr/bin/dockerd --containerd=/run/containerd/containerd.sock $DOCKER_OPTS\n")
	h.file("/usr/lib/systemd/system/docker.socket", 0o664, 0, gidAlice, "[Socket]\n")
	h.file("/etc/default/docker", 0o666, uidAlice, 0, `DOCKER_OPTS="--userland-proxy=true --log-driver=json-file"`+"\n")
	h.file("/etc/sysconfig/docker", 0o646, uidAlice, 0, "OPTIONS='-H tcp://0.0.0.0:2375 --insecure-registry 10.1.1.1:5000'\n")
	h.socket("/var/run/docker.sock", 0o666, 0, gidAlice)
	h.socket("/run/containerd/containerd.sock", 0o666, uidAlice, 0)
	h.file("/usr/bin/dockerd", 0o755, 0, 0, "")
	h.dir("/var/lib/docker", 0o710, 0, 0)
	rs := h.audit(hostSpace{total: 100 * hostGiB, avail: 3 * hostGiB})
	wantStatuses(t, rs, map[string]Status{
		"host-data-root-partition":      Warn,
		"host-data-root-space":          Fail,
		"host-docker-group":             Info, // never more: who may be in it is the owner's call
		"host-audit-rules":              Warn,
		"host-daemon-json":              Fail, // --log-driver in DOCKER_OPTS and "log-driver": dockerd refuses
		"host-log-rotation":             Fail,
		"host-no-new-privileges":        Warn,
		"host-userland-proxy":           Warn,
		"host-metrics-addr":             Fail,
		"host-tcp-tls":                  Fail,
		"host-insecure-registries":      Warn,
		"host-docker-service-owner":     Fail,
		"host-docker-service-mode":      Fail,
		"host-docker-socket-unit-owner": Fail,
		"host-docker-socket-unit-mode":  Fail,
		"host-etc-docker-owner":         Fail,
		"host-etc-docker-mode":          Fail,
		"host-registry-certs-owner":     Fail,
		"host-registry-certs-mode":      Fail,
		"host-tls-ca-owner":             Fail,
		"host-tls-ca-mode":              Fail,
		"host-tls-cert-owner":           Fail, // missing while TLS is on: dockerd does not start
		"host-tls-cert-mode":            Fail,
		"host-tls-key-owner":            Fail, // group adm may read the key
		"host-tls-key-mode":             Fail,
		"host-docker-socket-owner":      Fail,
		"host-docker-socket-mode":       Fail,
		"host-daemon-json-owner":        Fail,
		"host-daemon-json-mode":         Fail,
		"host-default-docker-owner":     Fail,
		"host-default-docker-mode":      Fail,
		"host-sysconfig-docker-mode":    Fail,
		"host-sysconfig-docker-owner":   Fail,
		"host-containerd-socket-owner":  Fail,
		"host-containerd-socket-mode":   Fail,
	})
	got := byID(rs)
	for id, want := range map[string]string{
		"host-docker-socket-mode":   "/var/run/docker.sock: mode 0666 owner root:alice",
		"host-daemon-json":          `line 2: "log-driver" is also set by --log-driver in /usr/lib/systemd/system/docker.service ExecStart`,
		"host-tcp-tls":              "tcp://0.0.0.0:2375 (/etc/docker/daemon.json hosts) with tls but without tlsverify",
		"host-insecure-registries":  "10.0.0.5:5000 (/etc/docker/daemon.json insecure-registries), 10.1.1.1:5000 (/etc/sysconfig/docker OPTIONS)",
		"host-userland-proxy":       "userland-proxy: true (/usr/lib/systemd/system/docker.service ExecStart)",
		"host-audit-rules":          "auditd is not set up; unwatched: /usr/bin/dockerd (1.1.3)",
		"host-tls-cert-mode":        "tlscert /etc/docker/cert.pem (/etc/docker/daemon.json) does not exist",
		"host-metrics-addr":         "metrics-addr 0.0.0.0:9323",
		"host-registry-certs-owner": "/etc/docker/certs.d/r.example.com/ca.crt: mode 0666 owner alice:root",
	} {
		if !strings.Contains(got[id].Evidence, want) {
			t.Errorf("%s: evidence %q, want it to contain %q", id, got[id].Evidence, want)
		}
	}
	// A fix names the file where it is, not where it usually is.
	if f := got["host-docker-service-mode"].Fix; f != "chmod 644 /usr/lib/systemd/system/docker.service" {
		t.Errorf("fix %q", f)
	}
	if f := got["host-audit-rules"].Fix; !strings.Contains(f, "'-w /usr/bin/dockerd -k docker'") || !strings.Contains(f, "augenrules --load") {
		t.Errorf("audit fix %q", f)
	}
}

func TestHostRemoteSkipsAll(t *testing.T) {
	rs := AuditHost(HostFacts{Host: "far", Local: false, Root: "/nonexistent"})
	if len(rs) != len(HostChecks()) {
		t.Fatalf("%d results for %d checks", len(rs), len(HostChecks()))
	}
	for _, r := range rs {
		if r.Status != Skipped || r.Reason != "needs host file access; run berth on the host, or through the agent" || r.Host != "far" {
			t.Errorf("%s: %s %q", r.ID, r.Status, r.Reason)
		}
	}
}

func TestHostCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range HostChecks() {
		if !strings.HasPrefix(c.ID, "host-") || seen[c.ID] {
			t.Errorf("id %q: not host- or twice", c.ID)
		}
		seen[c.ID] = true
		if _, isPolicyRule := policy.RuleByID(c.ID); isPolicyRule {
			t.Errorf("%s is also a policy rule's id", c.ID)
		}
		if c.Area != AreaHost || c.Title == "" || c.Fix == "" || c.Severity < policy.Low || c.Severity > policy.Critical {
			t.Errorf("%s: incomplete: %+v", c.ID, c)
		}
		if strings.Contains(c.Fix, "%!") || strings.Contains(c.Title, "%!") {
			t.Errorf("%s: bad format: %q %q", c.ID, c.Title, c.Fix)
		}
	}
	// The ids berth setup names must be here.
	for _, id := range []string{"host-log-rotation", "host-no-new-privileges", "host-userland-proxy", "host-metrics-addr"} {
		if !seen[id] {
			t.Errorf("berth setup names %s, which is missing", id)
		}
	}
	// An empty host (nothing installed) still gives one result per check,
	// in catalogue order, and nothing fails for what is merely absent.
	rs := (&hostFixture{t: t, root: t.TempDir()}).audit(plentyOfSpace)
	for i, c := range HostChecks() {
		if rs[i].ID != c.ID {
			t.Fatalf("result %d is %s, want %s", i, rs[i].ID, c.ID)
		}
		if rs[i].Status == Fail && rs[i].ID != "host-log-rotation" {
			t.Errorf("%s fails on an empty host: %q", rs[i].ID, rs[i].Evidence)
		}
		if rs[i].Status == Skipped && rs[i].Reason == "" {
			t.Errorf("%s skipped without a reason", rs[i].ID)
		}
	}
}

func TestHostDaemonJSONWithComments(t *testing.T) {
	h := newHostFixture(t)
	h.file("/etc/docker/daemon.json", 0o644, os.Geteuid(), os.Getegid(), "{\n  \"log-driver\": \"local\",\n  // rotate\n  \"live-restore\": true\n}\n")
	got := byID(h.audit(plentyOfSpace))
	r := got["host-daemon-json"]
	if r.Status != Fail || !strings.Contains(r.Evidence, "/etc/docker/daemon.json:3:3: comments are not allowed") || !strings.Contains(r.Evidence, "dockerd would refuse to start") {
		t.Errorf("daemon.json with a comment: %s %q", r.Status, r.Evidence)
	}
	// No setting is in force with a file dockerd refuses: they skip, saying why.
	for _, id := range []string{"host-log-rotation", "host-no-new-privileges", "host-tcp-tls", "host-metrics-addr"} {
		if got[id].Status != Skipped || !strings.Contains(got[id].Reason, "host-daemon-json") {
			t.Errorf("%s: %s %q", id, got[id].Status, got[id].Reason)
		}
	}
}

// A directory where a file is expected: clear reasons, never a panic.
func TestHostDirectoryWhereFileExpected(t *testing.T) {
	h := newHostFixture(t)
	h.dir("/etc/docker/daemon.json", 0o755, os.Geteuid(), os.Getegid())
	h.dir("/etc/default/docker", 0o755, os.Geteuid(), os.Getegid())
	if err := os.Remove(h.path("/etc/group")); err != nil {
		t.Fatal(err)
	}
	h.dir("/etc/group", 0o755, os.Geteuid(), os.Getegid())
	h.file("/var/run/docker.sock", 0o660, os.Geteuid(), os.Getegid(), "not a socket")
	got := byID(h.audit(plentyOfSpace))
	for id, want := range map[string]struct {
		st   Status
		text string
	}{
		"host-daemon-json":          {Fail, "/etc/docker/daemon.json is a directory; dockerd would refuse to start"},
		"host-daemon-json-mode":     {Skipped, "/etc/docker/daemon.json is a directory where a regular file is expected"},
		"host-daemon-json-owner":    {Skipped, "/etc/docker/daemon.json is a directory where a regular file is expected"},
		"host-default-docker-mode":  {Skipped, "/etc/default/docker is a directory where a regular file is expected"},
		"host-docker-socket-mode":   {Skipped, "/var/run/docker.sock is a regular file where a socket is expected"},
		"host-docker-group":         {Skipped, "cannot read /etc/group"},
		"host-log-rotation":         {Skipped, "daemon.json cannot be read"},
		"host-docker-service-owner": {Skipped, "no docker.service unit in /etc/systemd/system"},
	} {
		r := got[id]
		text := r.Evidence
		if r.Status == Skipped {
			text = r.Reason
		}
		if r.Status != want.st || !strings.Contains(text, want.text) {
			t.Errorf("%s: %s %q, want %s %q", id, r.Status, text, want.st, want.text)
		}
	}
}

func TestReadDaemonConfig(t *testing.T) {
	dir := t.TempDir()
	utf16le := []byte{0xFF, 0xFE}
	for _, r := range `{"debug": true}` {
		utf16le = append(utf16le, byte(r), 0)
	}
	for _, tc := range []struct {
		name    string
		content []byte // nil: no file
		keys    int
		err     string // "" no error
		line    int
	}{
		{name: "missing"},
		{name: "empty", content: []byte(" \n"), keys: 0},
		{name: "object", content: []byte(`{"debug": true, "hosts": []}`), keys: 2},
		{name: "null is no settings", content: []byte("null"), keys: 0},
		{name: "utf-8 bom", content: append([]byte{0xEF, 0xBB, 0xBF}, `{"debug": true}`...), keys: 1},
		{name: "utf-16 bom", content: utf16le, keys: 1},
		{name: "comment", content: []byte("{\n  \"debug\": true,\n  # off\n}"), err: ":3:3: comments are not allowed", line: 3},
		{name: "line comment after value", content: []byte("{\n  \"debug\": true // on\n}"), err: "comments are not allowed", line: 2},
		{name: "trailing comma", content: []byte("{\n  \"debug\": true,\n}\n"), err: ":2:16: a trailing comma is not allowed", line: 2},
		{name: "unclosed", content: []byte("{\n  \"debug\": true\n"), err: "the JSON ends early", line: 2},
		{name: "array", content: []byte("\n[1]"), err: ":2:1: a JSON object is expected, not an array", line: 2},
		{name: "two objects", content: []byte("{}\n{}"), err: ":2:1: invalid character '{' after top-level value", line: 2},
		{name: "not utf-8", content: []byte("{\"a\":\n\"\xff\"}"), err: ":2:2: not UTF-8 text", line: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
			if tc.content != nil {
				if err := os.WriteFile(p, tc.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg, _, err := readDaemonConfig(p, p)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.content == nil && cfg != nil {
					t.Fatalf("a missing file gave %v, want nil", cfg)
				}
				if tc.content != nil && len(cfg) != tc.keys {
					t.Fatalf("%d keys, want %d: %v", len(cfg), tc.keys, cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), p) {
				t.Fatalf("error %v, want %q naming the file", err, tc.err)
			}
			var de *DaemonConfigError
			if !errors.As(err, &de) || de.Line != tc.line {
				t.Fatalf("error %#v, want line %d", err, tc.line)
			}
		})
	}
	if _, _, err := readDaemonConfig(dir, dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("a directory: %v", err)
	}
}

func TestHostDaemonJSONProblems(t *testing.T) {
	for _, tc := range []struct {
		name, json, unit string
		want             string
	}{
		{name: "hosts with the unit's -H", json: "{\n\"hosts\": [\"unix:///run/docker.sock\"]\n}",
			unit: "[Service]\nExecStart=/usr/bin/dockerd -H fd://\n", want: `line 2: "hosts" is also set by --host in /lib/systemd/system/docker.service ExecStart`},
		{name: "number in log-opts", json: "{\n\"log-driver\": \"json-file\",\n\"log-opts\": {\"max-size\": \"10m\", \"max-file\": 3}\n}",
			want: `line 3: "log-opts": the value of "max-file" must be a string (quoted)`},
		{name: "string for a boolean", json: `{"live-restore": "true"}`, want: `line 1: "live-restore" must be a boolean, not a string`},
		{name: "a string for hosts", json: `{"hosts": "tcp://0.0.0.0:2376"}`, want: `"hosts" must be a list, not a string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHostFixture(t)
			h.file("/etc/docker/daemon.json", 0o644, os.Geteuid(), os.Getegid(), tc.json)
			if tc.unit != "" {
				h.file("/lib/systemd/system/docker.service", 0o644, os.Geteuid(), os.Getegid(), tc.unit)
			}
			r := byID(h.audit(plentyOfSpace))["host-daemon-json"]
			if r.Status != Fail || !strings.Contains(r.Evidence, tc.want) {
				t.Errorf("%s %q, want fail with %q", r.Status, r.Evidence, tc.want)
			}
		})
	}
}

func TestHostModeRules(t *testing.T) {
	for _, tc := range []struct {
		rule hostModeRule
		mode fs.FileMode
		want Status
	}{
		{hostConfigMode, 0o644, Pass},
		{hostConfigMode, 0o600, Pass}, // stricter never fails
		{hostConfigMode, 0o400, Pass},
		{hostConfigMode, 0o000, Pass},
		{hostConfigMode, 0o664, Fail},
		{hostConfigMode, 0o646, Fail},
		{hostConfigMode, 0o755, Warn}, // executable, but no one else can write
		{hostDirMode, 0o700, Pass},
		{hostDirMode, 0o775, Fail},
		{hostCertMode, 0o444, Pass},
		{hostKeyMode, 0o400, Pass},
		{hostKeyMode, 0o600, Pass},
		{hostKeyMode, 0o640, Fail},
		{hostKeyMode, 0o700, Warn},
		{hostSocketMode, 0o660, Pass},
		{hostSocketMode, 0o600, Pass},
		{hostSocketMode, 0o666, Fail}, // everyone is root
		{hostSocketMode, 0o664, Warn}, // others may read, but connecting needs write
	} {
		if got := tc.rule.judge(tc.mode); got != tc.want {
			t.Errorf("%+v on %04o: %s, want %s", tc.rule, tc.mode, got, tc.want)
		}
	}
}

func TestHostSeparateFS(t *testing.T) {
	for _, tc := range []struct {
		name               string
		data, parent, root uint64
		want               Status
		where              int
	}{
		{"own mount", 2, 1, 1, Pass, hostFSOwn},
		{"own mount below a separate /var", 3, 2, 1, Pass, hostFSOwn},
		{"on a separate /var", 2, 2, 1, Pass, hostFSSharesOther},
		{"on /", 1, 1, 1, Warn, hostFSSharesRoot},
	} {
		if st, where := hostSeparateFS(tc.data, tc.parent, tc.root); st != tc.want || where != tc.where {
			t.Errorf("%s: %s %d, want %s %d", tc.name, st, where, tc.want, tc.where)
		}
	}
}

func TestJudgeHostSpace(t *testing.T) {
	for _, tc := range []struct {
		s    hostSpace
		want Status
	}{
		{hostSpace{total: 1000 * hostGiB, avail: 300 * hostGiB}, Pass},
		{hostSpace{total: 1000 * hostGiB, avail: 80 * hostGiB}, Warn},                      // under 10%
		{hostSpace{total: 20 * hostGiB, avail: 4 * hostGiB}, Warn},                         // 20%, but under 5 GiB
		{hostSpace{total: 1000 * hostGiB, avail: 40 * hostGiB}, Fail},                      // under 5%
		{hostSpace{total: 100 * hostGiB, avail: 50 * hostGiB, files: 100, ffree: 3}, Fail}, // out of inodes
		{hostSpace{total: 100 * hostGiB, avail: 50 * hostGiB, files: 100, ffree: 8}, Warn},
		{hostSpace{total: 100 * hostGiB, avail: 50 * hostGiB, files: 0}, Pass}, // btrfs counts no inodes
		{hostSpace{}, Skipped},
	} {
		if got, ev := judgeHostSpace(tc.s); got != tc.want {
			t.Errorf("%+v: %s (%s), want %s", tc.s, got, ev, tc.want)
		}
	}
}

func TestParseDockerdFlags(t *testing.T) {
	got := parseDockerdFlags([]string{"-H", "fd://", "-Htcp://0.0.0.0:2376", "--tlsverify", "--tlscacert=/ca.pem", "--log-opt", "max-size=10m",
		"-D", "--icc=false", "--userland-proxy", "false", "-G", "admins"}, "x")
	want := []string{"host=fd://", "host=tcp://0.0.0.0:2376", "tlsverify=true", "tlscacert=/ca.pem", "log-opt=max-size=10m",
		"debug=true", "icc=false", "userland-proxy=true", "group=admins"}
	var gotS []string
	for _, f := range got {
		gotS = append(gotS, f.name+"="+f.value)
	}
	// "--userland-proxy false": a boolean flag takes no separate value in
	// dockerd either, so "false" is a stray word.
	if strings.Join(gotS, " ") != strings.Join(want, " ") {
		t.Errorf("got  %v\nwant %v", gotS, want)
	}
}

func TestHostMetricsAddr(t *testing.T) {
	for addr, want := range map[string]Status{
		"127.0.0.1:9323": Pass, "[::1]:9323": Pass, "localhost:9323": Pass,
		":9323": Fail, "0.0.0.0:9323": Fail, "[::]:9323": Fail, "10.0.0.1:9323": Fail, "172.17.0.1:9323": Fail,
		"9323": Warn,
	} {
		h := newHostFixture(t)
		h.file("/etc/docker/daemon.json", 0o644, os.Geteuid(), os.Getegid(), fmt.Sprintf(`{"metrics-addr": %q}`, addr))
		if r := byID(h.audit(plentyOfSpace))["host-metrics-addr"]; r.Status != want {
			t.Errorf("%s: %s %q, want %s", addr, r.Status, r.Evidence, want)
		}
	}
}

func TestHostAuditRules(t *testing.T) {
	h := newHostFixture(t)
	me, mg := os.Geteuid(), os.Getegid()
	h.file("/usr/bin/dockerd", 0o755, me, mg, "")
	h.dir("/var/lib/docker", 0o710, me, mg)
	h.dir("/etc/docker", 0o755, me, mg)
	h.symlink("/run", "/var/run")
	h.dir("/run/containerd", 0o711, me, mg)
	h.file("/etc/audit/audit.rules", 0o640, me, mg, "# from augenrules\n-D\n-w /bin/dockerd -k docker\n-a always,exit -F dir=/var/run/containerd -F perm=wa -k docker\n#-w /etc/docker -k docker\n")
	r := byID(h.audit(plentyOfSpace))["host-audit-rules"]
	if r.Status != Warn || r.Evidence != "not watched: /var/lib/docker (1.1.5), /etc/docker (1.1.6)" {
		t.Errorf("%s %q", r.Status, r.Evidence)
	}
	if want := `printf '%s\n' '-w /var/lib/docker -k docker' '-w /etc/docker -k docker' >> /etc/audit/rules.d/docker.rules && augenrules --load`; r.Fix != want {
		t.Errorf("fix %q\nwant %q", r.Fix, want)
	}
}

// With no unit, the running dockerd's command line says how it listens.
func TestHostRunningDockerd(t *testing.T) {
	h := newHostFixture(t)
	me, mg := os.Geteuid(), os.Getegid()
	h.file("/proc/1/comm", 0o444, me, mg, "systemd\n")
	h.file("/proc/4242/comm", 0o444, me, mg, "dockerd\n")
	h.file("/proc/4242/cmdline", 0o444, me, mg, "/usr/bin/dockerd\x00-H\x00tcp://0.0.0.0:2375\x00--no-new-privileges\x00")
	got := byID(h.audit(plentyOfSpace))
	if r := got["host-tcp-tls"]; r.Status != Fail || !strings.Contains(r.Evidence, "tcp://0.0.0.0:2375 (dockerd's command line (pid 4242)) without TLS") {
		t.Errorf("tcp: %s %q", r.Status, r.Evidence)
	}
	if r := got["host-no-new-privileges"]; r.Status != Pass {
		t.Errorf("no-new-privileges: %s %q", r.Status, r.Evidence)
	}
}

func TestHostResolve(t *testing.T) {
	h := newHostFixture(t)
	h.symlink("/run", "/var/run")
	h.symlink("../etc/docker", "/srv/conf")
	h.symlink("/loop/b", "/loop/a")
	h.symlink("/loop/a", "/loop/b")
	for p, want := range map[string]string{
		"/var/run/docker.sock":   "/run/docker.sock",
		"/srv/conf/daemon.json":  "/etc/docker/daemon.json",
		"/var/../etc/passwd":     "/etc/passwd",
		"/no/such/dir/file":      "/no/such/dir/file",
		"/var/run/../lib/docker": "/lib/docker", // .. after a link is the link target's parent
	} {
		got, err := hostResolve(h.root, p)
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", p, got, err, want)
		}
	}
	if _, err := hostResolve(h.root, "/loop/a/x"); err == nil {
		t.Error("a loop of links resolved")
	}
}

// A rootless engine's socket is its user's; a socket group set in
// daemon.json is the docker group of that host.
func TestHostSocketOwners(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name, socket, json string
		uid, gid           int
		want               Status
	}{
		{"rootless", "/run/user/1000/docker.sock", "", uidAlice, gidAlice, Pass},
		{"rootless, someone else's", "/run/user/1000/docker.sock", "", 1001, 1001, Fail},
		{"group from daemon.json", "/var/run/docker.sock", `{"group": "adm"}`, 0, gidAdm, Pass},
		{"root:root", "/var/run/docker.sock", "", 0, 0, Pass},
		{"another group", "/var/run/docker.sock", "", 0, gidAdm, Fail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHostFixture(t)
			if tc.json != "" {
				h.file("/etc/docker/daemon.json", 0o644, 0, 0, tc.json)
			}
			h.socket(tc.socket, 0o660, tc.uid, tc.gid)
			f := h.facts()
			f.Socket = "unix://" + tc.socket
			r := byID(AuditHost(f))["host-docker-socket-owner"]
			if r.Status != tc.want {
				t.Errorf("%s %q, want %s", r.Status, r.Evidence, tc.want)
			}
		})
	}
}

// dockerd reads the file its unit's --config-file names: that file is
// judged, not /etc/docker/daemon.json; and setup sees the unit's flags.
func TestHostConfigFileFromUnit(t *testing.T) {
	needRoot(t)
	h := newHostFixture(t)
	h.dir("/etc/docker", 0o755, 0, 0)
	h.file("/etc/docker/daemon.json", 0o644, 0, 0, `{"log-driver": "json-file"}`)
	h.file("/etc/docker/prod.json", 0o644, 0, 0, `{"log-driver": "local", "no-new-privileges": true}`)
	h.file("/lib/systemd/system/docker.service", 0o644, 0, 0, "[Service]\nExecStart=/usr/bin/dockerd -H fd:// --config-file /etc/docker/prod.json --live-restore --log-opt tag=x\n")
	rs := byID(h.audit(hostSpace{}))
	if r := rs["host-log-rotation"]; r.Status != Pass || !strings.Contains(r.Evidence, "prod.json") {
		t.Errorf("host-log-rotation: %s %s", r.Status, r.Evidence)
	}
	if r := rs["host-no-new-privileges"]; r.Status != Pass {
		t.Errorf("host-no-new-privileges: %s %s", r.Status, r.Evidence)
	}
	fl := ReadDockerdFlags(h.root)
	if fl.Keys["live-restore"] == "" || fl.Keys["hosts"] == "" || len(fl.LogOpts) != 1 || fl.LogOpts[0] != "tag" {
		t.Errorf("flags: %+v", fl)
	}
	if _, ok := fl.Keys["config-file"]; ok {
		t.Error("config-file is not a daemon.json key")
	}
}
