package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// serviceCheck judges the values of one service's honoured keys that berth
// cannot honour: the key is fine, this use of it is not.
type serviceCheck struct {
	doc    *composeDoc
	p      *types.Project
	e      *errs
	name   string
	s      types.ServiceConfig
	routed bool
	roles  serviceRoles
}

func (c *serviceCheck) errorf(keys []string, fix, format string, args ...any) {
	full := append([]string{"services", c.name}, keys...)
	f, n := c.doc.nearest(full...)
	c.e.at(f.display, n, strings.Join(full, "."), fix, format, args...)
}

func (c *serviceCheck) check() {
	s := c.s
	if s.Image == "" && s.Build == nil {
		c.errorf(nil, "set image: to a tag you built or pushed", "service has no image")
	}
	checkBuild(c.doc, c.name, s, c.e)
	c.networkMode()
	for _, ns := range [][2]string{{"ipc", s.Ipc}, {"pid", s.Pid}, {"uts", s.Uts}, {"cgroup", s.Cgroup}} {
		key, v := ns[0], ns[1]
		if ref, ok := strings.CutPrefix(v, types.ServicePrefix); ok && !c.roles.isAccessory(ref) {
			c.errorf([]string{key}, "make "+ref+" an accessory in berth.yaml, or remove "+key+":",
				"service %s is replaced on every deploy, so the namespace it holds would vanish under this one", ref)
		}
	}
	for _, dep := range sortedKeys(s.DependsOn) {
		if s.DependsOn[dep].Condition == types.ServiceConditionCompletedSuccessfully {
			c.errorf([]string{"depends_on", dep, "condition"}, "run "+dep+" before `berth deploy` (in CI, say) and remove the dependency",
				"berth deploys long-running services: one that exits is a failed release, never a completed one")
		}
	}
	switch s.PullPolicy {
	case "", types.PullPolicyMissing, types.PullPolicyIfNotPresent, types.PullPolicyBuild:
	default:
		c.errorf([]string{"pull_policy"}, "remove pull_policy: (berth pulls when the host lacks the image; pin a new tag to update)",
			"berth does not honour pull_policy %q: it pulls an image only when the host lacks it", s.PullPolicy)
	}
	if s.MacAddress != "" && !c.roles.isAccessory(c.name) {
		c.errorf([]string{"mac_address"}, "make the service an accessory in berth.yaml, or remove mac_address:",
			"a deploy runs the new release beside the old one, and two containers cannot share one MAC address")
	}
	limitsCPUs := s.Deploy != nil && s.Deploy.Resources.Limits != nil && s.Deploy.Resources.Limits.NanoCPUs > 0
	if (s.CPUS > 0 || limitsCPUs) && (s.CPUQuota != 0 || s.CPUPeriod != 0) {
		c.errorf([]string{"cpu_quota"}, "use either cpus: (or deploy.resources.limits.cpus) or cpu_quota:/cpu_period:, not both",
			"the engine refuses a CPU limit given both ways")
	}
	if hc := s.HealthCheck; hc != nil && hc.StartInterval != nil {
		c.errorf([]string{"healthcheck", "start_interval"}, "remove start_interval: (start_period still applies)",
			"the health check start interval needs Engine API 1.44; berth also deploys to API 1.41 engines, which would drop it")
	}
	c.deploy()
	c.networks()
	c.volumes()
	c.files("configs", s.Configs, func(n string) (types.FileObjectConfig, bool) {
		d, ok := c.p.Configs[n]
		return types.FileObjectConfig(d), ok
	})
	secrets := make([]types.ServiceConfigObjConfig, len(s.Secrets))
	for i, r := range s.Secrets {
		secrets[i] = types.ServiceConfigObjConfig(r)
	}
	c.files("secrets", secrets, func(n string) (types.FileObjectConfig, bool) {
		d, ok := c.p.Secrets[n]
		return types.FileObjectConfig(d), ok
	})
	for i, from := range s.VolumesFrom {
		if strings.HasPrefix(from, types.ContainerPrefix) {
			continue
		}
		ref, _, _ := strings.Cut(from, ":")
		if !c.roles.isAccessory(ref) {
			c.errorf([]string{"volumes_from", fmt.Sprint(i)}, "make "+ref+" an accessory in berth.yaml, or share a named volume instead",
				"service %s is replaced on every deploy, so there is no one container to take volumes from", ref)
		}
	}
}

func (c *serviceCheck) networkMode() {
	mode := c.s.NetworkMode
	switch {
	case mode == "":
	case mode == "host":
		c.errorf([]string{"network_mode"}, "remove network_mode: host",
			"host networking bypasses the berth network and exposes every port the app opens on the host")
	case c.routed:
		c.errorf([]string{"network_mode"}, "remove network_mode:", "berth-proxy reaches routed services over the berth network")
	case mode == "none":
	case mode == "bridge":
		c.errorf([]string{"network_mode"}, "remove network_mode: (services reach each other by name on the app network)",
			"the default bridge has no DNS between services; berth puts services on the app network")
	case strings.HasPrefix(mode, types.ServicePrefix) || strings.HasPrefix(mode, types.ContainerPrefix):
		ref, isService := strings.CutPrefix(mode, types.ServicePrefix)
		switch {
		case !c.roles.isAccessory(c.name):
			c.errorf([]string{"network_mode"}, "make the service an accessory in berth.yaml, or use networks:",
				"a deploy runs the new release beside the old one, and both cannot listen in one network namespace")
		case isService && !c.roles.isAccessory(ref):
			c.errorf([]string{"network_mode"}, "make "+ref+" an accessory in berth.yaml, or use networks:",
				"service %s is replaced on every deploy, so the namespace it holds would vanish under this one", ref)
		}
	default:
		c.errorf([]string{"network_mode"}, "use none, or networks:", "network mode %q is not one berth can deploy", mode)
	}
}

func (c *serviceCheck) deploy() {
	d := c.s.Deploy
	if d == nil {
		return
	}
	switch d.Mode {
	case "", "replicated", "global":
	default:
		c.errorf([]string{"deploy", "mode"}, "run the job outside berth, or use replicated", "berth deploys long-running services, not %s", d.Mode)
	}
	if rp := d.RestartPolicy; rp != nil {
		if rp.Delay != nil {
			c.errorf([]string{"deploy", "restart_policy", "delay"}, "remove delay: (the engine backs off on its own)", "the engine has no restart delay setting outside Swarm")
		}
		if rp.MaxAttempts != nil && rp.Condition != "on-failure" {
			c.errorf([]string{"deploy", "restart_policy", "max_attempts"}, "set condition: on-failure, or remove max_attempts:",
				"the engine counts restart attempts only for on-failure")
		}
		if rp.Window != nil {
			c.errorf([]string{"deploy", "restart_policy", "window"}, "remove window:", "the engine has no restart window setting outside Swarm")
		}
	}
	if r := d.Resources.Reservations; r != nil {
		if r.NanoCPUs > 0 {
			c.errorf([]string{"deploy", "resources", "reservations", "cpus"}, "use cpu_shares: for a relative weight, or limits.cpus",
				"the engine has no CPU reservation outside Swarm")
		}
		if len(r.GenericResources) > 0 {
			c.errorf([]string{"deploy", "resources", "reservations", "generic_resources"}, "use devices: (device requests)", "generic resources exist only in Swarm")
		}
		if r.Pids > 0 {
			c.errorf([]string{"deploy", "resources", "reservations", "pids"}, "use limits.pids", "the engine has no pids reservation")
		}
	}
	if l := d.Resources.Limits; l != nil {
		if len(l.GenericResources) > 0 || len(l.Devices) > 0 {
			c.errorf([]string{"deploy", "resources", "limits"}, "ask for devices under reservations.devices", "devices and generic resources are reservations, not limits")
		}
	}
}

func (c *serviceCheck) networks() {
	for _, name := range sortedKeys(c.s.Networks) {
		n := c.s.Networks[name]
		if n == nil {
			continue
		}
		keys := func(k string) []string { return []string{"networks", name, k} }
		if (n.Ipv4Address != "" || n.Ipv6Address != "" || n.MacAddress != "") && !c.roles.isAccessory(c.name) {
			c.errorf(keys("ipv4_address"), "make the service an accessory in berth.yaml, or reach it by name",
				"a deploy runs the new release beside the old one, and two containers cannot share one address")
		}
		if n.GatewayPriority != 0 {
			c.errorf(keys("gw_priority"), "remove gw_priority: (priority: orders the networks)", "gateway priority needs Engine API 1.48; berth also deploys to API 1.41 engines, which would drop it")
		}
		if n.InterfaceName != "" {
			c.errorf(keys("interface_name"), "remove interface_name:", "interface names need Engine API 1.49; berth also deploys to API 1.41 engines, which would drop them")
		}
	}
}

func (c *serviceCheck) volumes() {
	for i, v := range c.s.Volumes {
		keys := []string{"volumes", fmt.Sprint(i)}
		switch v.Type {
		case types.VolumeTypeBind, types.VolumeTypeVolume, types.VolumeTypeTmpfs:
		default:
			c.errorf(keys, "use a named volume or a bind mount", "volume type %q is not one berth can mount on a Linux engine's API 1.41", v.Type)
			continue
		}
		if b := v.Bind; b != nil && b.Recursive != "" {
			c.errorf(keys, "remove bind.recursive:", "recursive read-only binds need Engine API 1.44; berth also deploys to API 1.41 engines")
		}
		if b := v.Bind; b != nil && b.SELinux != "" && !bool(b.CreateHostPath) {
			c.errorf(keys, "drop create_host_path: false, or selinux:", "SELinux relabelling needs the bind form the engine creates missing paths with (API 1.41's mount form has no SELinux option)")
		}
		if vv := v.Volume; vv != nil && len(vv.Labels) > 0 {
			c.errorf(keys, "set labels: on the top-level volume", "labels on a mount label only an anonymous volume, which berth does not create with labels")
		}
	}
}

// files judges how a service mounts its configs or secrets.
func (c *serviceCheck) files(section string, refs []types.ServiceConfigObjConfig, def func(string) (types.FileObjectConfig, bool)) {
	for i, r := range refs {
		keys := []string{section, fmt.Sprint(i)}
		d, ok := def(r.Source)
		if !ok {
			continue // compose-go reports undefined references
		}
		copied := d.Environment != "" || d.Content != "" || r.UID != "" || r.GID != "" || r.Mode != nil
		if copied && c.s.ReadOnly {
			c.errorf(keys, "use file: without uid:, gid: or mode:, or drop read_only:",
				"a read-only root filesystem cannot receive a %s written into it (environment:, content:, or uid:, gid: or mode:)", strings.TrimSuffix(section, "s"))
		}
		for _, idv := range [][2]string{{"uid", r.UID}, {"gid", r.GID}} {
			if _, err := strconv.Atoi(idv[1]); idv[1] != "" && err != nil {
				c.errorf(append(keys, idv[0]), "use a number", "%s %q is not numeric: the file is written before the container starts, when no user names resolve", idv[0], idv[1])
			}
		}
	}
}

// checkInlineSources judges each config or secret a service uses, once,
// beside checkSources' file: check: it must have a source berth can read
// now, so an unset variable is a config error and not a deploy that fails
// half way.
func checkInlineSources(doc *composeDoc, p *types.Project, e *errs) {
	used := map[string]bool{}
	for _, s := range p.Services {
		for _, r := range s.Configs {
			used["configs."+r.Source] = true
		}
		for _, r := range s.Secrets {
			used["secrets."+r.Source] = true
		}
	}
	check := func(section, name string, d types.FileObjectConfig) {
		if !used[section+"."+name] {
			return // docker compose ignores definitions no service uses
		}
		switch {
		case bool(d.External), d.File != "", d.Content != "":
		case d.Environment != "":
			if _, set := p.Environment[d.Environment]; !set {
				doc.defErrorf(e, section, name, "environment", "set "+d.Environment+" in the environment or .env",
					"variable %s is not set", d.Environment)
			}
		default:
			doc.defErrorf(e, section, name, "", "give it file:, environment: or content:", "%s %q has no source", strings.TrimSuffix(section, "s"), name)
		}
	}
	for _, n := range sortedKeys(p.Configs) {
		check("configs", n, types.FileObjectConfig(p.Configs[n]))
	}
	for _, n := range sortedKeys(p.Secrets) {
		check("secrets", n, types.FileObjectConfig(p.Secrets[n]))
	}
}
