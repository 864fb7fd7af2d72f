package guard

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
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
	Rules  []string
	// Waived are the rules a waiver excused for this request: logged, so a
	// waiver is never invisible.
	Waived []string
}

var (
	versionPrefix = regexp.MustCompile(`^/v[0-9]+(\.[0-9]+)?`)
	execCreate    = regexp.MustCompile(`^/containers/[^/]+/exec$`)
	serviceUpdate = regexp.MustCompile(`^/services/[^/]+/update$`)
	pluginUpgrade = regexp.MustCompile(`^/plugins/.+/upgrade$`)
	pluginSet     = regexp.MustCompile(`^/plugins/.+/set$`)
)

// Decide judges one request. Requests that cannot create privilege are
// allowed; the ones that can are judged, and denied when their body cannot
// be read.
func (j Judge) Decide(req Request) Decision {
	u, err := url.Parse(req.RequestURI)
	if err != nil {
		return deny("", "berth guard: the request URI cannot be read, so it is denied")
	}
	if req.RequestMethod == "" || req.RequestURI == "" {
		return deny("", "berth guard: the request names no method or URI, so it is denied")
	}
	p := versionPrefix.ReplaceAllString(u.Path, "")
	if !strings.EqualFold(req.RequestMethod, "POST") {
		return Decision{Response: Response{Allow: true}}
	}
	q := u.Query()
	switch {
	case p == "/containers/create":
		body, d, ok := readable(req, "container-create")
		if !ok {
			return d
		}
		spec, err := policy.FromDockerJSON(body, q.Get("name"))
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
	case p == "/plugins/create":
		return deny("plugin-install", "berth guard: a plugin created from an uploaded archive declares its own privileges, which the plugin cannot see, so it is denied (fix: install it with docker plugin install from a registry, so its privileges are judged)")
	case pluginSet.MatchString(p):
		return deny("plugin-set", "berth guard: changing a plugin's settings can re-point its mounts and devices, which the guard does not judge, so it is denied (fix: stop the guard for this change; see docs/guard.md)")
	case p == "/build" && q.Get("networkmode") == "host":
		// Build steps on the host's network.
		return j.hostVerdict("image-build", policy.Spec{Name: "build", NetworkMode: "host"})
	case p == "/images/create" && q.Get("fromImage") != "":
		return j.pull(q.Get("fromImage"))
	}
	return Decision{Response: Response{Allow: true}}
}

// exec judges an exec: privileged, or as root, is denied; without a user
// the exec runs as the container's own user, which was judged when the
// container was created.
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
		return deny("exec-create", "berth guard: the exec request cannot be read, so it is denied")
	}
	user, _, _ := strings.Cut(strings.TrimSpace(ex.User), ":")
	rules := j.Policy.Rules
	switch {
	case ex.Privileged && rules["privileged"] != policy.Off:
		return deny("exec-create", "berth guard: privileged exec is denied by rule privileged, CIS 5.22 (fix: run the command without --privileged)", "privileged")
	case (user == "0" || user == "root") && rules["root-user"] != policy.Off && j.Policy.Mode != policy.Off:
		return deny("exec-create", "berth guard: exec as root is denied by rule root-user, CIS 5.23 (fix: exec as the container's own user, without --user root)", "root-user")
	}
	return Decision{Response: Response{Allow: true}, Action: "exec-create"}
}

// pull judges an image pull against the registry allow-list, so an image
// from elsewhere never reaches the host to be run by ID.
func (j Judge) pull(image string) Decision {
	spec := policy.Spec{Name: image, Image: image}
	for _, f := range policy.Blocking(j.Policy.Evaluate(&spec)) {
		if f.Rule == "registry-not-allowed" {
			return deny("image-pull", fmt.Sprintf("berth guard: denied: %s by rule %s (fix: %s)", f.Message, f.Rule, f.Fix), f.Rule)
		}
	}
	return Decision{Response: Response{Allow: true}, Action: "image-pull"}
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
func (j Judge) pluginVerdict(spec policy.Spec) Decision { return j.hostVerdict("plugin-install", spec) }

func (j Judge) hostVerdict(action string, spec policy.Spec) Decision {
	var blocking []policy.Finding
	for _, f := range policy.Blocking(j.Policy.Evaluate(&spec)) {
		if hostRules[f.Rule] {
			blocking = append(blocking, f)
		}
	}
	return verdictOf(action, blocking, "")
}

// resolveBinds replaces every bind source with the host path it reaches
// and returns a note naming the ones that differ.
func (j Judge) resolveBinds(s *policy.Spec) string {
	resolve := j.Resolve
	if resolve == nil {
		resolve = ResolveHostPath
	}
	var notes []string
	for i := range s.Mounts {
		m := &s.Mounts[i]
		if m.Type != "bind" {
			continue
		}
		if r := resolve(m.Source); r != m.Source {
			notes = append(notes, fmt.Sprintf("%s resolves to %s on the host", m.Source, r))
			m.Source = r
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
	ct := ""
	for k, v := range req.RequestHeaders {
		if strings.EqualFold(k, "Content-Type") {
			ct = v
		}
	}
	switch {
	case len(req.RequestBody) == 0:
		return nil, deny(action, "berth guard: the request body is not visible to the plugin (empty, or over the engine's 1 MiB forwarding limit), so it is denied"), false
	case len(req.RequestBody) > maxForwardedBody:
		return nil, deny(action, "berth guard: the request body is over 1 MiB, so it is denied"), false
	case !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/json"):
		return nil, deny(action, fmt.Sprintf("berth guard: the request body is %q, not JSON, so it is denied", ct)), false
	}
	return req.RequestBody, Decision{}, true
}

func (j Judge) verdict(action string, spec policy.Spec, note string) Decision {
	fs := j.Policy.Evaluate(&spec)
	d := verdictOf(action, policy.Blocking(fs), note)
	for _, f := range fs {
		if f.Waived {
			d.Waived = append(d.Waived, f.Rule)
		}
	}
	return d
}

func verdictOf(action string, blocking []policy.Finding, note string) Decision {
	if len(blocking) == 0 {
		return Decision{Response: Response{Allow: true}, Action: action}
	}
	var msgs, rules []string
	for _, f := range blocking {
		msgs = append(msgs, fmt.Sprintf("%s by rule %s (fix: %s)", f.Message, f.Rule, f.Fix))
		rules = append(rules, f.Rule)
	}
	msg := "berth guard: denied: " + strings.Join(msgs, "; ")
	if note != "" {
		msg += " [" + note + "]"
	}
	return deny(action, msg, rules...)
}

func deny(action, msg string, rules ...string) Decision {
	return Decision{Response: Response{Allow: false, Msg: msg}, Action: action, Rules: rules}
}
