package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/berthhq/berth/internal/policy"
)

// HostFacts says where the host's files are. Host checks need file access:
// they run only when berth runs on the host itself.
type HostFacts struct {
	Host       string // host name for results
	Local      bool   // berth runs on this host (the engine is reached over a local unix socket); false: every host check is Skipped with the reason "needs host file access; run berth on the host, or through the agent"
	Root       string // "/" in production; tests lay out a fake host under a temp dir
	DaemonJSON string // path of daemon.json below Root; "" means /etc/docker/daemon.json
	DataRoot   string // the engine's DockerRootDir from /info, e.g. /var/lib/docker ("" = /var/lib/docker)
	Socket     string // the engine's unix socket path, e.g. /var/run/docker.sock
}

// hostRemoteReason is why every host check skips on an engine berth reaches
// over the network: what it judges are files, and the API does not show them.
const hostRemoteReason = "needs host file access; run berth on the host, or through the agent"

// hostCheck is a catalogue entry: the check and how it runs on a host.
type hostCheck struct {
	Check
	run func(e *hostEnv, c Check) Result
}

func newHostCheck(id, cis, title string, sev policy.Severity, fix string, run func(e *hostEnv, c Check) Result) hostCheck {
	return hostCheck{Check: Check{ID: id, Area: AreaHost, CIS: cis, Title: title, Severity: sev, Fix: fix}, run: run}
}

// hostCatalogue is in report order: section 1 of the CIS Docker Benchmark
// (host), then the daemon's configuration the engine API does not show
// (section 2), then section 3 (the daemon's files), in the benchmark's
// order. CIS numbers are those of the benchmark v1.6.0/v1.7.0.
//
// Settings the engine API shows (icc through the default bridge,
// live-restore, userns-remap through /info) are engine checks, not these.
var hostCatalogue = slices.Concat(hostSection1, hostDaemonChecks, hostFileChecks())

var hostSection1 = []hostCheck{
	newHostCheck("host-data-root-partition", "1.1.1", "Docker's data root is on a filesystem of its own", policy.Medium,
		"give /var/lib/docker a filesystem of its own (an LVM volume or a disk): systemctl stop docker, copy the data onto it, mount it at /var/lib/docker through /etc/fstab, systemctl start docker",
		(*hostEnv).checkDataRootPartition),
	newHostCheck("host-data-root-space", "", "Docker's data root has free space", policy.High,
		"see what takes the space with `docker system df`, remove what is unused (`docker image prune -a`, `docker builder prune`), or grow the filesystem",
		(*hostEnv).checkDataRootSpace),
	newHostCheck("host-docker-group", "1.1.2", "Who is in the docker group (each member is root on the host)", policy.Medium,
		"remove whoever does not need the engine: gpasswd -d USER docker",
		(*hostEnv).checkDockerGroup),
	newHostCheck("host-audit-rules", "1.1.3-1.1.18", "auditd watches Docker's files and binaries", policy.Low,
		"add a `-w PATH -k docker` line per missing path to /etc/audit/rules.d/docker.rules, then run `augenrules --load`",
		(*hostEnv).checkAuditRules),
}

var hostDaemonChecks = []hostCheck{
	newHostCheck("host-daemon-json", "", "daemon.json is one dockerd accepts", policy.High,
		"correct /etc/docker/daemon.json (strict JSON: no comments, no trailing commas), then check it with `dockerd --validate --config-file /etc/docker/daemon.json`",
		(*hostEnv).checkDaemonJSON),
	newHostCheck("host-log-rotation", "", "Container logs are rotated by default", policy.High,
		"run `berth setup --yes --restart` (sets \"log-driver\": \"local\"; a log-driver you set is kept unless --override log-driver), or add \"log-opts\": {\"max-size\": \"10m\", \"max-file\": \"3\"}; then recreate the containers: existing ones keep the log options they were created with",
		(*hostEnv).checkLogRotation),
	newHostCheck("host-no-new-privileges", "2.14", "Containers cannot gain privileges (no-new-privileges)", policy.Medium,
		"run `berth setup --yes --restart` (sets \"no-new-privileges\": true in daemon.json)",
		(*hostEnv).checkNoNewPrivileges),
	newHostCheck("host-userland-proxy", "2.16", "The userland proxy is off", policy.Low,
		"run `berth setup --yes --restart` (sets \"userland-proxy\": false in daemon.json)",
		(*hostEnv).checkUserlandProxy),
	newHostCheck("host-metrics-addr", "", "The engine's metrics endpoint is on loopback only", policy.Medium,
		"set \"metrics-addr\": \"127.0.0.1:9323\" in daemon.json (`berth setup --override metrics-addr --yes --restart`), and scrape it through a local agent",
		(*hostEnv).checkMetricsAddr),
	newHostCheck("host-tcp-tls", "2.7", "A TCP listener of the engine requires TLS client certificates", policy.Critical,
		"remove the tcp:// host (reach the engine over SSH: DOCKER_HOST=ssh://HOST), or set \"tlsverify\": true with tlscacert, tlscert and tlskey",
		(*hostEnv).checkTCPTLS),
	newHostCheck("host-insecure-registries", "2.5", "No insecure registry is configured", policy.Medium,
		"remove the registry from \"insecure-registries\" (or --insecure-registry) and give it a certificate; a private CA goes in /etc/docker/certs.d/REGISTRY/ca.crt",
		(*hostEnv).checkInsecureRegistries),
}

// HostChecks is the catalogue, in report order.
func HostChecks() []Check {
	out := make([]Check, len(hostCatalogue))
	for i, hc := range hostCatalogue {
		out[i] = hc.Check
	}
	return out
}

// AuditHost runs every host check.
func AuditHost(f HostFacts) []Result {
	if !f.Local {
		out := make([]Result, len(hostCatalogue))
		for i, hc := range hostCatalogue {
			out[i] = hc.Skip(f.Host, hostRemoteReason)
		}
		return out
	}
	return newHostEnv(f).audit()
}

func (e *hostEnv) audit() []Result {
	out := make([]Result, len(hostCatalogue))
	for i, hc := range hostCatalogue {
		out[i] = e.runOne(hc)
	}
	return out
}

// runOne keeps one check's bug on one odd host from taking the whole
// report with it.
func (e *hostEnv) runOne(hc hostCheck) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			r = hc.Skip(e.f.Host, fmt.Sprintf("the check stopped on an unexpected case (%v); please report it", p))
		}
	}()
	return hc.run(e, hc.Check)
}

// hostEnv is what the checks read from one host, read once.
type hostEnv struct {
	f    HostFacts
	root string

	users    map[uint32]string // uid -> name, from /etc/passwd
	groups   []hostGroup       // from /etc/group
	groupErr error

	daemonJSON string // on the host
	cfg        map[string]any
	cfgData    []byte
	cfgErr     error

	units     map[string]hostFile // "docker.service" -> the unit file in force
	unitFlags []dockerdFlag       // ExecStart of docker.service, drop-ins and environment applied
	procFlags []dockerdFlag       // the running dockerd's command line
	envOpts   []dockerdFlag       // DOCKER_OPTS, OPTIONS, ... of /etc/default/docker and /etc/sysconfig/docker

	statfs func(p string) (hostSpace, error)
}

func newHostEnv(f HostFacts) *hostEnv {
	e := &hostEnv{f: f, root: f.Root, statfs: hostStatfs}
	if e.root == "" {
		e.root = "/"
	}
	e.daemonJSON = f.DaemonJSON
	if e.daemonJSON == "" {
		e.daemonJSON = "/etc/docker/daemon.json"
	}
	e.users = e.readPasswd()
	e.groups, e.groupErr = e.readGroups()
	e.loadDockerdFlags()
	// dockerd reads the file its --config-file names, when it names one.
	if f.DaemonJSON == "" {
		for _, fl := range e.flags() {
			if fl.name == "config-file" && fl.value != "" {
				e.daemonJSON = fl.value
			}
		}
	}
	e.cfg, e.cfgData, e.cfgErr = e.readDaemonJSON()
	return e
}

func (e *hostEnv) result(c Check, st Status, evidence string) Result {
	return c.Result(e.f.Host, st, evidence)
}

func (e *hostEnv) skip(c Check, reason string) Result { return c.Skip(e.f.Host, reason) }

// dataRoot is the engine's data root on the host.
func (e *hostEnv) dataRoot() string {
	if e.f.DataRoot != "" {
		return path.Clean(e.f.DataRoot)
	}
	if s, ok := e.cfg["data-root"].(string); ok && s != "" {
		return path.Clean(s)
	}
	return "/var/lib/docker"
}

// --- 1.1.1: a filesystem of its own ---

func (e *hostEnv) checkDataRootPartition(c Check) Result {
	dr := e.dataRoot()
	hf := e.stat(dr)
	if hf.err != nil {
		return e.skip(c, hf.statProblem("the data root"))
	}
	if !hf.fi.IsDir() {
		return e.skip(c, fmt.Sprintf("the data root %s is not a directory", dr))
	}
	devOf := func(p string) (uint64, bool) {
		h := e.stat(p)
		if h.err != nil {
			return 0, false
		}
		d, ok := hostDev(h.fi)
		return d, ok
	}
	dev, ok1 := hostDev(hf.fi)
	parent, ok2 := devOf(path.Dir(hf.real))
	rootDev, ok3 := devOf("/")
	if !ok1 || !ok2 || !ok3 {
		return e.skip(c, "this platform does not report the device of a file")
	}
	st, where := hostSeparateFS(dev, parent, rootDev)
	if where == hostFSSharesOther {
		// Name the mount it shares: the highest directory above it on the
		// same device.
		mnt := hf.real
		for p := path.Dir(hf.real); p != "/"; p = path.Dir(p) {
			if d, ok := devOf(p); ok && d == dev {
				mnt = p
			}
		}
		return e.result(c, st, fmt.Sprintf("%s shares the filesystem mounted at %s, which is separate from /", dr, mnt))
	}
	if where == hostFSOwn {
		return e.result(c, st, dr+" is a mount point of its own")
	}
	return e.result(c, st, dr+" is on the root filesystem: containers filling it fill the host's /")
}

const (
	hostFSOwn = iota
	hostFSSharesOther
	hostFSSharesRoot
)

// hostSeparateFS judges a data root by the device numbers of it, its
// parent directory and the host's /: its own mount passes, and so does a
// filesystem other than / it shares (say /var); only sharing / warns. A
// btrfs subvolume has a device of its own too: it passes, never a false
// alarm.
func hostSeparateFS(dataRoot, parent, root uint64) (Status, int) {
	switch {
	case dataRoot != parent:
		return Pass, hostFSOwn
	case dataRoot != root:
		return Pass, hostFSSharesOther
	}
	return Warn, hostFSSharesRoot
}

// --- free space ---

// hostSpace is a filesystem's size and what is left, for unprivileged users.
type hostSpace struct {
	total, avail uint64 // bytes
	files, ffree uint64 // inodes (0 files: the filesystem does not count them)
}

func hostStatfs(p string) (hostSpace, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(p, &st); err != nil {
		return hostSpace{}, err
	}
	bs := uint64(st.Bsize) //nolint:gosec // a block size is never negative
	return hostSpace{total: st.Blocks * bs, avail: st.Bavail * bs, files: st.Files, ffree: st.Ffree}, nil
}

const hostGiB = 1 << 30

// judgeHostSpace: under 5% free (blocks or inodes) fails, under 10% or 5 GiB
// warns. Overlay2 uses many inodes: running out of them fills the disk as
// surely as bytes do.
func judgeHostSpace(s hostSpace) (Status, string) {
	if s.total == 0 {
		return Skipped, "the filesystem reports no size"
	}
	pct := float64(s.avail) * 100 / float64(s.total)
	ev := fmt.Sprintf("%s free of %s (%.1f%%)", hostBytes(s.avail), hostBytes(s.total), pct)
	st := Pass
	switch {
	case pct < 5:
		st = Fail
	case pct < 10 || s.avail < 5*hostGiB:
		st = Warn
	}
	if s.files > 0 {
		ipct := float64(s.ffree) * 100 / float64(s.files)
		ev += fmt.Sprintf(", inodes %.1f%% free", ipct)
		switch {
		case ipct < 5:
			st = Fail
		case ipct < 10 && st == Pass:
			st = Warn
		}
	}
	return st, ev
}

func hostBytes(b uint64) string {
	switch {
	case b >= 1<<40:
		return fmt.Sprintf("%.1f TiB", float64(b)/(1<<40))
	case b >= hostGiB:
		return fmt.Sprintf("%.1f GiB", float64(b)/hostGiB)
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func (e *hostEnv) checkDataRootSpace(c Check) Result {
	dr := e.dataRoot()
	hf := e.stat(dr)
	if hf.err != nil {
		return e.skip(c, hf.statProblem("the data root"))
	}
	s, err := e.statfs(e.join(hf.real))
	if err != nil {
		return e.skip(c, fmt.Sprintf("cannot read the free space of %s: %v", dr, err))
	}
	st, ev := judgeHostSpace(s)
	if st == Skipped {
		return e.skip(c, ev)
	}
	return e.result(c, st, dr+": "+ev)
}

// --- 1.1.2: the docker group ---

type hostGroup struct {
	name    string
	gid     uint32
	members []string
}

func (e *hostEnv) readGroups() ([]hostGroup, error) {
	data, err := e.readFile("/etc/group")
	if err != nil {
		return nil, err
	}
	var out []hostGroup
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) < 4 || strings.HasPrefix(f[0], "#") {
			continue
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		g := hostGroup{name: f[0], gid: uint32(gid)}
		for _, m := range strings.Split(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				g.members = append(g.members, m)
			}
		}
		out = append(out, g)
	}
	return out, nil
}

// readPasswd maps uids to names.
func (e *hostEnv) readPasswd() map[uint32]string {
	users := map[uint32]string{}
	data, err := e.readFile("/etc/passwd")
	if err != nil {
		return users
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) < 4 {
			continue
		}
		if uid, err := strconv.ParseUint(f[2], 10, 32); err == nil {
			if _, dup := users[uint32(uid)]; !dup {
				users[uint32(uid)] = f[0]
			}
		}
	}
	return users
}

// primaryMembers are the users whose passwd entry names gid.
func (e *hostEnv) primaryMembers(gid uint32) []string {
	data, err := e.readFile("/etc/passwd")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) < 4 {
			continue
		}
		if g, err := strconv.ParseUint(f[3], 10, 32); err == nil && uint32(g) == gid {
			out = append(out, f[0])
		}
	}
	return out
}

func (e *hostEnv) group(name string) (hostGroup, bool) {
	for _, g := range e.groups {
		if g.name == name {
			return g, true
		}
	}
	return hostGroup{}, false
}

// socketGroup is the group dockerd gives its socket: "group" in daemon.json
// or -G, else docker.
func (e *hostEnv) socketGroup() string {
	if v, _, ok := e.stringSetting("group", "group"); ok && v != "" {
		return v
	}
	return "docker"
}

func (e *hostEnv) checkDockerGroup(c Check) Result {
	if e.groupErr != nil {
		return e.skip(c, fmt.Sprintf("cannot read /etc/group: %v", e.groupErr))
	}
	name := e.socketGroup()
	g, ok := e.group(name)
	if !ok {
		return e.result(c, Info, fmt.Sprintf("no %s group in /etc/group: only root reaches the engine's socket", name))
	}
	members := slices.Clone(g.members)
	for _, u := range e.primaryMembers(g.gid) {
		if !slices.Contains(members, u) {
			members = append(members, u+" (primary group)")
		}
	}
	if len(members) == 0 {
		return e.result(c, Info, fmt.Sprintf("the %s group (gid %d) has no members", name, g.gid))
	}
	return e.result(c, Info, fmt.Sprintf("the %s group (gid %d): %s; each can run a privileged container, so is root on this host (users of a directory service such as LDAP are not listed)",
		name, g.gid, strings.Join(members, ", ")))
}

// --- 1.1.3-1.1.18: auditd ---

// hostAuditTarget is one path CIS asks auditd to watch; alternatives are where
// distributions install it, the first present counts.
type hostAuditTarget struct {
	cis   string
	paths []string
}

var hostBinDirs = []string{"/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin", "/sbin"}

func hostBins(name string) []string {
	out := make([]string, len(hostBinDirs))
	for i, d := range hostBinDirs {
		out[i] = d + "/" + name
	}
	return out
}

func (e *hostEnv) auditTargets() []hostAuditTarget {
	unit := func(name string) []string {
		if hf, ok := e.units[name]; ok {
			return []string{hf.path}
		}
		return nil
	}
	return []hostAuditTarget{
		{"1.1.3", hostBins("dockerd")},
		{"1.1.4", []string{"/run/containerd"}},
		{"1.1.5", []string{e.dataRoot()}},
		{"1.1.6", []string{"/etc/docker"}},
		{"1.1.7", unit("docker.service")},
		{"1.1.8", []string{"/run/containerd/containerd.sock"}},
		{"1.1.9", unit("docker.socket")},
		{"1.1.10", []string{"/etc/default/docker"}},
		{"1.1.11", []string{e.daemonJSON}},
		{"1.1.12", []string{"/etc/containerd/config.toml"}},
		{"1.1.13", []string{"/etc/sysconfig/docker"}},
		{"1.1.14", hostBins("containerd")},
		{"1.1.15", hostBins("containerd-shim")},
		{"1.1.16", hostBins("containerd-shim-runc-v1")},
		{"1.1.17", hostBins("containerd-shim-runc-v2")},
		{"1.1.18", hostBins("runc")},
	}
}

// hostAuditWatch is a path auditd watches; a directory watch (-w DIR, -F dir=)
// covers everything below it.
type hostAuditWatch struct {
	path string
	tree bool
}

// readAuditRules reads the rules auditd loads: audit.rules and, for
// augenrules, rules.d/*.rules. found is false when neither exists.
func (e *hostEnv) readAuditRules() (watches []hostAuditWatch, found bool, err error) {
	files := []string{"/etc/audit/audit.rules"}
	if ents, derr := os.ReadDir(e.join("/etc/audit/rules.d")); derr == nil {
		for _, de := range ents {
			if strings.HasSuffix(de.Name(), ".rules") {
				files = append(files, "/etc/audit/rules.d/"+de.Name())
			}
		}
	}
	for _, f := range files {
		data, rerr := e.readFile(f)
		if errors.Is(rerr, fs.ErrNotExist) {
			continue
		}
		if rerr != nil {
			return nil, true, fmt.Errorf("reading %s: %w", f, rerr)
		}
		found = true
		watches = append(watches, parseHostAuditRules(data)...)
	}
	return watches, found, nil
}

func parseHostAuditRules(data []byte) []hostAuditWatch {
	var out []hostAuditWatch
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		for i := 0; i < len(f); i++ {
			switch {
			case f[i] == "-w" && i+1 < len(f):
				// A watch on a directory is recursive; on a file it is the file.
				out = append(out, hostAuditWatch{path: path.Clean(f[i+1]), tree: true})
				i++
			case strings.HasPrefix(f[i], "-w") && len(f[i]) > 2:
				out = append(out, hostAuditWatch{path: path.Clean(f[i][2:]), tree: true})
			case f[i] == "-F" && i+1 < len(f):
				k, v, _ := strings.Cut(f[i+1], "=")
				switch k {
				case "path":
					out = append(out, hostAuditWatch{path: path.Clean(v)})
				case "dir":
					out = append(out, hostAuditWatch{path: path.Clean(v), tree: true})
				}
				i++
			}
		}
	}
	return out
}

// hostAuditAlias puts the names merged-/usr and /run hosts give one file in one
// form, so a rule on /bin/dockerd covers /usr/bin/dockerd.
func hostAuditAlias(p string) string {
	p = path.Clean(p)
	for _, a := range [][2]string{{"/var/run", "/run"}, {"/bin", "/usr/bin"}, {"/sbin", "/usr/sbin"}, {"/lib", "/usr/lib"}} {
		if p == a[0] || strings.HasPrefix(p, a[0]+"/") {
			return a[1] + p[len(a[0]):]
		}
	}
	return p
}

func hostAuditWatched(ws []hostAuditWatch, p string) bool {
	p = hostAuditAlias(p)
	for _, w := range ws {
		wp := hostAuditAlias(w.path)
		if p == wp || w.tree && strings.HasPrefix(p, strings.TrimSuffix(wp, "/")+"/") {
			return true
		}
	}
	return false
}

func (e *hostEnv) checkAuditRules(c Check) Result {
	watches, found, err := e.readAuditRules()
	if err != nil {
		return e.skip(c, err.Error())
	}
	var missing, items []string
	for _, t := range e.auditTargets() {
		p := ""
		for _, cand := range t.paths {
			if e.stat(cand).err == nil {
				p = cand
				break
			}
		}
		if p == "" {
			continue // not on this host: nothing to watch
		}
		if !hostAuditWatched(watches, p) {
			missing = append(missing, p)
			items = append(items, fmt.Sprintf("%s (%s)", p, t.cis))
		}
	}
	if len(missing) == 0 {
		if !found {
			return e.result(c, Info, "no auditd rules, and none of Docker's files are on this host")
		}
		return e.result(c, Pass, "every Docker file and binary on this host is watched")
	}
	lines := make([]string, len(missing))
	for i, p := range missing {
		lines[i] = fmt.Sprintf("'-w %s -k docker'", p)
	}
	c.Fix = fmt.Sprintf("printf '%%s\\n' %s >> /etc/audit/rules.d/docker.rules && augenrules --load", strings.Join(lines, " "))
	if !found {
		return e.result(c, Warn, "no auditd rules (/etc/audit/audit.rules, /etc/audit/rules.d/*.rules): auditd is not set up; unwatched: "+strings.Join(items, ", "))
	}
	return e.result(c, Warn, "not watched: "+strings.Join(items, ", "))
}

// --- small helpers ---

func hostSortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// join is p of the host, below Root.
func (e *hostEnv) join(p string) string {
	return filepath.Join(e.root, filepath.FromSlash(path.Clean("/"+p)))
}
