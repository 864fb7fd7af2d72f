package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/berthhq/berth/internal/policy"
)

// The engine checks judge an engine by what its API says about itself, GET
// /info and the default bridge network, so they run the same on a remote
// host as on this one. A setting that only daemon.json or the host's files
// show is the host checks' business: the check that cannot see it says so
// and names `berth audit host`, it never guesses.

// EngineFacts is what the engine checks read, all of it from the Engine API, so they work on remote hosts.
type EngineFacts struct {
	Host     string    // host name in berth.yaml (or the -H endpoint)
	Info     []byte    // the engine's GET /info JSON
	Bridge   []byte    // GET /networks/bridge JSON; nil when it could not be read
	Endpoint string    // how berth reached the engine: "unix:///var/run/docker.sock", "tcp://10.0.0.5:2376", "ssh://..."
	TLS      bool      // berth reached it over TLS
	Now      time.Time // for end-of-life dates
}

// The checks, in report order: what hands out the host first.
var (
	engAPITLS = Check{ID: "engine-api-tls", Area: AreaEngine, CIS: "2.7", Severity: policy.Critical,
		Title: "Engine API is not served over TCP without TLS",
		Fix:   `listen on the unix socket only, or on TCP with "tlsverify": true and tlscacert, tlscert and tlskey in daemon.json (berth then connects over tcp:// with TLS)`}
	engVersion = Check{ID: "engine-version", Area: AreaEngine, CIS: "1.2.2", Severity: policy.High,
		Title: "Docker Engine release is maintained",
		Fix:   "upgrade Docker Engine to a maintained release (29.x as of 2026-12-01) from download.docker.com or your distribution"}
	engKernel = Check{ID: "engine-kernel", Area: AreaEngine, Severity: policy.High,
		Title: "Kernel is supported and outside known-bad ranges",
		Fix:   "install your distribution's current kernel and reboot"}
	engInsecureRegistries = Check{ID: "engine-insecure-registries", Area: AreaEngine, CIS: "2.5", Severity: policy.High,
		Title: "No insecure registries or plain-HTTP mirrors",
		Fix:   `remove the entries from "insecure-registries" and "registry-mirrors" in daemon.json; give the registry a TLS certificate (/etc/docker/certs.d/HOST:PORT/ca.crt for a private CA)`}
	engSeccomp = Check{ID: "engine-seccomp", Area: AreaEngine, CIS: "2.17", Severity: policy.High,
		Title: "Containers get a seccomp profile by default",
		Fix:   `remove "seccomp-profile": "unconfined" from daemon.json: the built-in default profile suits almost every container`}
	engAuthz = Check{ID: "engine-authz", Area: AreaEngine, CIS: "2.12", Severity: policy.Medium,
		Title: "An authorization plugin judges API requests",
		Fix:   "berth guard install"}
	engUserns = Check{ID: "engine-userns", Area: AreaEngine, CIS: "2.9", Severity: policy.Medium,
		Title: "User namespace remapping or rootless mode",
		Fix:   `set "userns-remap": "default" in daemon.json (bind-mounted files then need the remapped owner), or run the engine rootless`}
	engNoNewPrivileges = Check{ID: "engine-no-new-privileges", Area: AreaEngine, CIS: "2.14", Severity: policy.Medium,
		Title: "Containers cannot gain privileges by default",
		Fix:   `set "no-new-privileges": true in daemon.json (berth setup does it)`}
	engICC = Check{ID: "engine-icc", Area: AreaEngine, CIS: "2.2", Severity: policy.Medium,
		Title: "Containers on the default bridge cannot reach each other",
		Fix:   `set "icc": false in daemon.json (berth setup does it); berth's apps use networks of their own`}
	engLiveRestore = Check{ID: "engine-live-restore", Area: AreaEngine, CIS: "2.15", Severity: policy.Medium,
		Title: "Containers keep running while the engine restarts",
		Fix:   `set "live-restore": true in daemon.json (berth setup does it)`}
	engStorageDriver = Check{ID: "engine-storage-driver", Area: AreaEngine, CIS: "2.6", Severity: policy.Medium,
		Title: "Storage driver is overlay2",
		Fix:   `move to overlay2 ("storage-driver": "overlay2" on an ext4 or xfs data root); images and containers must be pulled or recreated after the switch`}
	engLogDriver = Check{ID: "engine-log-driver", Area: AreaEngine, Severity: policy.Medium,
		Title: "Container logs are rotated or shipped",
		Fix:   `set "log-driver": "local" in daemon.json (berth setup does it), or log-opts max-size for json-file`}
	engMetricsAddr = Check{ID: "engine-metrics-addr", Area: AreaEngine, Severity: policy.Medium,
		Title: "Engine metrics are not exposed beyond loopback",
		Fix:   `set "metrics-addr" to a loopback address (berth setup sets 127.0.0.1:9323)`}
	engCgroup = Check{ID: "engine-cgroup", Area: AreaEngine, Severity: policy.Low,
		Title: "cgroup v2",
		Fix:   "boot a distribution that uses cgroup v2 (systemd.unified_cgroup_hierarchy=1 on older ones) and keep the systemd cgroup driver"}
	engExperimental = Check{ID: "engine-experimental", Area: AreaEngine, CIS: "2.18", Severity: policy.Low,
		Title: "Experimental features are off",
		Fix:   `remove "experimental": true from daemon.json (or --experimental from the dockerd command line)`}
	engDebug = Check{ID: "engine-debug", Area: AreaEngine, Severity: policy.Low,
		Title: "Debug mode is off",
		Fix:   `remove "debug": true from daemon.json (or -D/--debug from the dockerd command line)`}
	engLSM = Check{ID: "engine-lsm", Area: AreaEngine, Severity: policy.Low,
		Title: "AppArmor or SELinux confines containers",
		Fix:   "enable AppArmor (Debian, Ubuntu, SUSE) or SELinux (RHEL, Fedora) on the host and restart the engine"}
	engSwarmManagers = Check{ID: "engine-swarm-managers", Area: AreaEngine, CIS: "7.1", Severity: policy.Medium,
		Title: "Swarm has an odd number of managers",
		Fix:   "run 3 or 5 managers (docker node promote / demote): raft needs a majority of them"}
	engSwarmAutolock = Check{ID: "engine-swarm-autolock", Area: AreaEngine, CIS: "7.5", Severity: policy.Medium,
		Title: "Swarm managers are auto-locked",
		Fix:   "docker swarm update --autolock=true, and keep the unlock key out of the hosts"}
	engSwarmCertExpiry = Check{ID: "engine-swarm-cert-expiry", Area: AreaEngine, CIS: "7.7", Severity: policy.Low,
		Title: "Swarm node certificates expire within 90 days",
		Fix:   "docker swarm update --cert-expiry 2160h (90 days, the default) or shorter"}
	engWarnings = Check{ID: "engine-warnings", Area: AreaEngine, Severity: policy.Medium,
		Title: "Engine reports no warnings",
		Fix:   "follow the warning: `docker info` prints the same text"}
	engRootDir = Check{ID: "engine-root-dir", Area: AreaEngine, Severity: policy.Low,
		Title: "Engine data root",
		Fix:   "none: for information (`berth audit host` checks the directory itself)"}
)

type engineCheck struct {
	Check
	run func(c Check, f EngineFacts, in *engineInfo) []Result
}

var engineCatalogue = []engineCheck{
	{engAPITLS, engineCheckAPITLS},
	{engVersion, engineCheckVersion},
	{engKernel, engineCheckKernel},
	{engInsecureRegistries, engineCheckInsecureRegistries},
	{engSeccomp, engineCheckSeccomp},
	{engAuthz, engineCheckAuthz},
	{engUserns, engineCheckUserns},
	{engNoNewPrivileges, engineCheckNoNewPrivileges},
	{engICC, engineCheckICC},
	{engLiveRestore, engineCheckLiveRestore},
	{engStorageDriver, engineCheckStorageDriver},
	{engLogDriver, engineCheckLogDriver},
	{engMetricsAddr, engineCheckMetricsAddr},
	{engCgroup, engineCheckCgroup},
	{engExperimental, engineCheckExperimental},
	{engDebug, engineCheckDebug},
	{engLSM, engineCheckLSM},
	{engSwarmManagers, engineCheckSwarmManagers},
	{engSwarmAutolock, engineCheckSwarmAutolock},
	{engSwarmCertExpiry, engineCheckSwarmCertExpiry},
	{engWarnings, engineCheckWarnings},
	{engRootDir, engineCheckRootDir},
}

// EngineChecks is the catalogue of engine checks, in report order.
func EngineChecks() []Check {
	out := make([]Check, len(engineCatalogue))
	for i, ec := range engineCatalogue {
		out[i] = ec.Check
	}
	return out
}

// AuditEngine runs every engine check. An Info it cannot parse gives every check Skipped with the reason.
func AuditEngine(f EngineFacts) []Result {
	if f.Now.IsZero() {
		f.Now = time.Now()
	}
	in, err := parseEngineInfo(f.Info)
	var out []Result
	for _, ec := range engineCatalogue {
		if err != nil {
			out = append(out, ec.Skip(f.Host, fmt.Sprintf("the engine's GET /info could not be read (%v); run `docker info` on the host to see what it answers", err)))
			continue
		}
		out = append(out, ec.run(ec.Check, f, in)...)
	}
	return out
}

// engineInfo is the part of GET /info the checks read. keys records which
// fields the engine sent: an engine too old to report a setting gets a
// skipped check, not the zero value judged as if it had said false.
type engineInfo struct {
	Driver         string
	DriverStatus   [][]string
	Plugins        struct{ Authorization []string }
	Debug          bool
	LoggingDriver  string
	CgroupDriver   string
	CgroupVersion  string
	KernelVersion  string
	OSType         string
	RegistryConfig *struct {
		InsecureRegistryCIDRs []string
		IndexConfigs          map[string]*struct {
			Name    string
			Mirrors []string
			Secure  bool
		}
		Mirrors []string
	}
	DockerRootDir     string
	ExperimentalBuild bool
	ServerVersion     string
	Swarm             struct {
		LocalNodeState   string
		ControlAvailable bool
		Error            string
		Managers         int
		Cluster          *struct {
			Spec struct {
				CAConfig         struct{ NodeCertExpiry int64 }
				EncryptionConfig struct{ AutoLockManagers bool }
			}
		}
	}
	LiveRestoreEnabled bool
	SecurityOptions    []string
	Warnings           []string

	keys map[string]json.RawMessage
}

func parseEngineInfo(b []byte) (*engineInfo, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	in := &engineInfo{}
	if err := json.Unmarshal(b, &in.keys); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, in); err != nil {
		return nil, err
	}
	return in, nil
}

// has says whether the engine sent the field at all.
func (in *engineInfo) has(key string) bool { _, ok := in.keys[key]; return ok }

// securityOption finds "name=NAME[,k=v...]" in SecurityOptions and returns
// its key/value pairs.
func (in *engineInfo) securityOption(name string) (map[string]string, bool) {
	for _, opt := range in.SecurityOptions {
		kv := map[string]string{}
		for _, part := range strings.Split(opt, ",") {
			k, v, _ := strings.Cut(part, "=")
			kv[k] = v
		}
		if kv["name"] == name {
			return kv, true
		}
	}
	return nil, false
}

// engineNotReported is a check skipped because this engine does not send the field.
func engineNotReported(c Check, f EngineFacts, field string) []Result {
	return []Result{c.Skip(f.Host, fmt.Sprintf("GET /info has no %s: this engine does not report it (an older or non-Docker engine)", field))}
}

// engineDefer is an info result that defers to another check: the pointer goes
// in both Evidence (the text report shows it) and Reason (JSON).
func engineDefer(c Check, host, evidence, reason string) Result {
	r := c.Result(host, Info, evidence+"; "+reason)
	r.Reason = reason
	return r
}

const engineByHost = "`berth audit host` reads it"

var engineAPIWarning = regexp.MustCompile(`API is accessible on (https?)://(\S+?) without (encryption|TLS client verification)`)

func engineCheckAPITLS(c Check, f EngineFacts, in *engineInfo) []Result {
	reached := "berth reached it at " + engineRedact(f.Endpoint)
	for _, w := range in.Warnings {
		if m := engineAPIWarning.FindStringSubmatch(w); m != nil {
			what := "without encryption"
			if m[3] != "encryption" {
				what = "without TLS client verification: TLS that checks no client lets anyone who reaches the port in"
			}
			return []Result{c.Result(f.Host, Fail, fmt.Sprintf("the engine warns that its API is served on %s://%s %s (%s)", m[1], m[2], what, reached))}
		}
	}
	u, err := url.Parse(f.Endpoint)
	if f.Endpoint == "" || err != nil {
		return []Result{c.Skip(f.Host, "berth did not record how it reached the engine, and GET /info does not list the daemon's listeners")}
	}
	unlisted := "the engine warns of no plain-TCP listener (GET /info does not list its listeners, it only warns about unencrypted ones)"
	switch u.Scheme {
	case "tcp", "http":
		if !f.TLS {
			return []Result{c.Result(f.Host, Fail, reached+" without TLS: whoever reaches that port has root on the host")}
		}
		return []Result{c.Result(f.Host, Pass, reached+" over TLS; "+unlisted)}
	case "https":
		return []Result{c.Result(f.Host, Pass, reached+" over TLS; "+unlisted)}
	case "unix", "ssh", "npipe", "fd":
		return []Result{c.Result(f.Host, Pass, reached+"; "+unlisted)}
	}
	return []Result{c.Result(f.Host, Info, reached+": a scheme berth does not judge; "+unlisted)}
}

// engineRedact hides a password in an endpoint or mirror URL.
func engineRedact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

func engineCheckInsecureRegistries(c Check, f EngineFacts, in *engineInfo) []Result {
	rc := in.RegistryConfig
	if rc == nil {
		return engineNotReported(c, f, "RegistryConfig")
	}
	var bad []string
	for _, cidr := range rc.InsecureRegistryCIDRs {
		if !engineLoopbackPrefix(cidr) {
			bad = append(bad, "insecure registry range "+cidr)
		}
	}
	mirrors := slices.Clone(rc.Mirrors)
	for name, ic := range rc.IndexConfigs {
		if ic == nil {
			continue
		}
		mirrors = append(mirrors, ic.Mirrors...)
		if !ic.Secure && !engineLoopbackHost(name) {
			bad = append(bad, "insecure registry "+name)
		}
	}
	seen := map[string]bool{}
	for _, m := range mirrors {
		if strings.HasPrefix(strings.ToLower(m), "http://") && !seen[m] {
			seen[m] = true
			bad = append(bad, "plain-HTTP mirror "+engineRedact(m))
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return []Result{c.Result(f.Host, Fail, strings.Join(bad, ", ")+": images come over HTTP or unverified TLS, so anyone on the path can swap them")}
	}
	return []Result{c.Result(f.Host, Pass, fmt.Sprintf("InsecureRegistryCIDRs %v is the engine's loopback default; no insecure registry or plain-HTTP mirror", rc.InsecureRegistryCIDRs))}
}

// engineLoopbackPrefix: the engine always trusts 127.0.0.0/8 (and, since 2024,
// ::1/128) over plain HTTP; its own default is not a finding.
func engineLoopbackPrefix(cidr string) bool {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return false
	}
	a := p.Masked().Addr()
	if a.Is4() {
		return a.IsLoopback() && p.Bits() >= 8
	}
	return a.IsLoopback() && p.Bits() == 128
}

func engineLoopbackHost(name string) bool {
	host := name
	if u, err := url.Parse("//" + name); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func engineCheckSeccomp(c Check, f EngineFacts, in *engineInfo) []Result {
	if !in.has("SecurityOptions") {
		return engineNotReported(c, f, "SecurityOptions")
	}
	kv, ok := in.securityOption("seccomp")
	switch {
	case !ok:
		return []Result{c.Result(f.Host, Fail, "SecurityOptions has no seccomp: containers run without a syscall filter (the engine was built without seccomp, or the kernel lacks it)")}
	case kv["profile"] == "unconfined":
		return []Result{c.Result(f.Host, Fail, `seccomp profile "unconfined": the daemon turns the syscall filter off for every container`)}
	case kv["profile"] == "" || kv["profile"] == "default" || kv["profile"] == "builtin":
		return []Result{c.Result(f.Host, Pass, fmt.Sprintf("seccomp, the engine's default profile (profile=%s)", kv["profile"]))}
	}
	return []Result{c.Result(f.Host, Pass, fmt.Sprintf("seccomp, a custom daemon-wide profile (profile=%s)", kv["profile"]))}
}

func engineCheckAuthz(c Check, f EngineFacts, in *engineInfo) []Result {
	if !in.has("Plugins") {
		return engineNotReported(c, f, "Plugins")
	}
	if p := in.Plugins.Authorization; len(p) > 0 {
		return []Result{c.Result(f.Host, Pass, "authorization plugins: "+strings.Join(p, ", "))}
	}
	return []Result{c.Result(f.Host, Warn, "no authorization plugin: whoever can reach the API can run a privileged container")}
}

func engineCheckUserns(c Check, f EngineFacts, in *engineInfo) []Result {
	if !in.has("SecurityOptions") {
		return engineNotReported(c, f, "SecurityOptions")
	}
	if _, ok := in.securityOption("rootless"); ok {
		return []Result{c.Result(f.Host, Pass, "rootless: the engine itself runs as an unprivileged user")}
	}
	if _, ok := in.securityOption("userns"); ok {
		return []Result{c.Result(f.Host, Pass, "userns: root in a container is an unprivileged user on the host")}
	}
	return []Result{c.Result(f.Host, Warn, "SecurityOptions has neither userns nor rootless: root in a container is root on the host")}
}

func engineCheckNoNewPrivileges(c Check, f EngineFacts, in *engineInfo) []Result {
	if !in.has("SecurityOptions") {
		return engineNotReported(c, f, "SecurityOptions")
	}
	if _, ok := in.securityOption("no-new-privileges"); ok {
		return []Result{c.Result(f.Host, Pass, "no-new-privileges is the default for every container")}
	}
	// The engine lists it since moby/moby#45320 (April 2023); 25.0 is the
	// first release certain to carry it. Older ones never say.
	if v, ok := parseEngineVersion(in.ServerVersion); ok && v.major >= 25 {
		return []Result{c.Result(f.Host, Warn, fmt.Sprintf("SecurityOptions has no no-new-privileges, which Docker %s lists when it is on: a setuid binary in an image can raise a process's privileges", v))}
	}
	return []Result{engineDefer(c, f.Host, fmt.Sprintf("SecurityOptions has no no-new-privileges, but Docker %q does not report it either way", in.ServerVersion),
		`"no-new-privileges" is in daemon.json; `+engineByHost)}
}

func engineCheckICC(c Check, f EngineFacts, in *engineInfo) []Result {
	if f.Bridge == nil {
		return []Result{c.Skip(f.Host, `GET /networks/bridge did not answer: the engine runs without a default bridge ("bridge": "none") or the request failed`)}
	}
	var br struct {
		Name    string
		Options map[string]string
	}
	if err := json.Unmarshal(f.Bridge, &br); err != nil {
		return []Result{c.Skip(f.Host, fmt.Sprintf("the default bridge network's JSON could not be read (%v)", err))}
	}
	const key = "com.docker.network.bridge.enable_icc"
	v, ok := br.Options[key]
	switch {
	case !ok:
		return []Result{c.Result(f.Host, Fail, "the default bridge has no "+key+" option, and the bridge driver enables it when unset")}
	case v == "false":
		return []Result{c.Result(f.Host, Pass, fmt.Sprintf("%s: %q on the default bridge", key, v))}
	}
	return []Result{c.Result(f.Host, Fail, fmt.Sprintf("%s: %q: every container on the default bridge reaches every other's ports", key, v))}
}

func engineCheckLiveRestore(c Check, f EngineFacts, in *engineInfo) []Result {
	if !in.has("LiveRestoreEnabled") {
		return engineNotReported(c, f, "LiveRestoreEnabled")
	}
	if in.LiveRestoreEnabled {
		return []Result{c.Result(f.Host, Pass, "LiveRestoreEnabled: true")}
	}
	if in.Swarm.LocalNodeState == "active" {
		return []Result{c.Result(f.Host, Info, "LiveRestoreEnabled: false, as swarm mode requires: dockerd refuses live-restore on a swarm node")}
	}
	return []Result{c.Result(f.Host, Fail, "LiveRestoreEnabled: false: every container stops while dockerd restarts or is upgraded")}
}

func engineCheckStorageDriver(c Check, f EngineFacts, in *engineInfo) []Result {
	d := in.Driver
	ev := fmt.Sprintf("Driver: %q", d)
	for _, kv := range in.DriverStatus {
		if len(kv) == 2 && kv[0] == "driver-type" && kv[1] == "io.containerd.snapshotter.v1" {
			ev += " (containerd image store)"
		}
	}
	switch d {
	case "":
		return engineNotReported(c, f, "Driver")
	case "overlay2", "overlayfs": // overlayfs: the containerd snapshotter's name for it
		return []Result{c.Result(f.Host, Pass, ev)}
	case "aufs", "devicemapper", "overlay":
		return []Result{c.Result(f.Host, Fail, ev+": deprecated (the engine itself warns), and newer releases drop it: an engine upgrade can leave this data root unreadable")}
	case "fuse-overlayfs":
		return []Result{c.Result(f.Host, Warn, ev+": overlay through FUSE, for rootless engines or kernels without native overlay; slower than overlay2")}
	case "vfs", "native":
		return []Result{c.Result(f.Host, Warn, ev+": no copy-on-write: every layer and container is a full copy, slow and heavy on disk")}
	case "btrfs", "zfs":
		return []Result{c.Result(f.Host, Info, ev+": supported on a "+d+" data root; overlay2 is the engine's recommended default")}
	case "windowsfilter":
		return []Result{c.Result(f.Host, Info, ev+": a Windows engine")}
	}
	return []Result{c.Result(f.Host, Warn, ev+": a driver berth does not know; overlay2 is the engine's recommended default")}
}

func engineCheckLogDriver(c Check, f EngineFacts, in *engineInfo) []Result {
	d := in.LoggingDriver
	ev := fmt.Sprintf("LoggingDriver: %q", d)
	switch d {
	case "":
		return engineNotReported(c, f, "LoggingDriver")
	case "local":
		return []Result{c.Result(f.Host, Pass, ev+": rotates by default")}
	case "json-file":
		return []Result{engineDefer(c, f.Host, ev, "the json-file rotation default (log-opts max-size) is in daemon.json; "+engineByHost)}
	case "none":
		return []Result{c.Result(f.Host, Warn, ev+": containers' output is thrown away; docker logs shows nothing")}
	case "journald":
		return []Result{c.Result(f.Host, Pass, ev+": journald stores and rotates the logs")}
	case "syslog", "fluentd", "gelf", "awslogs", "splunk", "gcplogs", "logentries", "etwlogs":
		return []Result{c.Result(f.Host, Pass, ev+": shipped off the container host; retention is the receiver's")}
	}
	return []Result{c.Result(f.Host, Info, ev+": a logging plugin; how it keeps and rotates logs is its own")}
}

func engineCheckMetricsAddr(c Check, f EngineFacts, _ *engineInfo) []Result {
	return []Result{c.Skip(f.Host, "metrics-addr is in daemon.json; "+engineByHost)}
}

func engineCheckCgroup(c Check, f EngineFacts, in *engineInfo) []Result {
	if !in.has("CgroupVersion") {
		return engineNotReported(c, f, "CgroupVersion")
	}
	ev := fmt.Sprintf("CgroupVersion: %q, CgroupDriver: %q", in.CgroupVersion, in.CgroupDriver)
	switch {
	case in.CgroupDriver == "none":
		return []Result{c.Result(f.Host, Warn, ev+": no cgroup driver, so memory, CPU and pids limits are not applied")}
	case in.CgroupVersion == "2" && in.CgroupDriver == "cgroupfs":
		return []Result{c.Result(f.Host, Pass, ev+`; on a systemd host "exec-opts": ["native.cgroupdriver=systemd"] keeps one manager of the cgroup tree`)}
	case in.CgroupVersion == "2":
		return []Result{c.Result(f.Host, Pass, ev)}
	case in.CgroupVersion == "1":
		return []Result{c.Result(f.Host, Warn, ev+": the legacy hierarchy; cgroup v2 enforces memory and IO limits (memory.high, io.max) v1 cannot, and rootless engines need it for limits")}
	}
	return []Result{c.Result(f.Host, Info, ev+": a cgroup version berth does not know")}
}

func engineCheckExperimental(c Check, f EngineFacts, in *engineInfo) []Result {
	if !in.has("ExperimentalBuild") {
		return engineNotReported(c, f, "ExperimentalBuild")
	}
	if in.ExperimentalBuild {
		return []Result{c.Result(f.Host, Warn, "ExperimentalBuild: true: features that may change or go without notice are on")}
	}
	return []Result{c.Result(f.Host, Pass, "ExperimentalBuild: false")}
}

func engineCheckDebug(c Check, f EngineFacts, in *engineInfo) []Result {
	if !in.has("Debug") {
		return engineNotReported(c, f, "Debug")
	}
	if in.Debug {
		return []Result{c.Result(f.Host, Warn, "Debug: true: the daemon logs at debug level, every API request included, and fills disks")}
	}
	return []Result{c.Result(f.Host, Pass, "Debug: false")}
}

func engineCheckLSM(c Check, f EngineFacts, in *engineInfo) []Result {
	if !in.has("SecurityOptions") {
		return engineNotReported(c, f, "SecurityOptions")
	}
	var on []string
	for _, name := range []string{"apparmor", "selinux"} {
		if _, ok := in.securityOption(name); ok {
			on = append(on, name)
		}
	}
	if len(on) > 0 {
		return []Result{c.Result(f.Host, Pass, strings.Join(on, ", ")+" in SecurityOptions: containers get a confining profile")}
	}
	return []Result{c.Result(f.Host, Info, fmt.Sprintf("SecurityOptions %v has neither apparmor nor selinux: no mandatory access control profile confines containers", in.SecurityOptions))}
}

// engineSwarmNotJudged returns the results for the cases where a swarm check
// has nothing to judge: no swarm, a node in trouble, or a worker, which
// does not see the cluster.
func engineSwarmNotJudged(c Check, f EngineFacts, in *engineInfo) ([]Result, bool) {
	s := in.Swarm
	switch {
	case !in.has("Swarm"):
		return engineNotReported(c, f, "Swarm"), true
	case s.LocalNodeState == "" || s.LocalNodeState == "inactive":
		return []Result{c.Result(f.Host, Info, fmt.Sprintf("swarm not active (LocalNodeState: %q)", s.LocalNodeState))}, true
	case s.LocalNodeState == "error":
		return []Result{c.Result(f.Host, Warn, fmt.Sprintf("swarm in error: %s", s.Error))}, true
	case s.LocalNodeState != "active":
		return []Result{c.Result(f.Host, Info, fmt.Sprintf("swarm %s (LocalNodeState: %q): run the audit again once the node is active", s.LocalNodeState, s.LocalNodeState))}, true
	case !s.ControlAvailable:
		return []Result{c.Result(f.Host, Info, "this node is a swarm worker: audit a manager to judge the swarm")}, true
	}
	return nil, false
}

func engineCheckSwarmManagers(c Check, f EngineFacts, in *engineInfo) []Result {
	if rs, done := engineSwarmNotJudged(c, f, in); done {
		return rs
	}
	m := in.Swarm.Managers
	switch {
	case m <= 0:
		return []Result{c.Skip(f.Host, "this manager's GET /info does not give the number of managers")}
	case m == 1:
		return []Result{c.Result(f.Host, Info, "1 manager: no fault tolerance; losing it loses control of the swarm")}
	case m%2 == 0:
		return []Result{c.Result(f.Host, Warn, fmt.Sprintf("%d managers: an even count survives no more failures (%d) than %d would, and a split network stops it more easily", m, (m-1)/2, m-1))}
	case m > 7:
		return []Result{c.Result(f.Host, Warn, fmt.Sprintf("%d managers: Docker recommends at most seven; each one slows every raft write", m))}
	}
	return []Result{c.Result(f.Host, Pass, fmt.Sprintf("%d managers: the swarm survives %d failing", m, (m-1)/2))}
}

func engineCheckSwarmAutolock(c Check, f EngineFacts, in *engineInfo) []Result {
	if rs, done := engineSwarmNotJudged(c, f, in); done {
		return rs
	}
	cl := in.Swarm.Cluster
	if cl == nil {
		return []Result{c.Skip(f.Host, "this manager's GET /info has no cluster spec")}
	}
	if cl.Spec.EncryptionConfig.AutoLockManagers {
		return []Result{c.Result(f.Host, Pass, "AutoLockManagers: true")}
	}
	return []Result{c.Result(f.Host, Warn, "AutoLockManagers: false: a stolen manager disk holds the raft log, secrets included, and the key to read it")}
}

// engineSwarmCertDefault is swarm's node certificate lifetime when none is set.
const engineSwarmCertDefault = 90 * 24 * time.Hour

func engineCheckSwarmCertExpiry(c Check, f EngineFacts, in *engineInfo) []Result {
	if rs, done := engineSwarmNotJudged(c, f, in); done {
		return rs
	}
	cl := in.Swarm.Cluster
	if cl == nil {
		return []Result{c.Skip(f.Host, "this manager's GET /info has no cluster spec")}
	}
	d := time.Duration(cl.Spec.CAConfig.NodeCertExpiry)
	if d == 0 {
		return []Result{c.Result(f.Host, Pass, "NodeCertExpiry unset: the 90-day default")}
	}
	days := int(d / (24 * time.Hour))
	if d > engineSwarmCertDefault {
		return []Result{c.Result(f.Host, Warn, fmt.Sprintf("NodeCertExpiry: %d days: a stolen node certificate stays valid longer than the 90-day default", days))}
	}
	return []Result{c.Result(f.Host, Pass, fmt.Sprintf("NodeCertExpiry: %d days", days))}
}

func engineCheckWarnings(c Check, f EngineFacts, in *engineInfo) []Result {
	var out []Result
	for _, w := range in.Warnings {
		// The first line is the warning; the rest is the engine's advice.
		line, _, _ := strings.Cut(strings.TrimSpace(w), "\n")
		out = append(out, c.Result(f.Host, Warn, strings.TrimSpace(line)))
	}
	if len(out) == 0 {
		return []Result{c.Result(f.Host, Pass, "the engine reports no warnings")}
	}
	return out
}

func engineCheckRootDir(c Check, f EngineFacts, in *engineInfo) []Result {
	if in.DockerRootDir == "" {
		return engineNotReported(c, f, "DockerRootDir")
	}
	return []Result{c.Result(f.Host, Info, fmt.Sprintf("DockerRootDir: %q", in.DockerRootDir))}
}
