package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/release"
)

// SharedNetwork is the bridge network berth-proxy and every routed app
// container join; app containers publish no ports.
const SharedNetwork = "berth"

// AppNetwork is the per-app network on which services reach each other by
// their compose names, without colliding with another app's "db".
func AppNetwork(app string) string { return "berth-" + app }

// defaultStopTimeout matches Docker's own default; compose's
// stop_grace_period overrides it.
const defaultStopTimeout = 10 * time.Second

// containerSpec builds the container of release n of svc from its compose
// definition. image is the reference to run (compose's, or --image's).
// imageID pins the hash to the image content, so a re-pushed tag counts as a
// change.
func containerSpec(cfg *config.Config, svc *config.Service, image, imageID string, n int, version string) (engine.ContainerSpec, error) {
	c := svc.Compose
	spec := engine.ContainerSpec{
		Image:        image,
		Entrypoint:   c.Entrypoint,
		Cmd:          c.Command,
		User:         c.User,
		WorkingDir:   c.WorkingDir,
		ReadOnly:     c.ReadOnly,
		CapAdd:       c.CapAdd,
		CapDrop:      c.CapDrop,
		SecurityOpt:  c.SecurityOpt,
		Init:         c.Init,
		StopSignal:   c.StopSignal,
		PidsLimit:    c.PidsLimit,
		Memory:       int64(c.MemLimit),
		NanoCPUs:     int64(float64(c.CPUS) * 1e9),
		ExtraHosts:   c.ExtraHosts.AsList(":"),
		Restart:      restartPolicy(c.Restart, c.Deploy),
		Privileged:   c.Privileged,
		PidMode:      c.Pid,
		IpcMode:      c.Ipc,
		UTSMode:      c.Uts,
		UsernsMode:   c.UserNSMode,
		CgroupnsMode: c.Cgroup,
		Labels:       map[string]string{},
	}
	if err := applyNetworks(cfg, svc, &spec); err != nil {
		return spec, err
	}
	if svc.Route != nil {
		spec.Networks[SharedNetwork] = nil
		spec.NetworkOrder = append(spec.NetworkOrder, SharedNetwork)
	}
	applySettings(cfg, svc, &spec)
	if d := c.Deploy; d != nil && d.Resources.Limits != nil {
		l := d.Resources.Limits
		if l.MemoryBytes > 0 {
			spec.Memory = int64(l.MemoryBytes)
		}
		if l.NanoCPUs > 0 {
			spec.NanoCPUs = int64(float64(l.NanoCPUs) * 1e9)
		}
		if l.Pids > 0 {
			spec.PidsLimit = l.Pids
		}
	}
	for k, v := range c.Environment {
		if v != nil { // a bare `KEY` with nothing in the environment is unset, as in compose
			spec.Env = append(spec.Env, k+"="+*v)
		}
	}
	sort.Strings(spec.Env)
	for k, v := range c.Labels {
		spec.Labels[k] = v
	}
	for _, d := range c.Devices {
		spec.Devices = append(spec.Devices, engine.Device{HostPath: d.Source, ContainerPath: d.Target, Permissions: d.Permissions})
	}
	if len(c.Sysctls) > 0 {
		spec.Sysctls = map[string]string(c.Sysctls)
	}
	if c.StopGracePeriod != nil {
		secs := int(time.Duration(*c.StopGracePeriod).Round(time.Second) / time.Second)
		spec.StopTimeout = &secs
	}
	spec.LogDriver, spec.LogOpts = "json-file", map[string]string{"max-size": "10m", "max-file": "3"}
	if c.Logging != nil && c.Logging.Driver != "" {
		spec.LogDriver, spec.LogOpts = c.Logging.Driver, c.Logging.Options
	} else if c.Logging != nil && len(c.Logging.Options) > 0 {
		spec.LogOpts = c.Logging.Options
	}
	if hc := c.HealthCheck; hc != nil {
		spec.Healthcheck = healthcheck(hc)
	}
	for _, v := range c.Volumes {
		m, err := volumeMount(cfg, svc, v)
		if err != nil {
			return spec, err
		}
		if m.Type == "tmpfs" {
			if spec.Tmpfs == nil {
				spec.Tmpfs = map[string]string{}
			}
			spec.Tmpfs[m.Target] = tmpfsOptions(v.Tmpfs)
			continue
		}
		spec.Mounts = append(spec.Mounts, m)
	}
	for _, t := range c.Tmpfs {
		if spec.Tmpfs == nil {
			spec.Tmpfs = map[string]string{}
		}
		// "/run:size=64m,mode=1777", as `docker run --tmpfs` takes it.
		target, opts, _ := strings.Cut(t, ":")
		spec.Tmpfs[target] = opts
	}
	if err := applyFiles(cfg, svc, &spec); err != nil {
		return spec, err
	}
	if err := applyPorts(svc, &spec); err != nil {
		return spec, err
	}
	// The hash covers everything that makes the container what it is, so a
	// re-run with nothing changed is recognised and skipped. It is a one-way
	// digest: secret values in env never leave the host in a label.
	// A routed service's route is part of what it is: a new port or health
	// path makes a new release, checked on the new settings before any
	// traffic moves.
	var route any
	if svc.Route != nil {
		route = *svc.Route
	}
	hash, err := specHash(spec, imageID, route)
	if err != nil {
		return spec, err
	}
	role := release.RoleApp
	spec.Name = release.ContainerName(cfg.App, svc.Name, n)
	if svc.Accessory {
		role = release.RoleAccessory
		spec.Name = release.AccessoryName(cfg.App, svc.Name)
	}
	for k, v := range release.AppLabels(cfg.App, svc.Name, n, version, hash) {
		spec.Labels[k] = v
	}
	spec.Labels[release.LabelRole] = role
	return spec, nil
}

// settingsHash is the config hash of a container berth runs from its own
// image (berth-proxy, forwarders): the image is left out, so a new berth
// version alone never recreates them.
func settingsHash(spec engine.ContainerSpec) (string, error) {
	spec.Image = ""
	return specHash(spec, "", nil)
}

func specHash(spec engine.ContainerSpec, imageID string, route any) (string, error) {
	b, err := json.Marshal(struct {
		Spec    engine.ContainerSpec
		ImageID string
		Route   any `json:",omitempty"`
	}{spec, imageID, route})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16], nil
}

// restartPolicy maps compose's restart: to the engine's. "always" becomes
// "unless-stopped": with "always", the releases berth stopped and keeps for
// rollback would all start again when dockerd restarts.
// deploy.restart_policy, when set, wins over restart:, as in docker compose.
func restartPolicy(p string, d *types.DeployConfig) string {
	if d != nil && d.RestartPolicy != nil {
		switch rp := d.RestartPolicy; rp.Condition {
		case "none":
			p = "no"
		case "on-failure":
			p = "on-failure"
			if rp.MaxAttempts != nil {
				p += ":" + strconv.FormatUint(*rp.MaxAttempts, 10)
			}
		default: // any, or unset
			p = "always"
		}
	}
	if p == "" || p == "always" {
		return "unless-stopped"
	}
	return p
}

func healthcheck(hc *types.HealthCheckConfig) *engine.Healthcheck {
	if hc.Disable {
		return &engine.Healthcheck{Test: []string{"NONE"}}
	}
	h := &engine.Healthcheck{Test: hc.Test}
	if hc.Interval != nil {
		h.Interval = time.Duration(*hc.Interval)
	}
	if hc.Timeout != nil {
		h.Timeout = time.Duration(*hc.Timeout)
	}
	if hc.StartPeriod != nil {
		h.StartPeriod = time.Duration(*hc.StartPeriod)
	}
	if hc.Retries != nil {
		h.Retries = int(*hc.Retries)
	}
	return h
}

func volumeMount(cfg *config.Config, svc *config.Service, v types.ServiceVolumeConfig) (engine.Mount, error) {
	m := engine.Mount{Type: v.Type, Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
	if b := v.Bind; b != nil {
		m.NoCreate = !bool(b.CreateHostPath)
		m.Propagation, m.SELinux = b.Propagation, b.SELinux
	}
	if vv := v.Volume; vv != nil {
		m.NoCopy, m.Subpath = vv.NoCopy, vv.Subpath
	}
	switch v.Type {
	case types.VolumeTypeVolume:
		if v.Source == "" {
			return m, nil // anonymous: lives and dies with the container
		}
		vol, ok := cfg.Project.Volumes[v.Source]
		if !ok {
			return m, fmt.Errorf("service %s: volume %q is not declared under top-level volumes: in %s (fix: add it there)", svc.Name, v.Source, cfg.ComposeFile)
		}
		m.Source = volumeName(cfg, v.Source, vol)
	case types.VolumeTypeBind, types.VolumeTypeTmpfs:
	default:
		return m, fmt.Errorf("service %s: volume type %q at %s is not supported by berth (fix: use a named volume or a bind mount)", svc.Name, v.Type, v.Target)
	}
	return m, nil
}

// volumeName is the engine name of a compose named volume: compose's own
// "<project>_<name>" unless the file sets name: or external:.
func volumeName(cfg *config.Config, key string, vol types.VolumeConfig) string {
	if vol.Name != "" {
		return vol.Name
	}
	return cfg.App + "_" + key
}
