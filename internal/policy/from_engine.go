package policy

import (
	"encoding/json"
	"strings"

	"github.com/berthhq/berth/internal/engine"
)

// FromEngine normalizes the container berth is about to create for a
// service: the deploy-time source.
func FromEngine(spec engine.ContainerSpec, service string) Spec {
	s := Spec{
		Name: spec.Name, Service: service, Image: spec.Image, User: spec.User, UserUnknown: spec.User == "",
		Privileged: spec.Privileged, PidMode: spec.PidMode, IpcMode: spec.IpcMode, UTSMode: spec.UTSMode,
		UsernsMode: spec.UsernsMode, CgroupnsMode: spec.CgroupnsMode,
		CapAdd: normCaps(spec.CapAdd), CapDrop: normCaps(spec.CapDrop),
		ReadOnlyRootfs: spec.ReadOnly, Memory: spec.Memory, NanoCPUs: spec.NanoCPUs, PidsLimit: spec.PidsLimit,
		LogDriver: spec.LogDriver, LogOpts: spec.LogOpts, Sysctls: spec.Sysctls, Labels: spec.Labels,
		Healthcheck: spec.Healthcheck != nil && !(len(spec.Healthcheck.Test) > 0 && spec.Healthcheck.Test[0] == "NONE"),
	}
	if len(spec.NetworkOrder) == 0 {
		s.NetworkMode = "default"
	}
	s.RestartPolicy, s.RestartMaxRetry = splitRestart(spec.Restart)
	for _, m := range spec.Mounts {
		s.Mounts = append(s.Mounts, Mount{Type: m.Type, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	for _, d := range spec.Devices {
		s.Devices = append(s.Devices, d.HostPath)
	}
	for _, p := range spec.Ports {
		s.Ports = append(s.Ports, Port{HostIP: p.HostIP, HostPort: p.HostPort, ContainerPort: p.ContainerPort})
	}
	for _, e := range spec.Env {
		k, v, _ := strings.Cut(e, "=")
		s.Env = append(s.Env, EnvVar{Name: k, Value: v})
	}
	parseSecurityOpt(&s, spec.SecurityOpt)
	return s
}

// normCaps writes capabilities as the rules compare them: upper case,
// without the CAP_ prefix.
func normCaps(caps []string) []string {
	out := make([]string, 0, len(caps))
	for _, c := range caps {
		out = append(out, strings.TrimPrefix(strings.ToUpper(c), "CAP_"))
	}
	return out
}

func splitRestart(p string) (string, int) {
	name, n, _ := strings.Cut(p, ":")
	retries := 0
	for _, c := range n {
		if c < '0' || c > '9' {
			break
		}
		retries = retries*10 + int(c-'0')
	}
	return name, retries
}

// parseSecurityOpt reads no-new-privileges, seccomp and apparmor in both
// the "key=value" and the older "key:value" forms.
func parseSecurityOpt(s *Spec, opts []string) {
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			k, v, ok = strings.Cut(o, ":")
		}
		switch strings.ToLower(k) {
		case "no-new-privileges":
			s.NoNewPrivileges = !ok || v == "true" || v == ""
		case "seccomp":
			s.Seccomp = seccompMode(v)
		case "apparmor":
			s.AppArmor = v
		case "label":
			s.SELinuxDisabled = s.SELinuxDisabled || v == "disable"
		case "systempaths":
			s.UnmaskedPaths = s.UnmaskedPaths || v == "unconfined"
		}
	}
}

// seccompMode reads a seccomp option: "unconfined", a profile name, or a
// profile inlined as JSON (what the docker CLI sends for a file), which is
// unconfined in effect when it allows every call it does not list.
func seccompMode(v string) string {
	if !strings.HasPrefix(strings.TrimSpace(v), "{") {
		return v
	}
	var p struct{ DefaultAction string }
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		return "unconfined" // a profile nobody can read protects nothing we can vouch for
	}
	switch p.DefaultAction {
	case "SCMP_ACT_ALLOW", "SCMP_ACT_LOG":
		return "unconfined"
	}
	return "custom"
}
