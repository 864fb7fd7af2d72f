package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// dockerDoc is the part of a container create request body, or of a
// container's inspect document, that decides its privileges. Both carry
// Config and HostConfig; a create body has Config's fields at the top level.
type dockerDoc struct {
	Name        string
	Image       string
	User        string
	Env         []string
	Labels      map[string]string
	Healthcheck *struct{ Test []string }
	Config      *dockerDoc // inspect: the config lives here
	HostConfig  *struct {
		Privileged   bool
		CapAdd       []string
		CapDrop      []string
		PidMode      string
		IpcMode      string
		UTSMode      string
		NetworkMode  string
		UsernsMode   string
		CgroupnsMode string
		Binds        []string
		Mounts       []struct {
			Type     string
			Source   string
			Target   string
			ReadOnly bool
		}
		Devices        []struct{ PathOnHost string }
		SecurityOpt    []string
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
}

// FromDockerJSON normalizes a container create request body (what the
// authorization plugin sees) or a container inspect document (what the
// audit reads). A body it cannot parse is an error: a judge that cannot read
// the request must not allow it.
func FromDockerJSON(body []byte, name string) (Spec, error) {
	var d dockerDoc
	if err := json.Unmarshal(body, &d); err != nil {
		return Spec{}, fmt.Errorf("reading the container document: %w", err)
	}
	cfg := &d
	if d.Config != nil {
		cfg = d.Config
	}
	s := Spec{Name: strings.TrimPrefix(d.Name, "/"), Image: cfg.Image, User: cfg.User, Labels: cfg.Labels}
	s.Service = s.Labels["berth.service"]
	if s.Name == "" {
		s.Name = name
	}
	if d.Config != nil && d.Config.Image != "" {
		s.Image = d.Config.Image
	}
	s.Healthcheck = cfg.Healthcheck != nil && len(cfg.Healthcheck.Test) > 0 && cfg.Healthcheck.Test[0] != "NONE"
	for _, e := range cfg.Env {
		k, v, _ := strings.Cut(e, "=")
		s.Env = append(s.Env, EnvVar{Name: k, Value: v})
	}
	h := d.HostConfig
	if h == nil {
		return s, nil
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
		s.Mounts = append(s.Mounts, Mount{Type: m.Type, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	for _, dev := range h.Devices {
		s.Devices = append(s.Devices, dev.PathOnHost)
	}
	parseSecurityOpt(&s, h.SecurityOpt)
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
	return s, nil
}
