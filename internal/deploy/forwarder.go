package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/proxy"
	"github.com/berthhq/berth/internal/release"
)

// A replaceable service's published ports belong to its forwarder: a
// container made from berth's own image (`berth proxy forward`), created
// once like an accessory, joined to the app's network, publishing the
// service's ports and relaying each TCP connection and UDP session to the
// serving release. A deploy switches it as it switches a route, so the host
// port never closes and another app's ports and HTTP traffic are never
// touched (berth-proxy is not recreated). See docs/architecture.md.

// RoleForwarder marks a service's port forwarder.
const RoleForwarder = "forwarder"

// labelPorts lists a forwarder's bindings for `docker ps` readers and
// berth status.
const labelPorts = "berth.ports"

const (
	forwardAdminSocket = "/run/berth/forward.sock"
	// The state lives in the container's own filesystem: it survives a
	// restart of the container or of dockerd, and a forwarder recreated
	// with other ports is pointed at the serving release at once.
	forwardStateFile = "/var/lib/berth-forward/state.json"
)

// ForwarderName is the container of a service's forwarder.
func ForwarderName(app, service string) string { return app + "-" + service + "-ports" }

// forwarderClient drives the forwarder of a service on eng's host.
func forwarderClient(eng Engine, app, service string) *proxy.ForwardClient {
	return proxy.NewForwardClient(execCaller{eng: eng, container: ForwarderName(app, service), socket: forwardAdminSocket})
}

func forwarderSpec(cfg *config.Config, svc *config.Service, image string, bindings []engine.PortBinding) (engine.ContainerSpec, error) {
	cmd := []string{"proxy", "forward", "--state", forwardStateFile, "--admin", forwardAdminSocket}
	for _, l := range forwardListeners(bindings) {
		cmd = append(cmd, "--listen", fmt.Sprintf("%s/%d", l.Proto, l.Port))
	}
	var desc []string
	for _, b := range bindings {
		desc = append(desc, describeBinding(b))
	}
	spec := engine.ContainerSpec{
		Name:         ForwarderName(cfg.App, svc.Name),
		Image:        image,
		Cmd:          cmd,
		Networks:     map[string][]string{AppNetwork(cfg.App): nil},
		NetworkOrder: []string{AppNetwork(cfg.App)},
		Tmpfs:        map[string]string{"/run/berth": "mode=0700"},
		Ports:        bindings,
		Restart:      "always",
		CapDrop:      []string{"ALL"},
		SecurityOpt:  []string{"no-new-privileges"},
		// The forwarder listens on the service's own port numbers, 53 or
		// 80 included, without any capability.
		Sysctls:   map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"},
		LogDriver: "json-file",
		LogOpts:   map[string]string{"max-size": "10m", "max-file": "3"},
		Labels: map[string]string{
			release.LabelManaged: "true", release.LabelApp: cfg.App, release.LabelService: svc.Name,
			release.LabelRole: RoleForwarder, labelPorts: strings.Join(desc, ","),
		},
	}
	// As for berth-proxy, upgrading berth must not recreate forwarders
	// (and cut connections) on the next deploy.
	hash, err := settingsHash(spec)
	if err != nil {
		return spec, err
	}
	spec.Labels[release.LabelConfigHash] = hash
	spec.Labels[release.LabelVersion] = image
	return spec, nil
}

// ensureForwarder makes sure svc's forwarder runs with svc's ports, and
// relays to cur (the serving release) when there is one. A service without
// ports loses a forwarder it had.
func (d *Deployer) ensureForwarder(ctx context.Context, eng Engine, svc *config.Service, cur *release.Release) error {
	if svc.Accessory {
		return nil
	}
	pr, host := d.progress(), eng.Host()
	name := ForwarderName(d.Cfg.App, svc.Name)
	bindings, err := servicePorts(svc)
	if err != nil {
		return err
	}
	info, ierr := eng.InspectContainer(ctx, name)
	ours := ierr == nil && info.Labels[release.LabelRole] == RoleForwarder && info.Labels[release.LabelApp] == d.Cfg.App
	switch {
	case ierr != nil && !engine.IsNotFound(ierr):
		return ierr
	case ierr == nil && !ours:
		return &NameTakenError{Host: host, Name: name}
	case len(bindings) == 0:
		if ours {
			pr.Step(Event{Host: host, Service: svc.Name, Step: "ports", Detail: "no ports: any more: removing " + name})
			return eng.RemoveContainer(ctx, info.ID, true)
		}
		return nil
	}
	image, err := EnsureSelfImage(ctx, eng)
	if err != nil {
		return err
	}
	spec, err := forwarderSpec(d.Cfg, svc, image, bindings)
	if err != nil {
		return err
	}
	switch {
	case ierr != nil: // not found
		pr.Step(Event{Host: host, Service: svc.Name, Step: "ports", Detail: "creating " + name + " publishing " + spec.Labels[labelPorts]})
		if err := d.startForwarder(ctx, eng, svc, spec); err != nil {
			return err
		}
	case info.Labels[release.LabelConfigHash] != spec.Labels[release.LabelConfigHash]:
		// New ports mean new published bindings, which only a new
		// container has. Only this service's ports pause meanwhile.
		pr.Step(Event{Host: host, Service: svc.Name, Step: "ports", Detail: "ports changed: recreating " + name + " publishing " + spec.Labels[labelPorts] + " (this service's ports pause for a moment)"})
		if err := eng.RemoveContainer(ctx, info.ID, true); err != nil {
			return err
		}
		if err := d.startForwarder(ctx, eng, svc, spec); err != nil {
			return err
		}
	case !info.Running:
		pr.Step(Event{Host: host, Service: svc.Name, Step: "ports", Detail: "starting " + name})
		if err := eng.StartContainer(ctx, info.ID); err != nil {
			return forwarderStartError(host, svc, spec, err)
		}
		if err := waitForwarder(ctx, eng, d.Cfg.App, svc.Name); err != nil {
			return err
		}
	}
	if cur == nil {
		return nil
	}
	targets := runningReplicas(*cur)
	if len(targets) == 0 {
		return nil
	}
	fc := forwarderClient(eng, d.Cfg.App, svc.Name)
	st, err := fc.State(ctx)
	if err != nil {
		return err
	}
	if sameSet(st.Targets, targets) {
		return nil
	}
	// A fresh forwarder, or one a killed deploy left on another release:
	// it follows what serves, and what it relayed to before is drained.
	if _, err := fc.SetTargets(ctx, targets); err != nil {
		return err
	}
	pr.Step(Event{Host: host, Service: svc.Name, Step: "ports", Detail: "forwarding to " + strings.Join(targets, ", ")})
	if old := without(st.Targets, targets); len(old) > 0 {
		if _, err := fc.Drain(ctx, old, svc.Deploy.Drain); err != nil {
			pr.Step(Event{Host: host, Service: svc.Name, Step: "drain", Detail: "draining the ports failed: " + err.Error()})
		}
	}
	return nil
}

func (d *Deployer) startForwarder(ctx context.Context, eng Engine, svc *config.Service, spec engine.ContainerSpec) error {
	id, err := eng.CreateContainer(ctx, spec)
	if err != nil {
		return err
	}
	if err := eng.StartContainer(ctx, id); err != nil {
		_ = eng.RemoveContainer(context.WithoutCancel(ctx), id, true)
		return forwarderStartError(eng.Host(), svc, spec, err)
	}
	return waitForwarder(ctx, eng, d.Cfg.App, svc.Name)
}

func forwarderStartError(host string, svc *config.Service, spec engine.ContainerSpec, err error) error {
	if engine.IsPortTaken(err) {
		return &PortConflictError{Host: host, Service: svc.Name, Port: takenBinding(err, spec.Ports), Holder: "another process on the host", Err: err}
	}
	return err
}

// waitForwarder waits until the forwarder answers on its admin socket.
func waitForwarder(ctx context.Context, eng Engine, app, service string) error {
	fc := forwarderClient(eng, app, service)
	var last error
	for range 50 {
		if last = fc.Healthz(ctx); last == nil {
			return nil
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("host %s: the port forwarder %s does not answer: %w (fix: see `docker logs %s`)", eng.Host(), ForwarderName(app, service), last, ForwarderName(app, service))
}

// forwardsTCP reports whether svc has a forwarder with TCP ports.
func forwardsTCP(svc *config.Service) bool {
	if svc.Accessory {
		return false
	}
	bindings, _ := servicePorts(svc)
	for _, b := range bindings {
		if b.Proto() == "tcp" {
			return true
		}
	}
	return false
}

// portsReady extends a healthy verdict on a release: for a service with
// forwarded TCP ports, every such port must accept on every replica, or
// the forwarder would switch new connections to a release that refuses
// them.
func (d *Deployer) portsReady(ctx context.Context, eng Engine, svc *config.Service, rel release.Release, ready readyResult) readyResult {
	if ready.err != nil || !forwardsTCP(svc) {
		return ready
	}
	if err := d.ensureForwarder(ctx, eng, svc, nil); err != nil {
		return readyResult{ready.replica, ready.last, err}
	}
	fc := forwarderClient(eng, d.Cfg.App, svc.Name)
	for _, c := range rel.Containers {
		r, err := fc.CheckPorts(ctx, c.Container, max(svc.Deploy.HealthTimeout, time.Second))
		if err != nil {
			return readyResult{c, ready.last, err}
		}
		if !r.Ready {
			last := fmt.Sprintf("%s; but a published TCP port does not accept connections (%d attempts): %s (fix: make the app listen on the container port of every ports: entry)", ready.last, r.Attempts, r.Error)
			return readyResult{c, last, fmt.Errorf("ports not ready")}
		}
	}
	return ready
}

// switchForwarder moves svc's forwarder to rel and drains the release it
// relayed to before, like a route switch.
func (d *Deployer) switchForwarder(ctx context.Context, eng Engine, svc *config.Service, rel release.Release) error {
	if svc.Accessory || len(svc.Compose.Ports) == 0 {
		return nil
	}
	pr, host := d.progress(), eng.Host()
	if err := d.ensureForwarder(ctx, eng, svc, nil); err != nil {
		return err
	}
	fc := forwarderClient(eng, d.Cfg.App, svc.Name)
	targets := make([]string, 0, len(rel.Containers))
	for _, c := range rel.Containers {
		targets = append(targets, c.Container)
	}
	names := strings.Join(targets, ", ")
	prevs, err := fc.SetTargets(ctx, targets)
	if err != nil {
		return fmt.Errorf("host %s: service %s: switching its ports to %s: %w (fix: run `berth status`; deploy again to finish the handover)", host, svc.Name, names, err)
	}
	pr.Step(Event{Host: host, Service: svc.Name, Step: "switch", Detail: "ports now forward to " + names})
	old := without(prevs, targets)
	if len(old) == 0 {
		return nil
	}
	prev := strings.Join(old, ", ")
	pr.Step(Event{Host: host, Service: svc.Name, Step: "drain", Detail: fmt.Sprintf("draining connections to %s (up to %s)", prev, svc.Deploy.Drain)})
	res, err := fc.Drain(ctx, old, svc.Deploy.Drain)
	switch {
	case err != nil:
		// New connections already go to the new release; the old one
		// only loses the wait for its last connections.
		pr.Step(Event{Host: host, Service: svc.Name, Step: "drain", Detail: "draining the ports failed, stopping the old release anyway: " + err.Error()})
	case res.Cancelled > 0:
		pr.Step(Event{Host: host, Service: svc.Name, Step: "drain", Detail: fmt.Sprintf("%d connections to %s were still open after %s and were closed", res.Cancelled, prev, svc.Deploy.Drain)})
	}
	return nil
}

// ForwarderStatus is a service's forwarder as berth status shows it.
type ForwarderStatus struct {
	Container string         `json:"container"`
	State     string         `json:"state"`
	Ports     []string       `json:"ports"`
	Targets   []string       `json:"targets,omitempty"`
	Open      map[string]int `json:"open,omitempty"`
}

// forwarderStatus reads svc's forwarder on eng's host; nil when it has none.
func (d *Deployer) forwarderStatus(ctx context.Context, eng Engine, svc *config.Service) (*ForwarderStatus, error) {
	if svc.Accessory {
		return nil, nil
	}
	name := ForwarderName(d.Cfg.App, svc.Name)
	info, err := eng.InspectContainer(ctx, name)
	if engine.IsNotFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if info.Labels[release.LabelRole] != RoleForwarder {
		return nil, nil
	}
	fs := &ForwarderStatus{Container: name, State: info.Status}
	if p := info.Labels[labelPorts]; p != "" {
		fs.Ports = strings.Split(p, ",")
	}
	if info.Running {
		st, err := forwarderClient(eng, d.Cfg.App, svc.Name).State(ctx)
		if err != nil {
			return nil, err
		}
		fs.Targets, fs.Open = st.Targets, st.Open
	}
	return fs, nil
}

func runningReplicas(rel release.Release) []string {
	var out []string
	for _, c := range rel.Containers {
		if c.Running() {
			out = append(out, c.Container)
		}
	}
	return out
}

// without is what of a is not in b.
func without(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	return len(without(a, b)) == 0 && len(without(b, a)) == 0
}
