package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// hostConfig is the part of a container's HostConfig that decides its
// privileges.
type hostConfig struct {
	Privileged        bool
	CapAdd            []string
	CapDrop           []string
	PidMode           string
	IpcMode           string
	UTSMode           string
	NetworkMode       string
	UsernsMode        string
	CgroupnsMode      string
	Binds             []string
	Mounts            []dockerMount
	Devices           []struct{ PathOnHost string }
	DeviceCgroupRules []string
	DeviceRequests    []struct {
		Driver       string
		Count        int
		Capabilities [][]string
	}
	SecurityOpt    []string
	MaskedPaths    *[]string // nil: the engine's defaults; [] (systempaths=unconfined): none
	ReadonlyPaths  *[]string
	ReadonlyRootfs bool
	Memory         int64
	NanoCpus       int64
	CpuQuota       int64
	PidsLimit      *int64
	RestartPolicy  struct {
		Name              string
		MaximumRetryCount int
	}
	LogConfig struct {
		Type   string
		Config map[string]string
	}
	PortBindings map[string][]struct {
		HostIp   string
		HostPort string
	}
	Sysctls map[string]string
}

// dockerMount is a Mounts entry; a volume of the local driver with o=bind
// is a bind mount of its device, whatever its type says.
type dockerMount struct {
	Type          string
	Source        string
	Target        string
	ReadOnly      bool
	VolumeOptions *struct {
		DriverConfig *struct {
			Name    string
			Options map[string]string
		}
	}
}

// containerConfig is the container's own configuration: in a create body
// at the top level, in an inspect document under Config.
type containerConfig struct {
	Image       string
	User        string
	Env         []string
	Labels      map[string]string
	Healthcheck *struct{ Test []string }
}

// inspectDoc is a container's inspect document.
type inspectDoc struct {
	Name       string
	Config     *containerConfig
	HostConfig *hostConfig
}

// createBody is the body of POST /containers/create as the engine reads
// it: the container config at the top level, HostConfig beside it. The
// engine ignores Name and Config keys in the body (the name comes from the
// query), so a decoy there must not be what is judged. When the body has
// no HostConfig key, the engine takes the host settings from the top level
// (a deprecated embedding older clients use).
type createBody struct {
	containerConfig
	HostConfig *hostConfig
}

// FromCreateBody normalizes a POST /containers/create body, as the
// authorization plugin sees it; name is the ?name= of the request. A body it
// cannot parse is an error: a judge that cannot read the request must not
// allow it.
func FromCreateBody(body []byte, name string) (Spec, error) {
	var b createBody
	if err := json.Unmarshal(body, &b); err != nil {
		return Spec{}, fmt.Errorf("reading the container create request: %w", err)
	}
	h := b.HostConfig
	if h == nil {
		h = &hostConfig{}
		if err := json.Unmarshal(body, h); err != nil {
			return Spec{}, fmt.Errorf("reading the container create request: %w", err)
		}
	}
	s := fromDocker(&b.containerConfig, h, name)
	s.UserUnknown = s.User == "" // the image's USER decides, which a request does not carry
	return s, nil
}

// FromInspect normalizes a container's inspect document (what the audit
// reads).
func FromInspect(doc []byte, name string) (Spec, error) {
	var d inspectDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return Spec{}, fmt.Errorf("reading the container document: %w", err)
	}
	if d.Name != "" {
		name = strings.TrimPrefix(d.Name, "/")
	}
	cfg := d.Config
	if cfg == nil {
		cfg = &containerConfig{}
	}
	return fromDocker(cfg, d.HostConfig, name), nil
}

// defaultMasked and defaultReadonly are paths the engine hides or makes
// read-only in every container; a request that leaves one out unmasks it
// (systempaths=unconfined sends both lists empty).
var (
	defaultMasked   = []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"}
	defaultReadonly = []string{"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"}
)

func fromDocker(cfg *containerConfig, h *hostConfig, name string) Spec {
	s := Spec{Name: name, Image: cfg.Image, User: cfg.User, Labels: cfg.Labels}
	s.Service = s.Labels["berth.service"]
	s.Healthcheck = cfg.Healthcheck != nil && len(cfg.Healthcheck.Test) > 0 && cfg.Healthcheck.Test[0] != "NONE"
	for _, e := range cfg.Env {
		k, v, _ := strings.Cut(e, "=")
		s.Env = append(s.Env, EnvVar{Name: k, Value: v})
	}
	if h == nil {
		return s
	}
	s.Privileged = h.Privileged
	s.CapAdd, s.CapDrop = normCaps(h.CapAdd), normCaps(h.CapDrop)
	s.PidMode, s.IpcMode, s.UTSMode, s.UsernsMode, s.CgroupnsMode = h.PidMode, h.IpcMode, h.UTSMode, h.UsernsMode, h.CgroupnsMode
	s.NetworkMode = h.NetworkMode
	for _, b := range h.Binds {
		// source:target[:options]; a named volume has no leading slash.
		parts := strings.Split(b, ":")
		if len(parts) < 2 {
			continue
		}
		m := Mount{Type: "volume", Source: parts[0], Target: parts[1]}
		if strings.HasPrefix(parts[0], "/") {
			m.Type = "bind"
		}
		if len(parts) > 2 {
			for _, o := range strings.Split(parts[2], ",") {
				m.ReadOnly = m.ReadOnly || o == "ro"
			}
		}
		s.Mounts = append(s.Mounts, m)
	}
	for _, m := range h.Mounts {
		s.Mounts = append(s.Mounts, m.normalize())
	}
	for _, dev := range h.Devices {
		s.Devices = append(s.Devices, dev.PathOnHost)
	}
	for _, r := range h.DeviceCgroupRules {
		s.Devices = append(s.Devices, "cgroup rule "+r)
	}
	for _, r := range h.DeviceRequests {
		s.Devices = append(s.Devices, fmt.Sprintf("device request %s %v", r.Driver, r.Capabilities))
	}
	parseSecurityOpt(&s, h.SecurityOpt)
	if h.MaskedPaths != nil && !containsAll(*h.MaskedPaths, defaultMasked) || h.ReadonlyPaths != nil && !containsAll(*h.ReadonlyPaths, defaultReadonly) {
		s.UnmaskedPaths = true
	}
	s.ReadOnlyRootfs = h.ReadonlyRootfs
	s.Memory, s.NanoCPUs = h.Memory, h.NanoCpus
	if s.NanoCPUs == 0 && h.CpuQuota > 0 {
		s.NanoCPUs = h.CpuQuota * 10_000 // any quota is a limit
	}
	if h.PidsLimit != nil && *h.PidsLimit > 0 {
		s.PidsLimit = *h.PidsLimit
	}
	s.RestartPolicy, s.RestartMaxRetry = h.RestartPolicy.Name, h.RestartPolicy.MaximumRetryCount
	s.LogDriver, s.LogOpts = h.LogConfig.Type, h.LogConfig.Config
	for port, binds := range h.PortBindings {
		cp, _ := strconv.Atoi(strings.Split(port, "/")[0])
		for _, b := range binds {
			hp, _ := strconv.Atoi(b.HostPort)
			s.Ports = append(s.Ports, Port{HostIP: b.HostIp, HostPort: hp, ContainerPort: cp})
		}
	}
	s.Sysctls = h.Sysctls
	return s
}

func (m dockerMount) normalize() Mount {
	out := Mount{Type: m.Type, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
	if m.VolumeOptions != nil && m.VolumeOptions.DriverConfig != nil {
		if src, ok := LocalBindDevice(m.VolumeOptions.DriverConfig.Name, m.VolumeOptions.DriverConfig.Options); ok {
			out.Type, out.Source = "bind", src
		}
	}
	return out
}

// LocalBindDevice says whether a volume of driver with these options is a
// bind mount of a host path (the local driver with o=bind), and of which.
func LocalBindDevice(driver string, opts map[string]string) (string, bool) {
	if driver != "" && driver != "local" {
		return "", false
	}
	for _, o := range strings.Split(opts["o"], ",") {
		if strings.TrimSpace(o) == "bind" || strings.TrimSpace(o) == "rbind" {
			return opts["device"], true
		}
	}
	return "", false
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
