package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/berthhq/berth/internal/policy"
)

// Files of the host are read below Root, and symbolic links are followed
// there too: an absolute link (/var/run -> /run) means the host's /run, not
// the /run of the machine berth's process sees.

// hostFile is one file of the host, stat'ed.
type hostFile struct {
	path string      // on the host, as named
	real string      // on the host, links followed
	fi   fs.FileInfo // nil when err is set
	err  error
}

func (e *hostEnv) stat(p string) hostFile {
	hf := hostFile{path: p}
	hf.real, hf.err = hostResolve(e.root, p)
	if hf.err == nil {
		hf.fi, hf.err = os.Lstat(e.join(hf.real))
	}
	return hf
}

func (e *hostEnv) readFile(p string) ([]byte, error) {
	real, err := hostResolve(e.root, p)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(e.join(real))
}

// statProblem says why hf could not be judged.
func (hf hostFile) statProblem(what string) string {
	if errors.Is(hf.err, fs.ErrNotExist) {
		return fmt.Sprintf("%s %s does not exist", what, hf.path)
	}
	if errors.Is(hf.err, fs.ErrPermission) {
		return fmt.Sprintf("cannot read %s %s: permission denied (run berth as root)", what, hf.path)
	}
	return fmt.Sprintf("cannot read %s %s: %v", what, hf.path, hf.err)
}

// hostResolve follows the links in p the way the host's kernel would, with
// root as /. A missing component ends the walk: the caller's stat reports it.
func hostResolve(root, p string) (string, error) {
	rest := strings.Split(p, "/") // not cleaned first: ".." after a link is the target's parent, as for the kernel
	resolved := "/"
	for links := 0; len(rest) > 0; {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			resolved = path.Dir(resolved)
			continue
		}
		next := path.Join(resolved, name)
		fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(next)))
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			resolved = next
			if err != nil {
				return path.Join(append([]string{resolved}, rest...)...), nil
			}
			continue
		}
		if links++; links > 40 {
			return "", fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(filepath.Join(root, filepath.FromSlash(next)))
		if err != nil {
			return "", err
		}
		if !path.IsAbs(target) {
			target = path.Join(resolved, target)
		}
		rest = append(strings.Split(strings.TrimPrefix(path.Clean(target), "/"), "/"), rest...)
		resolved = "/"
	}
	return resolved, nil
}

func hostOwnerIDs(fi fs.FileInfo) (uid, gid uint32, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return st.Uid, st.Gid, true
}

func hostDev(fi fs.FileInfo) (uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return uint64(st.Dev), true //nolint:unconvert,gosec // int32 on darwin
}

func (e *hostEnv) userName(uid uint32) string {
	if n, ok := e.users[uid]; ok {
		return n
	}
	return strconv.FormatUint(uint64(uid), 10)
}

func (e *hostEnv) groupName(gid uint32) string {
	for _, g := range e.groups {
		if g.gid == gid {
			return g.name
		}
	}
	return strconv.FormatUint(uint64(gid), 10)
}

// describe is the evidence for one file: "/etc/docker/daemon.json: mode 0644 owner root:root".
func (e *hostEnv) describe(hf hostFile) string {
	name := hf.path
	if hf.real != "" && hf.real != path.Clean(hf.path) {
		name += " (-> " + hf.real + ")"
	}
	uid, gid, ok := hostOwnerIDs(hf.fi)
	if !ok {
		return fmt.Sprintf("%s: mode %04o", name, hf.fi.Mode().Perm())
	}
	return fmt.Sprintf("%s: mode %04o owner %s:%s", name, hf.fi.Mode().Perm(), e.userName(uid), e.groupName(gid))
}

// hostModeRule: a mode within max passes, stricter ones included; extra bits in
// fail fail (someone who should not can write, or read a secret); other
// extra bits (an executable bit, a read bit CIS would not give) warn.
type hostModeRule struct {
	max, fail fs.FileMode
}

func (r hostModeRule) judge(m fs.FileMode) Status {
	extra := m.Perm() &^ r.max
	switch {
	case extra == 0:
		return Pass
	case extra&r.fail != 0:
		return Fail
	}
	return Warn
}

// hostOwnerRule: the owner must be uid; the group root or one of groups. A
// foreign group fails only where the mode gives it what matters (write, or
// read of a key); otherwise it warns.
type hostOwnerRule struct {
	uid     uint32
	groups  []string
	matters fs.FileMode // group bits that make a foreign group a failure
}

func (e *hostEnv) judgeOwner(r hostOwnerRule, fi fs.FileInfo) (Status, bool) {
	uid, gid, ok := hostOwnerIDs(fi)
	if !ok {
		return Skipped, false
	}
	if uid != r.uid {
		return Fail, true
	}
	if gid == 0 {
		return Pass, true
	}
	for _, g := range r.groups {
		if e.groupName(gid) == g {
			return Pass, true
		}
	}
	if fi.Mode().Perm()&r.matters != 0 {
		return Fail, true
	}
	return Warn, true
}

// The rules by kind of file.
var (
	hostConfigMode = hostModeRule{max: 0o644, fail: 0o022}
	hostDirMode    = hostModeRule{max: 0o755, fail: 0o022}
	hostCertMode   = hostModeRule{max: 0o644, fail: 0o022} // CIS asks 444; a root-owned 644 gives no one more
	hostKeyMode    = hostModeRule{max: 0o600, fail: 0o077}
	hostSocketMode = hostModeRule{max: 0o660, fail: 0o002} // connecting needs write; 0666 is everyone root

	hostRootOwned = hostOwnerRule{matters: 0o020}
	hostKeyOwned  = hostOwnerRule{matters: 0o070}
)

// hostTarget is what a file check judges; path "" when nothing applies,
// with the status and words for it.
type hostTarget struct {
	path     string
	kind     fs.FileMode // 0 (regular file), fs.ModeDir or fs.ModeSocket
	absentSt Status      // when the path is "" or does not exist
	absent   string      // evidence (reason, for Skipped)
}

func hostKindName(k fs.FileMode) string {
	switch {
	case k&fs.ModeDir != 0:
		return "directory"
	case k&fs.ModeSocket != 0:
		return "socket"
	case k&fs.ModeNamedPipe != 0:
		return "named pipe"
	case k&fs.ModeDevice != 0:
		return "device"
	case k == 0:
		return "regular file"
	}
	return "special file"
}

// hostFileCheck is one owner or mode check on one file (or, walk, a tree).
type hostFileCheck struct {
	id, cis, title string
	sev            policy.Severity
	def            string // the file's usual path, for the catalogue's fix
	fix            string // %s: the file's path
	locate         func(e *hostEnv) hostTarget
	owner          func(e *hostEnv, name string) hostOwnerRule
	mode           func(name string) hostModeRule
	walk           bool // judge every file below the directory
}

func ownerFixed(r hostOwnerRule) func(*hostEnv, string) hostOwnerRule {
	return func(*hostEnv, string) hostOwnerRule { return r }
}

func modeFixed(r hostModeRule) func(string) hostModeRule {
	return func(string) hostModeRule { return r }
}

// hostOwnerMode is the owner check and the mode check of one file.
func hostOwnerMode(file, def string, ownCIS, modeCIS string, sev policy.Severity, locate func(*hostEnv) hostTarget, mode hostModeRule, id string) []hostFileCheck {
	return []hostFileCheck{
		{id: id + "-owner", cis: ownCIS, title: file + " is owned by root:root", sev: sev, def: def, fix: "chown root:root %s",
			locate: locate, owner: ownerFixed(hostRootOwned)},
		{id: id + "-mode", cis: modeCIS, title: fmt.Sprintf("%s's mode is %o or stricter", file, mode.max), sev: sev, def: def,
			fix: fmt.Sprintf("chmod %o %%s", mode.max), locate: locate, mode: modeFixed(mode)},
	}
}

func hostFileChecks() []hostCheck {
	var fcs []hostFileCheck
	fcs = append(fcs, hostOwnerMode("docker.service", "/lib/systemd/system/docker.service", "3.1", "3.2", policy.High, unitTarget("docker.service"), hostConfigMode, "host-docker-service")...)
	fcs = append(fcs, hostOwnerMode("docker.socket (the unit)", "/lib/systemd/system/docker.socket", "3.3", "3.4", policy.High, unitTarget("docker.socket"), hostConfigMode, "host-docker-socket-unit")...)
	fcs = append(fcs, hostOwnerMode("/etc/docker", "/etc/docker", "3.5", "3.6", policy.High, hostPlainTarget("/etc/docker", fs.ModeDir), hostDirMode, "host-etc-docker")...)
	fcs = append(fcs,
		hostFileCheck{id: "host-registry-certs-owner", cis: "3.7", title: "Registry certificates (/etc/docker/certs.d) are owned by root", sev: policy.Medium,
			def: "/etc/docker/certs.d", fix: "chown -R root:root %s", locate: registryTarget, walk: true,
			owner: func(_ *hostEnv, name string) hostOwnerRule {
				if strings.HasSuffix(name, ".key") {
					return hostKeyOwned
				}
				return hostRootOwned
			}},
		hostFileCheck{id: "host-registry-certs-mode", cis: "3.8", title: "Registry certificates are not writable by others, and their keys not readable", sev: policy.Medium,
			def: "/etc/docker/certs.d", fix: "chmod -R go-w %[1]s && find %[1]s -name '*.key' -exec chmod 400 {} +", locate: registryTarget, walk: true,
			mode: func(name string) hostModeRule {
				switch {
				case name == "":
					return hostDirMode
				case strings.HasSuffix(name, ".key"):
					return hostKeyMode
				}
				return hostCertMode
			}},
	)
	fcs = append(fcs, hostOwnerMode("The TLS CA certificate", "/etc/docker/tls/ca.pem", "3.9", "3.10", policy.Medium, tlsTarget("tlscacert"), hostCertMode, "host-tls-ca")...)
	fcs = append(fcs, hostOwnerMode("The TLS server certificate", "/etc/docker/tls/cert.pem", "3.11", "3.12", policy.Medium, tlsTarget("tlscert"), hostCertMode, "host-tls-cert")...)
	key := hostOwnerMode("The TLS server key", "/etc/docker/tls/key.pem", "3.13", "3.14", policy.High, tlsTarget("tlskey"), hostKeyMode, "host-tls-key")
	key[0].owner = ownerFixed(hostKeyOwned)
	key[1].fix = "chmod 400 %s"
	key[1].title = "The TLS server key's mode is 600 or stricter (the benchmark asks 400)"
	fcs = append(fcs, key...)
	fcs = append(fcs,
		hostFileCheck{id: "host-docker-socket-owner", cis: "3.15", title: "The Docker socket is owned by root:docker", sev: policy.High,
			def: "/var/run/docker.sock", fix: "chown root:docker %s (and SocketGroup=docker in docker.socket, or \"group\" in daemon.json: dockerd makes the socket anew at each start)",
			locate: dockerSocketTarget, owner: dockerSocketOwner},
		hostFileCheck{id: "host-docker-socket-mode", cis: "3.16", title: "The Docker socket's mode is 660 or stricter", sev: policy.Critical,
			def: "/var/run/docker.sock", fix: "chmod 660 %s (and SocketMode=0660 in docker.socket: dockerd makes the socket anew at each start)",
			locate: dockerSocketTarget, mode: modeFixed(hostSocketMode)},
	)
	fcs = append(fcs, hostOwnerMode("daemon.json", "/etc/docker/daemon.json", "3.17", "3.18", policy.High, daemonJSONTarget, hostConfigMode, "host-daemon-json")...)
	fcs = append(fcs, hostOwnerMode("/etc/default/docker", "/etc/default/docker", "3.19", "3.20", policy.High, hostPlainTarget("/etc/default/docker", 0), hostConfigMode, "host-default-docker")...)
	sys := hostOwnerMode("/etc/sysconfig/docker", "/etc/sysconfig/docker", "3.22", "3.21", policy.High, hostPlainTarget("/etc/sysconfig/docker", 0), hostConfigMode, "host-sysconfig-docker")
	fcs = append(fcs, sys[1], sys[0]) // the benchmark has the mode first here
	fcs = append(fcs, hostOwnerMode("The containerd socket", "/run/containerd/containerd.sock", "3.23", "3.24", policy.High, containerdSocketTarget, hostSocketMode, "host-containerd-socket")...)

	out := make([]hostCheck, len(fcs))
	for i, fc := range fcs {
		out[i] = newHostCheck(fc.id, fc.cis, fc.title, fc.sev, fmt.Sprintf(fc.fix, fc.def), fc.run)
	}
	return out
}

func (fc hostFileCheck) run(e *hostEnv, c Check) Result {
	t := fc.locate(e)
	absent := func() Result {
		if t.absentSt == Skipped {
			return e.skip(c, t.absent)
		}
		return e.result(c, t.absentSt, t.absent)
	}
	if t.path == "" {
		return absent()
	}
	hf := e.stat(t.path)
	switch {
	case errors.Is(hf.err, fs.ErrNotExist):
		return absent()
	case hf.err != nil:
		return e.skip(c, hf.statProblem("the file"))
	case hf.fi.Mode().Type() != t.kind:
		return e.skip(c, fmt.Sprintf("%s is a %s where a %s is expected", t.path, hostKindName(hf.fi.Mode().Type()), hostKindName(t.kind)))
	}
	if hf.path != fc.def {
		c.Fix = fmt.Sprintf(fc.fix, hf.path)
	}
	files := []hostFile{hf}
	if fc.walk {
		files = append(files, e.walk(hf)...)
	}
	worst, bad := Pass, []string{}
	for _, f := range files {
		if f.err != nil {
			return e.skip(c, f.statProblem("the file"))
		}
		name := ""
		if !f.fi.IsDir() {
			name = path.Base(f.path)
		}
		var st Status
		if fc.owner != nil {
			var ok bool
			if st, ok = e.judgeOwner(fc.owner(e, name), f.fi); !ok {
				return e.skip(c, "this platform does not report the owner of a file")
			}
		} else {
			st = fc.mode(name).judge(f.fi.Mode())
		}
		if st != Pass {
			bad = append(bad, e.describe(f))
		}
		worst = hostWorse(worst, st)
	}
	switch {
	case worst == Pass && len(files) == 1:
		return e.result(c, Pass, e.describe(hf))
	case worst == Pass:
		n := 0
		for _, f := range files {
			if !f.fi.IsDir() {
				n++
			}
		}
		return e.result(c, Pass, fmt.Sprintf("%d files below %s", n, hf.path))
	}
	if len(bad) > 5 {
		bad = append(bad[:5], fmt.Sprintf("and %d more", len(bad)-5))
	}
	return e.result(c, worst, strings.Join(bad, "; "))
}

// walk lists what is below a directory, links followed within the host.
func (e *hostEnv) walk(dir hostFile) []hostFile {
	var out []hostFile
	_ = filepath.WalkDir(e.join(dir.real), func(p string, d fs.DirEntry, err error) error {
		rel, rerr := filepath.Rel(e.join(dir.real), p)
		if rerr != nil || rel == "." {
			return nil
		}
		hp := path.Join(dir.path, filepath.ToSlash(rel))
		if err != nil {
			out = append(out, hostFile{path: hp, err: err})
			return nil
		}
		out = append(out, e.stat(hp))
		return nil
	})
	return out
}

var hostStatusRank = map[Status]int{Pass: 0, Info: 1, Skipped: 2, Warn: 3, Fail: 4}

func hostWorse(a, b Status) Status {
	if hostStatusRank[b] > hostStatusRank[a] {
		return b
	}
	return a
}

// --- where the files are ---

func hostPlainTarget(p string, kind fs.FileMode) func(*hostEnv) hostTarget {
	return func(*hostEnv) hostTarget {
		return hostTarget{path: p, kind: kind, absentSt: Info, absent: p + " is not present"}
	}
}

func daemonJSONTarget(e *hostEnv) hostTarget {
	return hostTarget{path: e.daemonJSON, absentSt: Info, absent: e.daemonJSON + " is not present: engine defaults in use"}
}

func registryTarget(*hostEnv) hostTarget {
	return hostTarget{path: "/etc/docker/certs.d", kind: fs.ModeDir, absentSt: Info, absent: "/etc/docker/certs.d is not present: no registry certificates"}
}

// hostUnitDirs are where systemd finds units, first wins.
var hostUnitDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}

func unitTarget(name string) func(*hostEnv) hostTarget {
	return func(e *hostEnv) hostTarget {
		if hf, ok := e.units[name]; ok {
			return hostTarget{path: hf.path}
		}
		return hostTarget{absentSt: Skipped, absent: fmt.Sprintf("no %s unit in %s: not a systemd host, or Docker is installed another way (snap, static binaries)", name, strings.Join(hostUnitDirs, ", "))}
	}
}

func tlsTarget(key string) func(*hostEnv) hostTarget {
	return func(e *hostEnv) hostTarget {
		p, src, ok := e.stringSetting(key, key)
		if ok && p != "" {
			st := Warn
			if e.tlsOn() {
				st = Fail // dockerd does not start without it
			}
			return hostTarget{path: p, absentSt: st, absent: fmt.Sprintf("%s %s (%s) does not exist", key, p, src)}
		}
		if e.tlsOn() {
			return hostTarget{absentSt: Skipped, absent: fmt.Sprintf("TLS is on but %s is not set: dockerd reads it from $DOCKER_CERT_PATH (default ~/.docker), which berth does not guess", key)}
		}
		return hostTarget{absentSt: Info, absent: fmt.Sprintf("TLS is not configured (no %s in daemon.json or dockerd's flags)", key)}
	}
}

func (e *hostEnv) socketPath() string {
	s := strings.TrimPrefix(e.f.Socket, "unix://")
	if s == "" {
		s = "/var/run/docker.sock"
	}
	return s
}

func dockerSocketTarget(e *hostEnv) hostTarget {
	p := e.socketPath()
	return hostTarget{path: p, kind: fs.ModeSocket, absentSt: Skipped, absent: fmt.Sprintf("the engine's socket %s is not there", p)}
}

// dockerSocketOwner: root, with the docker group (or the one dockerd was
// told); a rootless engine's socket (/run/user/UID/docker.sock) is its
// user's.
func dockerSocketOwner(e *hostEnv, _ string) hostOwnerRule {
	r := hostOwnerRule{groups: []string{"docker", e.socketGroup()}, matters: 0o020}
	if rest, ok := strings.CutPrefix(e.socketPath(), "/run/user/"); ok {
		if uid, err := strconv.ParseUint(strings.Split(rest, "/")[0], 10, 32); err == nil {
			r.uid = uint32(uid)
			r.groups = append(r.groups, e.groupName(uint32(uid)), e.userName(uint32(uid)))
		}
	}
	return r
}

func containerdSocketTarget(e *hostEnv) hostTarget {
	// Docker before 23.0 ran a containerd of its own, with its socket here.
	cands := []string{"/run/containerd/containerd.sock", "/var/run/docker/containerd/containerd.sock"}
	for _, p := range cands {
		if hf := e.stat(p); !errors.Is(hf.err, fs.ErrNotExist) {
			return hostTarget{path: p, kind: fs.ModeSocket}
		}
	}
	return hostTarget{absentSt: Info, absent: "no containerd socket at " + strings.Join(cands, " or ")}
}
