package policy

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Severity orders findings; enforcement is decided by a threshold on it.
type Severity int

// Severities, lowest first.
const (
	Low Severity = iota + 1
	Medium
	High
	Critical
)

func (s Severity) String() string {
	switch s {
	case Low:
		return "low"
	case Medium:
		return "medium"
	case High:
		return "high"
	case Critical:
		return "critical"
	}
	return "unknown"
}

// ParseSeverity reads "low", "medium", "high" or "critical".
func ParseSeverity(s string) (Severity, error) {
	for sev := Low; sev <= Critical; sev++ {
		if sev.String() == strings.ToLower(s) {
			return sev, nil
		}
	}
	return 0, fmt.Errorf("severity %q is not one of low, medium, high, critical", s)
}

// MarshalText writes the severity's name in JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Rule is one built-in least-privilege check.
type Rule struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	CIS      string   `json:"cis,omitempty"` // CIS Docker Benchmark item
	Severity Severity `json:"severity"`
	// Lowest is set for a rule whose findings differ in severity: the
	// lowest they take (Severity is the highest).
	Lowest    Severity `json:"lowest_severity,omitempty"`
	Rationale string   `json:"rationale"`
	Fix       string   `json:"fix"`
	// Custom rules come from the user's policy, in CEL (Expr).
	Custom bool   `json:"custom,omitempty"`
	Expr   string `json:"expr,omitempty"`
	// check returns one message per violation (empty: compliant); checkWith
	// is for the rules that need the policy's settings; hits for the rules
	// whose findings differ in severity (a secret written in a file blocks,
	// one from the environment warns).
	check     func(s *Spec) []string
	checkWith func(p *Policy, s *Spec) []string
	hits      func(s *Spec) []hit
}

// hit is one violation with its own severity and fix.
type hit struct {
	msg string
	sev Severity
	fix string
}

// Rules returns the built-in rules, in a stable order.
func Rules() []Rule { return slices.Clone(builtin) }

// RuleByID finds a built-in rule; Policy.RuleByID also finds custom ones.
func RuleByID(id string) (Rule, bool) {
	for _, r := range builtin {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// dangerousCaps hand a container the host, or most of it.
var dangerousCaps = []string{"ALL", "SYS_ADMIN", "SYS_MODULE", "SYS_PTRACE", "SYS_RAWIO", "SYS_BOOT", "SYS_TIME", "NET_ADMIN", "DAC_READ_SEARCH", "MAC_ADMIN", "MAC_OVERRIDE", "BPF", "PERFMON", "SYSLOG", "LINUX_IMMUTABLE", "SETFCAP"}

// movingTags are the tags registries re-point at every release or build.
var movingTags = []string{"latest", "stable", "nightly", "edge", "main", "master", "dev", "develop", "beta", "alpha", "canary", "next", "rolling", "current", "lts", "unstable", "testing", "snapshot"}

// MovingTag says whether an image tag names a channel that moves (latest,
// stable, nightly, ...), not one build. Policy and the image audit share it.
func MovingTag(tag string) bool { return slices.Contains(movingTags, strings.ToLower(tag)) }

// allowedCaps may be added without a finding: binding a port below 1024 is
// an ordinary need.
var allowedCaps = []string{"NET_BIND_SERVICE"}

var builtin = []Rule{
	{ID: "privileged", Title: "Privileged container", CIS: "5.4", Severity: Critical,
		Rationale: "A privileged container has every capability and every device of the host: it is root on the host.",
		Fix:       "remove privileged: true; add only the capability the app needs (cap_add)",
		check:     func(s *Spec) []string { return when(s.Privileged, "runs privileged") }},
	{ID: "dangerous-capabilities", Title: "Dangerous capability added", CIS: "5.3", Severity: High,
		Rationale: "Capabilities such as SYS_ADMIN or NET_ADMIN let a process escape or reconfigure the host.",
		Fix:       "remove the capability from cap_add",
		check: func(s *Spec) []string {
			var out []string
			for _, c := range s.CapAdd {
				if slices.Contains(dangerousCaps, c) {
					out = append(out, "adds capability "+c)
				}
			}
			return out
		}},
	{ID: "added-capabilities", Title: "Capability added beyond the allow-list", CIS: "5.3", Severity: Medium,
		Rationale: "Every added capability widens what a compromised process can do.",
		Fix:       "remove it from cap_add, or waive it with the reason the app needs it",
		check: func(s *Spec) []string {
			var out []string
			for _, c := range s.CapAdd {
				if !slices.Contains(dangerousCaps, c) && !slices.Contains(allowedCaps, c) {
					out = append(out, "adds capability "+c)
				}
			}
			return out
		}},
	{ID: "capabilities-not-dropped", Title: "Default capabilities kept", CIS: "5.3", Severity: Low,
		Rationale: "Docker's default set (CHOWN, SETUID, NET_RAW, ...) is more than most apps need.",
		Fix:       "set cap_drop: [ALL] and add back only what the app needs",
		check: func(s *Spec) []string {
			return when(!s.Privileged && !slices.Contains(s.CapDrop, "ALL"), "does not drop ALL capabilities")
		}},
	{ID: "host-pid", Title: "Host PID namespace", CIS: "5.15", Severity: Critical,
		Rationale: "With the host's PID namespace a container sees and can signal every process on the host.",
		Fix:       "remove pid: host",
		check:     func(s *Spec) []string { return when(s.PidMode == "host", "shares the host's PID namespace") }},
	{ID: "host-ipc", Title: "Host IPC namespace", CIS: "5.16", Severity: High,
		Rationale: "The host's IPC namespace exposes shared memory of every process on the host.",
		Fix:       "remove ipc: host",
		check:     func(s *Spec) []string { return when(s.IpcMode == "host", "shares the host's IPC namespace") }},
	{ID: "host-network", Title: "Host network namespace", CIS: "5.9", Severity: High,
		Rationale: "On the host's network a container can bind any port and reach every local-only service.",
		Fix:       "remove network_mode: host; publish only the ports needed",
		check:     func(s *Spec) []string { return when(s.NetworkMode == "host", "uses the host's network") }},
	{ID: "host-uts", Title: "Host UTS namespace", CIS: "5.20", Severity: Medium,
		Rationale: "The host's UTS namespace lets a container change the host's hostname.",
		Fix:       "remove uts: host",
		check:     func(s *Spec) []string { return when(s.UTSMode == "host", "shares the host's UTS namespace") }},
	{ID: "host-userns", Title: "Host user namespace", CIS: "5.30", Severity: High,
		Rationale: "Opting out of user namespace remapping makes root in the container root on the host.",
		Fix:       "remove userns_mode: host",
		check:     func(s *Spec) []string { return when(s.UsernsMode == "host", "opts out of user namespace remapping") }},
	{ID: "host-cgroupns", Title: "Host cgroup namespace", Severity: Medium,
		Rationale: "The host's cgroup namespace exposes the host's cgroup tree.",
		Fix:       "remove cgroup: host",
		check:     func(s *Spec) []string { return when(s.CgroupnsMode == "host", "shares the host's cgroup namespace") }},
	{ID: "docker-socket", Title: "Docker socket mounted", CIS: "5.31", Severity: Critical,
		Rationale: "Whoever reaches the Docker socket controls the engine, and through it the host.",
		Fix:       "remove the mount; give the app a narrow API instead of the engine",
		check: func(s *Spec) []string {
			var out []string
			for _, m := range s.Mounts {
				if m.Type == "bind" && isDockerSocket(m.Source) {
					out = append(out, "mounts the Docker socket "+m.Source)
				}
			}
			return out
		}},
	{ID: "sensitive-mount", Title: "Sensitive host path mounted", CIS: "5.5", Severity: Critical,
		Rationale: "Host system directories give a container the host's configuration, keys and kernel interfaces.",
		Fix:       "mount a named volume or a narrow directory of the app's own instead",
		check: func(s *Spec) []string {
			var out []string
			for _, m := range s.Mounts {
				if m.Type == "bind" && !isDockerSocket(m.Source) && sensitiveMount(m.Source, m.ReadOnly, m.InProject) {
					out = append(out, "mounts the host's "+path.Clean(m.Source))
				}
			}
			return out
		}},
	{ID: "systempaths-unconfined", Title: "Kernel interfaces unmasked", Severity: Critical,
		Rationale: "systempaths=unconfined makes /proc/sys writable and /proc/kcore readable: root in the container can then change the host's kernel settings, such as the core dump handler, and run code on the host.",
		Fix:       "remove security_opt: systempaths=unconfined (and any MaskedPaths/ReadonlyPaths override)",
		check: func(s *Spec) []string {
			return when(s.UnmaskedPaths, "unmasks the host's kernel interfaces under /proc and /sys")
		}},
	{ID: "selinux-disabled", Title: "SELinux separation disabled", CIS: "5.2", Severity: High,
		Rationale: "label=disable turns off SELinux separation, a layer that stops a container reaching host files and other containers.",
		Fix:       "remove security_opt: label=disable; relabel the volume with :z or :Z instead",
		check: func(s *Spec) []string {
			// The engine itself disables labels for privileged containers and
			// those on the host's PID or IPC namespace, which their own rules
			// already report.
			implied := s.Privileged || s.PidMode == "host" || s.IpcMode == "host"
			return when(s.SELinuxDisabled && !implied, "runs with SELinux separation disabled")
		}},
	{ID: "writable-bind-mount", Title: "Writable bind mount", CIS: "5.5", Severity: Medium,
		Rationale: "A writable host directory lets a compromised container plant files the host or other containers trust.",
		Fix:       "mount it read-only (:ro), or use a named volume",
		check: func(s *Spec) []string {
			var out []string
			for _, m := range s.Mounts {
				if m.Type == "bind" && !m.ReadOnly {
					out = append(out, "mounts "+m.Source+" writable at "+m.Target)
				}
			}
			return out
		}},
	{ID: "devices", Title: "Host device passed in", CIS: "5.17", Severity: High,
		Rationale: "A host device gives direct access to hardware and, for many devices, to the host.",
		Fix:       "remove the device",
		check: func(s *Spec) []string {
			var out []string
			for _, d := range s.Devices {
				out = append(out, "has host device "+d)
			}
			return out
		}},
	{ID: "seccomp-unconfined", Title: "Seccomp disabled", CIS: "5.21", Severity: High,
		Rationale: "Without seccomp every system call reaches the host's kernel.",
		Fix:       "remove security_opt: seccomp=unconfined",
		check:     func(s *Spec) []string { return when(s.Seccomp == "unconfined", "runs without seccomp") }},
	{ID: "apparmor-unconfined", Title: "AppArmor disabled", CIS: "5.1", Severity: High,
		Rationale: "Without an AppArmor profile the container loses a layer of confinement.",
		Fix:       "remove security_opt: apparmor=unconfined",
		check:     func(s *Spec) []string { return when(s.AppArmor == "unconfined", "runs without AppArmor") }},
	{ID: "no-new-privileges", Title: "Privilege escalation allowed", CIS: "5.25", Severity: Medium,
		Rationale: "Without no-new-privileges a setuid binary in the image can raise a process's privileges.",
		Fix:       "add security_opt: [no-new-privileges:true]",
		check:     func(s *Spec) []string { return when(!s.NoNewPrivileges, "may gain privileges (no no-new-privileges)") }},
	{ID: "root-user", Title: "Runs as root", CIS: "4.1", Severity: Medium,
		Rationale: "Root in a container is one kernel bug away from root on the host.",
		Fix:       "set user: to a non-root UID (e.g. \"10001\")",
		check: func(s *Spec) []string {
			u, _, _ := strings.Cut(strings.TrimSpace(s.User), ":")
			switch {
			case s.UserUnknown:
				return []string{"runs as the image's user, unknown here: no user: is set and the image's USER is read only with an engine (berth deploy, berth audit)"}
			case u != "" && u != "root" && strings.TrimLeft(u, "0+") != "":
				return nil
			case s.UserFromImage:
				return []string{"runs as root: the image sets no USER (or USER root) and no user: is set"}
			}
			return []string{"runs as root (set user:)"}
		}},
	{ID: "writable-rootfs", Title: "Writable root filesystem", CIS: "5.12", Severity: Low,
		Rationale: "A read-only root filesystem stops an intruder from changing the app's own files.",
		Fix:       "set read_only: true and mount a tmpfs where the app writes",
		check:     func(s *Spec) []string { return when(!s.ReadOnlyRootfs, "has a writable root filesystem") }},
	{ID: "no-memory-limit", Title: "No memory limit", CIS: "5.10", Severity: Medium,
		Rationale: "A container without a memory limit can take the host's memory and get others killed.",
		Fix:       "set deploy.resources.limits.memory (or mem_limit)",
		check:     func(s *Spec) []string { return when(s.Memory <= 0, "has no memory limit") }},
	{ID: "no-cpu-limit", Title: "No CPU limit", CIS: "5.11", Severity: Low,
		Rationale: "A busy container without a CPU limit starves its neighbours.",
		Fix:       "set deploy.resources.limits.cpus (or cpus)",
		check:     func(s *Spec) []string { return when(s.NanoCPUs <= 0, "has no CPU limit") }},
	{ID: "no-pids-limit", Title: "No process limit", CIS: "5.28", Severity: Low,
		Rationale: "A fork bomb in a container without a pids limit takes the host down.",
		Fix:       "set deploy.resources.limits.pids (or pids_limit)",
		check:     func(s *Spec) []string { return when(s.PidsLimit <= 0, "has no pids limit") }},
	{ID: "restart-unbounded", Title: "Restart without a retry limit", CIS: "5.14", Severity: Low,
		Rationale: "A crash-looping container restarted forever hides the failure and burns the host; without a health check nothing notices.",
		Fix:       "use restart: on-failure:5, or unless-stopped with a health check and alerts",
		check: func(s *Spec) []string {
			switch {
			case s.RestartPolicy == "on-failure" && s.RestartMaxRetry == 0:
				return []string{"restarts on failure without a retry limit"}
			case s.RestartPolicy == "always" && s.RestartMaxRetry == 0 && !s.Healthcheck:
				return []string{"restarts always, without a retry limit or a health check"}
			}
			return nil
		}},
	{ID: "no-healthcheck", Title: "No health check", CIS: "4.6", Severity: Low,
		Rationale: "Without a health check a hung process looks alive.",
		Fix:       "add a healthcheck: (or a route with health: for web services)",
		check:     func(s *Spec) []string { return when(!s.Healthcheck, "has no HEALTHCHECK") }},
	{ID: "no-log-rotation", Title: "Logs not rotated", Severity: Low,
		Rationale: "An unrotated json-file log grows until the disk is full.",
		Fix:       "set logging.options.max-size (berth sets 10m by default)",
		check: func(s *Spec) []string {
			return when((s.LogDriver == "" || s.LogDriver == "json-file") && s.LogOpts["max-size"] == "", "logs to json-file without max-size")
		}},
	{ID: "mutable-image-tag", Title: "Image by a mutable tag", Severity: Medium,
		Rationale: "A moving tag (latest, stable, nightly, edge, main, master, dev, beta), or no tag at all, means a redeploy can run different code than was tested.",
		Fix:       "pin the image by digest (@sha256:...) or an immutable version tag",
		check: func(s *Spec) []string {
			if s.Image == "" || strings.Contains(s.Image, "@sha256:") || isImageID(s.Image) {
				return nil
			}
			name := s.Image[strings.LastIndex(s.Image, "/")+1:]
			_, tag, ok := strings.Cut(name, ":")
			switch {
			case !ok:
				return []string{"runs image " + s.Image + " with no tag (latest, which moves)"}
			case MovingTag(tag):
				return []string{"runs image " + s.Image + " by the moving tag " + tag}
			}
			return nil
		}},
	{ID: "registry-not-allowed", Title: "Image from a registry outside the allow-list", CIS: "4.2", Severity: High,
		Rationale: "An image from an unvetted registry is code nobody on the team reviewed, running on the host.",
		Fix:       "push the image to an allowed registry, or add its registry to policy.registries",
		checkWith: func(p *Policy, s *Spec) []string {
			if len(p.Registries) == 0 || s.Image == "" || isImageID(s.Image) {
				return nil
			}
			repo := NormalizeRepository(s.Image)
			for _, r := range p.Registries {
				r = strings.TrimSuffix(r, "/")
				if repo == r || strings.HasPrefix(repo, r+"/") {
					return nil
				}
			}
			return []string{"runs image " + s.Image + " from " + repo[:strings.IndexByte(repo+"/", '/')] + ", which is not in policy.registries"}
		}},
	{ID: "port-all-interfaces", Title: "Port published on all interfaces", CIS: "5.13", Severity: Low,
		Rationale: "A port published on 0.0.0.0 is reachable from every network the host is on.",
		Fix:       "publish it on a specific address (127.0.0.1:8080:8080), or route it through berth-proxy",
		check: func(s *Spec) []string {
			var out []string
			for _, p := range s.Ports {
				if p.HostIP == "" || p.HostIP == "0.0.0.0" || p.HostIP == "::" {
					out = append(out, fmt.Sprintf("publishes port %d on all interfaces", p.HostPort))
				}
			}
			return out
		}},
	{ID: "privileged-port", Title: "Privileged host port", CIS: "5.7", Severity: Low,
		Rationale: "Ports below 1024 are the host's services; a container should not take one by accident.",
		Fix:       "publish a port of 1024 or above",
		check: func(s *Spec) []string {
			var out []string
			for _, p := range s.Ports {
				if p.HostPort > 0 && p.HostPort < 1024 {
					out = append(out, fmt.Sprintf("publishes privileged host port %d", p.HostPort))
				}
			}
			return out
		}},
	{ID: "sysctls", Title: "Kernel parameters set", Severity: Medium,
		Rationale: "Namespaced sysctls change kernel behaviour for the container; some weaken isolation.",
		Fix:       "remove sysctls: unless the app needs them, then waive with the reason",
		check: func(s *Spec) []string {
			var out []string
			for k := range s.Sysctls {
				out = append(out, "sets sysctl "+k)
			}
			slices.Sort(out)
			return out
		}},
	{ID: "secret-in-env", Title: "Secret in an environment variable", CIS: "4.10", Severity: High, Lowest: Medium,
		Rationale: "Environment variables show in docker inspect, in crash reports and in child processes; one written in compose.yaml or berth.yaml is also in every clone of the repository. A secret written literally in a committed file blocks (high); one taken from the environment, .env or an env_file warns (medium).",
		Fix:       "mount it as a compose secret (secrets:, read-only under /run/secrets) and point the image at the file with its *_FILE variable",
		hits:      secretHits},
}

func when(cond bool, msg string) []string {
	if cond {
		return []string{msg}
	}
	return nil
}

// NormalizeRepository returns an image reference's repository with its
// registry, as the engine resolves it on a pull: "nginx" is
// docker.io/library/nginx, "acme/app" is docker.io/acme/app, and a first
// component with a dot, a colon or "localhost" is a registry host.
func NormalizeRepository(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i] // the tag
	}
	first, rest, ok := strings.Cut(ref, "/")
	switch {
	case !ok:
		return "docker.io/library/" + ref
	case strings.ContainsAny(first, ".:") || first == "localhost":
		if first == "index.docker.io" || first == "registry-1.docker.io" {
			first = "docker.io"
		}
		if first == "docker.io" && !strings.Contains(rest, "/") {
			return "docker.io/library/" + rest
		}
		return first + "/" + rest
	}
	return "docker.io/" + ref
}

// isImageID is a reference by the engine's image ID, which names no
// registry: the pull that brought it there is judged on its own.
func isImageID(ref string) bool {
	id := strings.TrimPrefix(ref, "sha256:")
	if len(id) != 64 && !(ref != id && len(id) >= 12) {
		return false
	}
	for _, c := range id {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}
