package engine

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// ContainerSpec is everything berth sets on a container, in berth's terms.
type ContainerSpec struct {
	Name       string
	Image      string
	Entrypoint []string
	Cmd        []string
	Env        []string
	User       string
	WorkingDir string
	Labels     map[string]string
	// Networks maps network name to the DNS aliases the container has there.
	// The first network in NetworkOrder is joined at create time.
	Networks     map[string][]string
	NetworkOrder []string
	Mounts       []Mount
	Tmpfs        map[string]string
	Ports        []PortBinding
	// ExposedPorts are "PORT/PROTO" the image documents as served
	// (compose's expose:); they publish nothing.
	ExposedPorts []string `json:",omitempty"` // out of the hash when unset
	Healthcheck  *Healthcheck
	Memory       int64 // bytes
	NanoCPUs     int64
	PidsLimit    int64
	LogDriver    string
	LogOpts      map[string]string
	Restart      string // no, always, unless-stopped, on-failure
	StopSignal   string
	StopTimeout  *int // seconds
	ReadOnly     bool
	CapAdd       []string
	CapDrop      []string
	SecurityOpt  []string
	Init         *bool
	ExtraHosts   []string
	// Namespaces and host access. berth passes them through as written so
	// that policy, not a silent drop, decides whether they are allowed.
	Privileged   bool
	PidMode      string
	IpcMode      string
	UTSMode      string
	UsernsMode   string
	CgroupnsMode string
	Devices      []Device
	Sysctls      map[string]string

	// The fields below were added after release hashes were first written:
	// each is omitted from JSON when unset, so a project that does not use
	// them hashes exactly as before and a redeploy stays "unchanged".

	// NetworkMode "none" runs the container without a network; empty joins
	// NetworkOrder.
	NetworkMode string `json:",omitempty"`
	// Endpoints holds per-network settings beyond the aliases in Networks.
	Endpoints         map[string]NetworkEndpoint `json:",omitempty"`
	Platform          string                     `json:",omitempty"` // os/arch[/variant]
	Hostname          string                     `json:",omitempty"`
	Domainname        string                     `json:",omitempty"`
	Tty               bool                       `json:",omitempty"`
	OpenStdin         bool                       `json:",omitempty"`
	Runtime           string                     `json:",omitempty"`
	ShmSize           int64                      `json:",omitempty"`
	GroupAdd          []string                   `json:",omitempty"`
	VolumesFrom       []string                   `json:",omitempty"`
	DNS               []string                   `json:",omitempty"`
	DNSSearch         []string                   `json:",omitempty"`
	DNSOptions        []string                   `json:",omitempty"`
	Ulimits           []Ulimit                   `json:",omitempty"`
	StorageOpt        map[string]string          `json:",omitempty"`
	CgroupParent      string                     `json:",omitempty"`
	DeviceCgroupRules []string                   `json:",omitempty"`
	DeviceRequests    []DeviceRequest            `json:",omitempty"`
	Resources         Resources                  `json:",omitzero"`
	// Files are written into the container before it starts (configs and
	// secrets given as content or taken from the environment): their bytes
	// never go to a label, a log line or a file berth leaves on the host.
	Files []File `json:",omitempty"`
}

// Device maps a host device into the container.
type Device struct {
	HostPath, ContainerPath, Permissions string
}

// Mount is a bind, volume or tmpfs mount.
type Mount struct {
	Type     string // bind, volume, tmpfs
	Source   string
	Target   string
	ReadOnly bool
	// Bind: NoCreate fails the create when the host path is missing
	// (compose's create_host_path: false); otherwise the engine creates it,
	// as docker compose does. Propagation and SELinux ("z", "Z") as in
	// `docker run -v`.
	// NoCreate is left out of the spec hash: it only decides what happens
	// when the source is missing, not what the running container is.
	NoCreate    bool   `json:"-"`
	Propagation string `json:",omitempty"`
	SELinux     string `json:",omitempty"`
	// Volume: NoCopy skips copying the image's files into an empty volume;
	// Subpath mounts a directory inside the volume (Engine API 1.45+).
	NoCopy  bool   `json:",omitempty"`
	Subpath string `json:",omitempty"`
}

// PortBinding publishes a container port on the host.
type PortBinding struct {
	HostIP   string // "" is every address
	HostPort int    // 0: the engine picks a free port
	// HostPortEnd > HostPort asks the engine for any free port of the
	// range HostPort-HostPortEnd (compose's "8000-8010:80").
	HostPortEnd   int `json:",omitempty"` // unset fields stay out of config hashes (berth-proxy's)
	ContainerPort int
	Protocol      string `json:",omitempty"` // tcp (default), udp, sctp
}

// Proto is the binding's protocol, tcp when unset.
func (p PortBinding) Proto() string {
	if p.Protocol == "" {
		return "tcp"
	}
	return p.Protocol
}

// HostPorts is the host side as the engine writes it: "", "80" or "80-90".
func (p PortBinding) HostPorts() string {
	switch {
	case p.HostPortEnd > p.HostPort:
		return strconv.Itoa(p.HostPort) + "-" + strconv.Itoa(p.HostPortEnd)
	case p.HostPort > 0:
		return strconv.Itoa(p.HostPort)
	}
	return ""
}

// Healthcheck mirrors a Docker HEALTHCHECK.
type Healthcheck struct {
	Test        []string
	Interval    time.Duration
	Timeout     time.Duration
	StartPeriod time.Duration
	Retries     int
}

// ContainerInfo is what berth reads back from a container.
type ContainerInfo struct {
	ID           string
	Name         string
	Image        string // as requested
	ImageID      string
	Labels       map[string]string
	Status       string // created, running, exited, ...
	Running      bool
	ExitCode     int
	Error        string
	OOMKilled    bool
	RestartCount int
	StartedAt    time.Time
	Created      time.Time
	Health       string // "", starting, healthy, unhealthy
	HealthLog    string // output of the last HEALTHCHECK run
	PublishedTo  []PortBinding
}

// CreateContainer creates (does not start) a container from spec.
func (c *Client) CreateContainer(ctx context.Context, spec ContainerSpec) (string, error) {
	cfg := &container.Config{
		Image:       spec.Image,
		Entrypoint:  spec.Entrypoint,
		Cmd:         spec.Cmd,
		Env:         spec.Env,
		User:        spec.User,
		WorkingDir:  spec.WorkingDir,
		Labels:      spec.Labels,
		StopSignal:  spec.StopSignal,
		StopTimeout: spec.StopTimeout,
	}
	if hc := spec.Healthcheck; hc != nil {
		cfg.Healthcheck = &container.HealthConfig{Test: hc.Test, Interval: hc.Interval, Timeout: hc.Timeout, StartPeriod: hc.StartPeriod, Retries: hc.Retries}
	}
	host := &container.HostConfig{
		LogConfig:      container.LogConfig{Type: spec.LogDriver, Config: spec.LogOpts},
		RestartPolicy:  restartPolicy(spec.Restart),
		ReadonlyRootfs: spec.ReadOnly,
		CapAdd:         spec.CapAdd,
		CapDrop:        spec.CapDrop,
		SecurityOpt:    spec.SecurityOpt,
		Tmpfs:          spec.Tmpfs,
		Init:           spec.Init,
		ExtraHosts:     spec.ExtraHosts,
		Privileged:     spec.Privileged,
		PidMode:        container.PidMode(spec.PidMode),
		IpcMode:        container.IpcMode(spec.IpcMode),
		UTSMode:        container.UTSMode(spec.UTSMode),
		UsernsMode:     container.UsernsMode(spec.UsernsMode),
		CgroupnsMode:   container.CgroupnsMode(spec.CgroupnsMode),
		Sysctls:        spec.Sysctls,
	}
	for _, d := range spec.Devices {
		host.Devices = append(host.Devices, container.DeviceMapping{PathOnHost: d.HostPath, PathInContainer: d.ContainerPath, CgroupPermissions: d.Permissions})
	}
	host.Memory = spec.Memory
	host.NanoCPUs = spec.NanoCPUs
	if spec.PidsLimit > 0 {
		host.PidsLimit = &spec.PidsLimit
	}
	applyMounts(spec, host)
	if err := applySettings(spec, cfg, host); err != nil {
		return "", fmt.Errorf("container %s: %w", spec.Name, err)
	}
	if err := c.needsAPI(spec); err != nil {
		return "", err
	}
	if err := setPorts(spec, cfg, host); err != nil {
		return "", err
	}
	var netcfg *network.NetworkingConfig
	order := spec.NetworkOrder
	if spec.NetworkMode != "" {
		order = nil // none, or another container's namespace: no endpoints of its own
	}
	if len(order) > 0 {
		first := order[0]
		host.NetworkMode = container.NetworkMode(first)
		es, err := endpointSettings(spec, first)
		if err != nil {
			return "", fmt.Errorf("container %s: %w", spec.Name, err)
		}
		netcfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{first: es}}
	}
	res, err := c.api.ContainerCreate(ctx, client.ContainerCreateOptions{Name: spec.Name, Config: cfg, HostConfig: host, NetworkingConfig: netcfg, Platform: platform(spec.Platform)})
	if err != nil {
		return "", fmt.Errorf("host %s: creating container %s: %w", c.Host(), spec.Name, err)
	}
	discard := func() {
		_, _ = c.api.ContainerRemove(context.WithoutCancel(ctx), res.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	}
	if dropped := discarded(res.Warnings); len(dropped) > 0 {
		discard()
		return "", fmt.Errorf("host %s: container %s: the engine dropped settings compose.yaml asks for: %s (fix: enable them on the host, or remove them from compose.yaml)",
			c.Host(), spec.Name, strings.Join(dropped, "; "))
	}
	// API 1.41 joins one network at create; the others are joined before
	// start so the process never runs half-connected.
	for _, name := range order[min(1, len(order)):] {
		es, err := endpointSettings(spec, name)
		if err == nil {
			_, err = c.api.NetworkConnect(ctx, name, client.NetworkConnectOptions{Container: res.ID, EndpointConfig: es})
		}
		if err != nil {
			discard()
			return "", fmt.Errorf("host %s: connecting %s to network %s: %w", c.Host(), spec.Name, name, err)
		}
	}
	if err := c.copyFiles(ctx, res.ID, spec.Files); err != nil {
		discard()
		return "", fmt.Errorf("host %s: container %s: %w", c.Host(), spec.Name, err)
	}
	return res.ID, nil
}

// StartContainer starts a created or stopped container.
func (c *Client) StartContainer(ctx context.Context, id string) error {
	if _, err := c.api.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("host %s: starting container %s: %w", c.Host(), short(id), err)
	}
	return nil
}

// StopContainer stops a container, killing it after timeout.
func (c *Client) StopContainer(ctx context.Context, id string, timeout time.Duration) error {
	secs := int(timeout.Round(time.Second) / time.Second)
	if _, err := c.api.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs}); err != nil {
		return fmt.Errorf("host %s: stopping container %s: %w", c.Host(), short(id), err)
	}
	return nil
}

// RenameContainer renames a container.
func (c *Client) RenameContainer(ctx context.Context, id, name string) error {
	if _, err := c.api.ContainerRename(ctx, id, client.ContainerRenameOptions{NewName: name}); err != nil {
		return fmt.Errorf("host %s: renaming container %s to %s: %w", c.Host(), short(id), name, err)
	}
	return nil
}

// RemoveContainer removes a container and keeps its volumes, anonymous ones
// included: an image's VOLUME (a database's data directory, say) is data,
// and berth deletes data only when asked to.
func (c *Client) RemoveContainer(ctx context.Context, id string, force bool) error {
	if _, err := c.api.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: force}); err != nil {
		return fmt.Errorf("host %s: removing container %s: %w", c.Host(), short(id), err)
	}
	return nil
}

// DiscardContainer force-removes a container together with its anonymous
// volumes: for containers that never served (a failed or interrupted
// release) and for `berth remove --volumes`.
func (c *Client) DiscardContainer(ctx context.Context, id string) error {
	if _, err := c.api.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
		return fmt.Errorf("host %s: removing container %s: %w", c.Host(), short(id), err)
	}
	return nil
}

// InspectContainer reads a container by ID or name.
func (c *Client) InspectContainer(ctx context.Context, idOrName string) (ContainerInfo, error) {
	res, err := c.api.ContainerInspect(ctx, idOrName, client.ContainerInspectOptions{})
	if err != nil {
		return ContainerInfo{}, fmt.Errorf("host %s: inspecting container %s: %w", c.Host(), idOrName, err)
	}
	r := res.Container
	info := ContainerInfo{ID: r.ID, Name: strings.TrimPrefix(r.Name, "/"), ImageID: r.Image, RestartCount: r.RestartCount}
	if r.Config != nil {
		info.Image = r.Config.Image
		info.Labels = r.Config.Labels
	}
	info.Created, _ = time.Parse(time.RFC3339Nano, r.Created)
	if s := r.State; s != nil {
		info.Status = string(s.Status)
		info.Running = s.Running
		info.ExitCode = s.ExitCode
		info.Error = s.Error
		info.OOMKilled = s.OOMKilled
		info.StartedAt, _ = time.Parse(time.RFC3339Nano, s.StartedAt)
		if h := s.Health; h != nil {
			info.Health = string(h.Status)
			if n := len(h.Log); n > 0 && h.Log[n-1] != nil {
				info.HealthLog = strings.TrimSpace(h.Log[n-1].Output)
			}
		}
	}
	if r.HostConfig != nil {
		for port, binds := range r.HostConfig.PortBindings {
			for _, b := range binds {
				hp, _ := strconv.Atoi(b.HostPort)
				ip := ""
				if b.HostIP.IsValid() {
					ip = b.HostIP.String()
				}
				info.PublishedTo = append(info.PublishedTo, PortBinding{HostIP: ip, HostPort: hp, ContainerPort: int(port.Num()), Protocol: string(port.Proto())})
			}
		}
	}
	return info, nil
}

// ContainerSummary is one row of a container listing.
type ContainerSummary struct {
	ID      string
	Name    string
	Image   string
	ImageID string
	Labels  map[string]string
	State   string
	Status  string
	Created time.Time
	// Ports are the host ports the container holds while it runs.
	Ports []PortBinding
}

// ListContainers lists containers (running and stopped) carrying every one
// of the given labels; a label value of "" matches any value.
func (c *Client) ListContainers(ctx context.Context, labels map[string]string) ([]ContainerSummary, error) {
	f := make(client.Filters)
	for k, v := range labels {
		if v == "" {
			f.Add("label", k)
		} else {
			f.Add("label", k+"="+v)
		}
	}
	res, err := c.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("host %s: listing containers: %w", c.Host(), err)
	}
	out := make([]ContainerSummary, 0, len(res.Items))
	for _, s := range res.Items {
		name := ""
		if len(s.Names) > 0 {
			name = strings.TrimPrefix(s.Names[0], "/")
		}
		cs := ContainerSummary{ID: s.ID, Name: name, Image: s.Image, ImageID: s.ImageID, Labels: s.Labels, State: string(s.State), Status: s.Status, Created: time.Unix(s.Created, 0)}
		for _, p := range s.Ports {
			if p.PublicPort == 0 {
				continue
			}
			ip := ""
			if p.IP.IsValid() {
				ip = p.IP.String()
			}
			cs.Ports = append(cs.Ports, PortBinding{HostIP: ip, HostPort: int(p.PublicPort), ContainerPort: int(p.PrivatePort), Protocol: p.Type})
		}
		out = append(out, cs)
	}
	return out, nil
}

// ContainerLogs returns the last tail lines of a container's stdout and
// stderr, interleaved as the engine stored them.
func (c *Client) ContainerLogs(ctx context.Context, id string, tail int) (string, error) {
	rc, err := c.api.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(tail)})
	if err != nil {
		return "", fmt.Errorf("host %s: reading logs of %s: %w", c.Host(), short(id), err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, rc); err != nil {
		return buf.String(), fmt.Errorf("host %s: reading logs of %s: %w", c.Host(), short(id), err)
	}
	return buf.String(), nil
}

// restartPolicy parses compose's "on-failure:3" form as well as the plain
// policy names.
func restartPolicy(p string) container.RestartPolicy {
	name, count, _ := strings.Cut(p, ":")
	n, _ := strconv.Atoi(count)
	return container.RestartPolicy{Name: container.RestartPolicyMode(name), MaximumRetryCount: n}
}

func short(id string) string {
	if len(id) == 64 {
		return id[:12]
	}
	return id
}

// InspectContainerJSON returns a container's inspect document as the engine
// sent it: its Config and HostConfig have the shape of a create request, so
// one parser judges both (internal/policy).
func (c *Client) InspectContainerJSON(ctx context.Context, idOrName string) ([]byte, error) {
	res, err := c.api.ContainerInspect(ctx, idOrName, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("host %s: inspecting container %s: %w", c.Host(), idOrName, err)
	}
	return res.Raw, nil
}

// discarded picks the create warnings in which the engine says it dropped a
// setting ("... Weight discarded.") because the host's kernel or cgroups
// lack it: a container without what compose.yaml asks for must not be
// deployed as if it had it. Warnings carry no code, so their wording is
// the only signal; the engine has used "discarded" for these since 1.12.
func discarded(warnings []string) []string {
	var out []string
	for _, w := range warnings {
		if strings.Contains(w, "discarded") {
			out = append(out, strings.TrimSpace(w))
		}
	}
	return out
}
