package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"strings"
)

// swarmService is the part of a swarm ServiceSpec, the body of
// POST /services/create and POST /services/{id}/update, that decides the
// privileges of the service's task containers. Names are the Engine API's
// (api/types/swarm); encoding/json matches them as the daemon does.
type swarmService struct {
	Name         string
	Labels       map[string]string
	TaskTemplate struct {
		Runtime       string
		ContainerSpec *struct {
			Image      string
			Labels     map[string]string
			User       string
			Env        []string
			Mounts     []dockerMount
			Privileges *struct {
				NoNewPrivileges bool
				SELinuxContext  *struct{ Disable bool }
				Seccomp         *struct {
					Mode    string
					Profile []byte // a JSON profile, base64 in the body
				}
				AppArmor *struct{ Mode string }
			}
			CapabilityAdd  []string
			CapabilityDrop []string
			Sysctls        map[string]string
			ReadOnly       bool
			Healthcheck    *struct{ Test []string }
		}
		Resources *struct {
			Limits *struct {
				NanoCPUs    int64
				MemoryBytes int64
				Pids        int64
			}
		}
		RestartPolicy *struct {
			Condition   string
			MaxAttempts *uint64
		}
		LogDriver *struct {
			Name    string
			Options map[string]string
		}
		Networks []struct{ Target string }
	}
	// Networks at the top level is deprecated (API 1.44) but swarmkit still
	// attaches the service to them when TaskTemplate.Networks is empty.
	Networks     []struct{ Target string }
	EndpointSpec *struct {
		Ports []struct {
			TargetPort    uint32
			PublishedPort uint32
		}
	}
}

// FromSwarmService normalizes a swarm service spec, the body of
// POST /services/create or POST /services/{id}/update, into the Spec of the
// containers its tasks will run. A body it cannot parse, or one without a
// TaskTemplate.ContainerSpec, is an error: a judge that cannot read the
// request must not allow it.
//
// Swarm services cannot be privileged, share the host's PID or IPC
// namespace, or take host devices, so those stay zero.
func FromSwarmService(body []byte) (Spec, error) {
	var d swarmService
	if err := json.Unmarshal(body, &d); err != nil {
		return Spec{}, fmt.Errorf("reading the service spec: %w", err)
	}
	if r := d.TaskTemplate.Runtime; r != "" && r != "container" {
		// A plugin task carries its own privileges (PluginSpec), and may
		// come with a harmless ContainerSpec as a decoy.
		return Spec{}, fmt.Errorf("reading the service spec: its tasks run %q, not containers", r)
	}
	c := d.TaskTemplate.ContainerSpec
	if c == nil {
		// Plugin and network-attachment tasks have no ContainerSpec; they
		// are not containers this judge can read.
		return Spec{}, errors.New("reading the service spec: it has no TaskTemplate.ContainerSpec")
	}
	s := Spec{
		Name: d.Name, Service: d.Name, Image: c.Image, User: c.User, UserUnknown: c.User == "",
		CapAdd: normCaps(c.CapabilityAdd), CapDrop: normCaps(c.CapabilityDrop),
		ReadOnlyRootfs: c.ReadOnly, Sysctls: c.Sysctls,
		Healthcheck: c.Healthcheck != nil && len(c.Healthcheck.Test) > 0 && c.Healthcheck.Test[0] != "NONE",
	}
	// The containers carry only the container labels, so those win over
	// the service's: a label waiver then selects the same container at
	// deploy time as the audit of its inspect document does later.
	if len(d.Labels)+len(c.Labels) > 0 {
		s.Labels = maps.Clone(d.Labels)
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		maps.Copy(s.Labels, c.Labels)
	}
	for _, e := range c.Env {
		k, v, _ := strings.Cut(e, "=")
		s.Env = append(s.Env, EnvVar{Name: k, Value: v})
	}
	for _, m := range c.Mounts {
		s.Mounts = append(s.Mounts, m.normalize())
	}
	if p := c.Privileges; p != nil {
		s.NoNewPrivileges = p.NoNewPrivileges
		s.SELinuxDisabled = p.SELinuxContext != nil && p.SELinuxContext.Disable
		if p.Seccomp != nil {
			s.Seccomp = swarmSeccomp(p.Seccomp.Mode, p.Seccomp.Profile)
		}
		if p.AppArmor != nil {
			switch p.AppArmor.Mode {
			case "", "default":
			case "disabled":
				s.AppArmor = "unconfined" // what apparmor=unconfined means for a container
			default:
				s.AppArmor = p.AppArmor.Mode
			}
		}
	}
	if r := d.TaskTemplate.Resources; r != nil && r.Limits != nil {
		s.Memory, s.NanoCPUs, s.PidsLimit = r.Limits.MemoryBytes, r.Limits.NanoCPUs, r.Limits.Pids
	}
	s.RestartPolicy, s.RestartMaxRetry = "always", 0 // swarm's default: condition any
	if rp := d.TaskTemplate.RestartPolicy; rp != nil {
		switch rp.Condition {
		case "none":
			s.RestartPolicy = "no"
		case "on-failure":
			s.RestartPolicy = "on-failure"
		case "", "any":
		default:
			s.RestartPolicy = rp.Condition
		}
		if rp.MaxAttempts != nil {
			s.RestartMaxRetry = int(min(*rp.MaxAttempts, math.MaxInt32))
		}
	}
	// No LogDriver: the cluster's default, then the engine's, as an empty
	// LogConfig means for a container.
	if ld := d.TaskTemplate.LogDriver; ld != nil {
		s.LogDriver, s.LogOpts = ld.Name, ld.Options
	}
	networks := d.TaskTemplate.Networks
	if len(networks) == 0 {
		networks = d.Networks
	}
	for _, n := range networks {
		if n.Target == "host" {
			s.NetworkMode = "host"
		}
	}
	if d.EndpointSpec != nil {
		// Ingress publishes on every node's every interface, and host mode
		// binds the node's every interface too: neither takes an address.
		for _, p := range d.EndpointSpec.Ports {
			s.Ports = append(s.Ports, Port{HostPort: int(p.PublishedPort), ContainerPort: int(p.TargetPort)})
		}
	}
	return s, nil
}

// swarmSeccomp writes a swarm seccomp mode as a container's
// security_opt seccomp= value: "unconfined", the profile itself, or "" for
// the engine's default.
func swarmSeccomp(mode string, profile []byte) string {
	switch mode {
	case "", "default":
		return ""
	case "custom":
		if len(profile) > 0 {
			return string(profile)
		}
	}
	return mode
}

// pluginPrivilege is one privilege of a managed plugin, as the daemon
// computes it from the plugin's config and the client accepts it.
type pluginPrivilege struct {
	Name  string
	Value []string
}

// FromPluginPrivileges normalizes the privileges a client accepts for a
// managed plugin, the body of POST /plugins/pull and
// POST /plugins/{name}/upgrade (the same array GET /plugins/privileges
// returns), into the Spec of the plugin's container. name is the plugin's
// reference. A body that is not a JSON array, or that names a privilege this
// judge does not know, is an error. `null` is what the Docker client sends
// for a plugin that needs no privileges, and is an empty list.
func FromPluginPrivileges(body []byte, name string) (Spec, error) {
	var privs []pluginPrivilege
	if err := json.Unmarshal(body, &privs); err != nil {
		return Spec{}, fmt.Errorf("reading the privileges of plugin %s: %w", name, err)
	}
	s := Spec{Name: name}
	for _, p := range privs {
		// The names are those moby's computePrivileges writes.
		switch p.Name {
		case "network":
			if len(p.Value) > 0 {
				s.NetworkMode = p.Value[0] // a network type: host, none, ...
			}
		case "host pid namespace":
			s.PidMode = "host"
		case "host ipc namespace":
			s.IpcMode = "host"
		case "mount":
			// The privilege says neither read-only nor the target: the
			// plugin's config decides both, so assume the worse.
			for _, src := range p.Value {
				s.Mounts = append(s.Mounts, Mount{Type: "bind", Source: src, Target: src})
			}
		case "device":
			s.Devices = append(s.Devices, p.Value...)
		case "allow-all-devices":
			// rwm on every device of the host is what privileged grants.
			s.Privileged = true
		case "capabilities":
			s.CapAdd = append(s.CapAdd, normCaps(p.Value)...)
		default:
			// A privilege newer than this judge may be the one that hands
			// over the host: deny rather than guess.
			return Spec{}, fmt.Errorf("plugin %s asks for privilege %q, which berth does not know how to judge", name, p.Name)
		}
	}
	return s, nil
}
