package guard

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/berthhq/berth/internal/policy"
)

// Judge decides authorization requests with a policy.
type Judge struct {
	Policy policy.Policy
	// Resolve turns a bind-mount source into the host path it reaches,
	// following symlinks and "..", so a link to / or to the Docker socket
	// is judged as what it is. Nil: ResolveHostPath.
	Resolve func(string) string
}

// Decision is a verdict with what it was about, for the audit log.
type Decision struct {
	Response
	Action string // container-create, exec-create, service-create, ... or "" for requests not judged
	// Rules are every rule that fired on the request, whether it denied
	// or only warned (a create with --uts host is allowed and names
	// host-uts); Blocking are the ones that denied it.
	Rules    []string
	Blocking []string
	// Waived are the rules a waiver excused for this request: logged, so a
	// waiver is never invisible.
	Waived []string
}

var (
	// versionPrefix is the engine router's /v{version:[0-9.]+}: /v1.41.0
	// and /v1.41. are versions to it too.
	versionPrefix  = regexp.MustCompile(`^/v([0-9.]+)(/|$)`)
	execCreate     = regexp.MustCompile(`^/containers/[^/]+/exec$`)
	containerStart = regexp.MustCompile(`^/containers/[^/]+/start$`)
	serviceUpdate  = regexp.MustCompile(`^/services/[^/]+/update$`)
	nodeUpdate     = regexp.MustCompile(`^/nodes/[^/]+/update$`)
	pluginUpgrade  = regexp.MustCompile(`^/plugins/.+/upgrade$`)
	pluginSet      = regexp.MustCompile(`^/plugins/.+/set$`)
)

// Decide judges one request. Requests that cannot create privilege are
// allowed; the ones that can are judged, and denied when their body cannot
// be read.
func (j Judge) Decide(req Request) Decision {
	if req.RequestMethod == "" || req.RequestURI == "" {
		return deny("", "berth guard: the request names no method or URI, so it is denied")
	}
	u, err := url.Parse(req.RequestURI)
	if err != nil {
		return deny("", "berth guard: the request URI cannot be read, so it is denied")
	}
	if !strings.EqualFold(req.RequestMethod, "POST") {
		return Decision{Response: Response{Allow: true}}
	}
	p := path.Clean("/" + u.Path)
	if m := versionPrefix.FindStringSubmatch(p); m != nil {
		p = "/" + strings.TrimPrefix(p[len(m[0]):], "/")
		if apiBefore(m[1], 1, 24) {
			// Before 1.24 a start request may carry a new HostConfig,
			// which would change a container judged at create.
			return deny("", "berth guard: Engine API versions before 1.24 can change a container's host settings at start, so they are denied (fix: use a client with API 1.24 or newer)")
		}
	}
	if ct := strings.ToLower(header(req, "Content-Type")); strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data") {
		// The engine reads parameters from form bodies too, and does not
		// forward them to plugins.
		return deny("", "berth guard: a form body can carry parameters the plugin cannot see, so it is denied (fix: pass parameters in the query string, as the docker CLI does)")
	}
	q := u.Query()
	switch {
	case p == "/containers/create":
		body, d, ok := readable(req, "container-create")
		if !ok {
			return d
		}
		spec, err := policy.FromCreateBody(body, q.Get("name"))
		if err != nil {
			return deny("container-create", "berth guard: the container create request cannot be read, so it is denied")
		}
		note := j.resolveBinds(&spec)
		return j.verdict("container-create", spec, note)
	case execCreate.MatchString(p):
		return j.exec(req)
	case p == "/services/create" || serviceUpdate.MatchString(p):
		action := "service-create"
		if p != "/services/create" {
			action = "service-update"
			if q.Get("rollback") == "previous" {
				return deny(action, "berth guard: a service rollback applies the stored previous spec, which the plugin cannot see, so it is denied (fix: update the service with the spec you want, which the guard judges)")
			}
		}
		body, d, ok := readable(req, action)
		if !ok {
			return d
		}
		spec, err := policy.FromSwarmService(body)
		if err != nil {
			return deny(action, "berth guard: the service spec cannot be read, so it is denied")
		}
		note := j.resolveBinds(&spec)
		return j.verdict(action, spec, note)
	case p == "/plugins/pull" || pluginUpgrade.MatchString(p):
		body, d, ok := readable(req, "plugin-install")
		if !ok {
			return d
		}
		name := q.Get("name")
		if name == "" {
			name = q.Get("remote")
		}
		spec, err := policy.FromPluginPrivileges(body, name)
		if err != nil {
			return deny("plugin-install", "berth guard: the plugin's privileges cannot be read, so the install is denied")
		}
		return j.pluginVerdict(spec)
	case containerStart.MatchString(p) && len(req.RequestBody) > 0:
		return deny("container-start", "berth guard: a start request with a body can change the container's host settings, so it is denied (fix: start without a body; set host settings at create)")
	case p == "/volumes/create":
		return j.volume(req)
	case p == "/swarm/join":
		return deny("swarm-join", "berth guard: tasks a swarm sends to this engine do not pass through its authorization plugin, so joining a swarm is denied (fix: join before the guard is installed, and run a guard on every manager; see docs/guard.md)")
	case nodeUpdate.MatchString(p):
		return j.nodeUpdate(req)
	case p == "/plugins/create":
		return deny("plugin-install", "berth guard: a plugin created from an uploaded archive declares its own privileges, which the plugin cannot see, so it is denied (fix: install it with docker plugin install from a registry, so its privileges are judged)")
	case pluginSet.MatchString(p):
		return deny("plugin-set", "berth guard: changing a plugin's settings can re-point its mounts and devices, which the guard does not judge, so it is denied (fix: stop the guard for this change; see docs/guard.md)")
	case p == "/build" && q.Get("networkmode") == "host":
		// Build steps on the host's network.
		return j.hostVerdict("image-build", policy.Spec{Name: "build", NetworkMode: "host"}, "")
	case p == "/images/create" && q.Get("fromImage") != "":
		return j.pull(q.Get("fromImage"))
	}
	return Decision{Response: Response{Allow: true}}
}

// exec judges an exec: privileged (CIS 5.22), or as root (CIS 5.23), is
// denied while the rule's mode is enforce, whatever the threshold: a
// locked-down container gains nothing from its own settings if anyone can
// exec into it as root. Without a user the exec runs as the container's
// own user, which was judged when the container was created.
func (j Judge) exec(req Request) Decision {
	body, d, ok := readable(req, "exec-create")
	if !ok {
		return d
	}
	var ex struct {
		Privileged bool
		User       string
	}
	if err := json.Unmarshal(body, &ex); err != nil {
		return deny("exec-create", "berth guard: the exec request cannot be read, so it is denied (fix: send it as the docker CLI does: JSON with Privileged as a boolean)")
	}
	switch {
	case ex.Privileged && j.enforced("privileged"):
		return deny("exec-create", "berth guard: privileged exec is denied by rule privileged, CIS 5.22 (fix: run the command without --privileged)", "privileged")
	case isRootUser(ex.User) && j.enforced("root-user"):
		return deny("exec-create", "berth guard: exec as root is denied by rule root-user, CIS 5.23 (fix: exec as the container's own user, without --user root)", "root-user")
	}
	return Decision{Response: Response{Allow: true}, Action: "exec-create"}
}

// enforced says whether a rule's mode is enforce.
func (j Judge) enforced(rule string) bool {
	mode := j.Policy.Mode
	if m, ok := j.Policy.Rules[rule]; ok {
		mode = m
	}
	return mode == policy.Enforce
}

// isRootUser: "root", or any number that is 0 ("0", "00", "+0"), with or
// without a group.
func isRootUser(u string) bool {
	name, _, _ := strings.Cut(strings.TrimSpace(u), ":")
	if name == "root" {
		return true
	}
	n, err := strconv.Atoi(name)
	return err == nil && n == 0
}

// volume judges a volume create: the local driver with o=bind is a bind
// mount of its device into whatever container later mounts the volume by
// name, which then looks like any named volume.
func (j Judge) volume(req Request) Decision {
	body, d, ok := readable(req, "volume-create")
	if !ok {
		return d
	}
	var v struct {
		Name       string
		Driver     string
		DriverOpts map[string]string
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return deny("volume-create", "berth guard: the volume create request cannot be read, so it is denied (fix: send JSON, as the docker CLI does)")
	}
	dev, isBind := policy.LocalBindDevice(v.Driver, v.DriverOpts)
	if !isBind {
		return Decision{Response: Response{Allow: true}, Action: "volume-create"}
	}
	spec := policy.Spec{Name: "volume " + v.Name, Mounts: []policy.Mount{{Type: "bind", Source: dev, Target: "/volume"}}}
	note := j.resolveBinds(&spec)
	return j.hostVerdict("volume-create", spec, note)
}

// nodeUpdate judges a swarm node update: promoting a node to manager lets
// services be created through its API, which this guard does not see.
func (j Judge) nodeUpdate(req Request) Decision {
	body, d, ok := readable(req, "node-update")
	if !ok {
		return d
	}
	var n struct{ Role string }
	if err := json.Unmarshal(body, &n); err != nil {
		return deny("node-update", "berth guard: the node update cannot be read, so it is denied")
	}
	if strings.EqualFold(n.Role, "manager") {
		return deny("node-update", "berth guard: a new manager can create services this guard does not see, so promotion is denied (fix: run a guard on the node first, then promote it with the guard stopped here; see docs/guard.md)")
	}
	return Decision{Response: Response{Allow: true}, Action: "node-update"}
}

// pull judges an image pull against the registry allow-list, so an image
// from elsewhere never reaches the host to be run by ID.
func (j Judge) pull(image string) Decision {
	spec := policy.Spec{Name: image, Image: image}
	var fs []policy.Finding
	for _, f := range j.Policy.Evaluate(&spec) {
		if f.Rule == "registry-not-allowed" {
			fs = append(fs, f)
		}
	}
	return decision("image-pull", fs, "")
}

// hostRules are the rules that judge what a plugin or a build is given:
// the ones about handing over the host. Hygiene rules (limits, user, health
// checks) describe a container, not a plugin's declared privileges, and
// would deny every plugin.
var hostRules = map[string]bool{
	"privileged": true, "dangerous-capabilities": true, "added-capabilities": true,
	"host-pid": true, "host-ipc": true, "host-network": true, "host-uts": true, "host-userns": true, "host-cgroupns": true,
	"docker-socket": true, "sensitive-mount": true, "devices": true, "seccomp-unconfined": true, "apparmor-unconfined": true,
}

// pluginVerdict judges a plugin's privileges by the host rules.
func (j Judge) pluginVerdict(spec policy.Spec) Decision {
	return j.hostVerdict("plugin-install", spec, "")
}

func (j Judge) hostVerdict(action string, spec policy.Spec, note string) Decision {
	var fs []policy.Finding
	for _, f := range j.Policy.Evaluate(&spec) {
		if hostRules[f.Rule] {
			fs = append(fs, f)
		}
	}
	return decision(action, fs, note)
}

// resolveBinds adds, for every bind source that leads somewhere else on
// this host (a symlink, ".."), a mount of where it leads, so both the
// written path and the real one are judged, and returns a note naming them.
func (j Judge) resolveBinds(s *policy.Spec) string {
	resolve := j.Resolve
	if resolve == nil {
		resolve = ResolveHostPath
	}
	var notes []string
	for _, m := range s.Mounts {
		if m.Type != "bind" {
			continue
		}
		if r := resolve(m.Source); r != m.Source {
			notes = append(notes, fmt.Sprintf("%s resolves to %s on the host", m.Source, r))
			m.Source = r
			s.Mounts = append(s.Mounts, m)
		}
	}
	return strings.Join(notes, "; ")
}

// ResolveHostPath returns where path leads on this host: ".." and "."
// removed, and every symlink of its longest existing prefix followed. A
// part that does not exist yet (the engine would create it) is kept as
// written below the resolved prefix.
func ResolveHostPath(path string) string {
	clean := filepath.Clean("/" + path)
	existing, rest := clean, ""
	for {
		if r, err := filepath.EvalSymlinks(existing); err == nil {
			return filepath.Join(r, rest)
		}
		if existing == "/" {
			return clean
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = filepath.Dir(existing)
	}
}

// readable returns the body of a judged request, or the denial when the
// plugin cannot see it: no body, an empty one, not JSON, or over the size
// the engine forwards.
func readable(req Request, action string) ([]byte, Decision, bool) {
	ct := header(req, "Content-Type")
	switch {
	case len(req.RequestBody) == 0:
		return nil, deny(action, "berth guard: the request body is not visible to the plugin (empty, not JSON, or over the engine's 1 MiB forwarding limit), so it is denied (fix: send the body as application/json, under 1 MiB)"), false
	case len(req.RequestBody) > maxForwardedBody:
		return nil, deny(action, "berth guard: the request body is over 1 MiB, so it is denied (fix: send the body as application/json, under 1 MiB)"), false
	case !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/json"):
		return nil, deny(action, fmt.Sprintf("berth guard: the request body is %q, not JSON, so it is denied (fix: send the body as application/json, under 1 MiB)", ct)), false
	}
	return req.RequestBody, Decision{}, true
}

func (j Judge) verdict(action string, spec policy.Spec, note string) Decision {
	return decision(action, j.Policy.Evaluate(&spec), note)
}

// decision turns findings into a verdict that names every rule that
// fired: the blocking ones deny, the others are logged as warnings, the
// waived ones as waived.
func decision(action string, fs []policy.Finding, note string) Decision {
	d := Decision{Response: Response{Allow: true}, Action: action}
	var msgs []string
	for _, f := range fs {
		switch {
		case f.Waived:
			d.Waived = appendNew(d.Waived, f.Rule)
		case f.Enforced:
			msgs = append(msgs, fmt.Sprintf("%s by rule %s (fix: %s)", f.Message, f.Rule, f.Fix))
			d.Blocking = appendNew(d.Blocking, f.Rule)
			d.Rules = appendNew(d.Rules, f.Rule)
		default:
			d.Rules = appendNew(d.Rules, f.Rule)
		}
	}
	if len(msgs) > 0 {
		d.Allow, d.Msg = false, "berth guard: denied: "+strings.Join(msgs, "; ")
		if note != "" {
			d.Msg += " [" + note + "]"
		}
	}
	return d
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func deny(action, msg string, rules ...string) Decision {
	return Decision{Response: Response{Allow: false, Msg: msg}, Action: action, Rules: rules, Blocking: rules}
}

func header(req Request, name string) string {
	for k, v := range req.RequestHeaders {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// apiBefore says whether API version v is older than major.minor.
func apiBefore(v string, major, minor int) bool {
	parts := strings.Split(strings.Trim(v, "."), ".")
	ma, err1 := strconv.Atoi(parts[0])
	mi := 0
	var err2 error
	if len(parts) > 1 && parts[1] != "" {
		mi, err2 = strconv.Atoi(parts[1])
	}
	if err1 != nil || err2 != nil {
		return true // a version nobody can read is not a new one
	}
	return ma < major || ma == major && mi < minor
}
