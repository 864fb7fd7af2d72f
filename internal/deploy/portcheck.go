package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/release"
)

// PortConflictError names a host port a service wants and who holds it.
// It is found before anything changes on any host.
type PortConflictError struct {
	Host, Service string
	Port          string // the binding, as docker ps shows it
	Holder        string
	Err           error
}

func (e *PortConflictError) Error() string {
	fix := "free the port, or publish the service on another host port in the compose file (ports: \"OTHER:" + containerSide(e.Port) + "\")"
	return fmt.Sprintf("host %s: service %s: host port %s is taken by %s (fix: %s)", e.Host, e.Service, e.Port, e.Holder, fix)
}

// Unwrap makes a port conflict count as the documented "port taken" (exit
// code 6) wherever errors are mapped to exit codes.
func (e *PortConflictError) Unwrap() []error {
	return []error{&PortTakenError{Host: e.Host, Addr: e.Port, Err: e.Err}}
}

func containerSide(desc string) string {
	_, after, _ := strings.Cut(desc, "->")
	return strings.TrimSuffix(after, "/tcp")
}

type portClaim struct {
	svc *config.Service
	b   engine.PortBinding
}

// checkPorts finds, before a deploy changes anything, every host port that
// two services of this app claim, that another container holds, or that a
// process on the host holds (probed by publishing the new ports on a
// container that runs for no time at all).
func (d *Deployer) checkPorts(ctx context.Context, svcs []*config.Service) error {
	selected := map[string]bool{}
	for _, s := range svcs {
		selected[s.Name] = true
	}
	var errs []error
	wanted := map[string][]portClaim{} // host -> claims of the services deployed now
	for _, h := range d.Cfg.Hosts {
		var claims []portClaim
		for _, s := range d.Cfg.Services {
			if !onHost(s.Hosts, h.Name) {
				continue
			}
			bindings, err := servicePorts(s)
			if err != nil {
				continue // admission refuses it, placed in the compose file
			}
			for _, b := range bindings {
				claims = append(claims, portClaim{s, b})
			}
		}
		for j := range claims {
			for i := range j {
				if overlaps(claims[i].b, claims[j].b) {
					holder := "service " + claims[i].svc.Name + " of this app"
					if claims[i].svc == claims[j].svc {
						holder = "another ports: entry of the same service"
					}
					errs = append(errs, &PortConflictError{Host: h.Name, Service: claims[j].svc.Name, Port: describeBinding(claims[j].b), Holder: holder + " (" + position(claims[i].svc) + ")"})
				}
			}
			if selected[claims[j].svc.Name] && claims[j].b.HostPort > 0 {
				wanted[h.Name] = append(wanted[h.Name], claims[j])
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, h := range d.Cfg.Hosts {
		if len(wanted[h.Name]) == 0 {
			continue
		}
		if err := d.checkHostPorts(ctx, d.Hosts[h.Name], wanted[h.Name]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ownContainer is the container that may hold svc's ports: its forwarder,
// or the accessory itself.
func (d *Deployer) ownContainer(svc *config.Service) (name, role string) {
	if svc.Accessory {
		return release.AccessoryName(d.Cfg.App, svc.Name), release.RoleAccessory
	}
	return ForwarderName(d.Cfg.App, svc.Name), RoleForwarder
}

func (d *Deployer) checkHostPorts(ctx context.Context, eng Engine, claims []portClaim) error {
	cs, err := eng.ListContainers(ctx, nil)
	if err != nil {
		return err
	}
	var errs []error
	var probe []portClaim
	for _, c := range claims {
		own, role := d.ownContainer(c.svc)
		held := false
		for _, ct := range cs {
			for _, p := range ct.Ports {
				if !overlaps(p, c.b) {
					continue
				}
				if ct.Name == own && ct.Labels[release.LabelRole] == role && ct.Labels[release.LabelApp] == d.Cfg.App {
					held = true // its own: kept, or replaced by the deploy
					continue
				}
				errs = append(errs, &PortConflictError{Host: eng.Host(), Service: c.svc.Name, Port: describeBinding(c.b), Holder: describeHolder(ct)})
				held = true
			}
		}
		if !held {
			probe = append(probe, c)
		}
	}
	if len(errs) > 0 || len(probe) == 0 {
		return errors.Join(errs...)
	}
	return d.probePorts(ctx, eng, probe)
}

func describeHolder(c engine.ContainerSummary) string {
	switch {
	case c.Labels[release.LabelRole] == release.RoleProxy:
		return "berth-proxy (container " + c.Name + ", its proxy.http)"
	case c.Labels[release.LabelApp] != "":
		return fmt.Sprintf("container %s (berth app %s, service %s)", c.Name, c.Labels[release.LabelApp], c.Labels[release.LabelService])
	}
	return fmt.Sprintf("container %s (image %s, not berth's)", c.Name, c.Image)
}

// probePorts publishes the claims on a throwaway container of berth's
// image that exits at once: the engine binds them at start and says which
// one something else on the host holds. Nothing of the app changes.
func (d *Deployer) probePorts(ctx context.Context, eng Engine, claims []portClaim) error {
	image, err := EnsureSelfImage(ctx, eng)
	if err != nil {
		return err
	}
	spec := engine.ContainerSpec{
		Name: "berth-portcheck-" + d.Cfg.App, Image: image, Cmd: []string{"--version"},
		Restart: "no", CapDrop: []string{"ALL"}, SecurityOpt: []string{"no-new-privileges"},
		Labels: map[string]string{release.LabelManaged: "true", release.LabelRole: "portcheck"},
	}
	for _, c := range claims {
		spec.Ports = append(spec.Ports, c.b)
	}
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	_ = eng.RemoveContainer(cctx, spec.Name, true) // left by a killed berth
	id, err := eng.CreateContainer(ctx, spec)
	if err != nil {
		return err
	}
	defer func() { _ = eng.RemoveContainer(cctx, id, true) }()
	err = eng.StartContainer(ctx, id)
	if err == nil {
		return nil
	}
	if !engine.IsPortTaken(err) {
		return fmt.Errorf("host %s: checking that the published ports are free: %w", eng.Host(), err)
	}
	port := takenBinding(err, spec.Ports)
	svc := claims[0].svc.Name
	for _, c := range claims {
		if describeBinding(c.b) == port {
			svc = c.svc.Name
		}
	}
	return &PortConflictError{Host: eng.Host(), Service: svc, Port: port,
		Holder: "a process on the host outside Docker (find it with `ss -ltnup 'sport = :" + portNumber(port) + "'`)", Err: err}
}

// takenAddr finds the address in the engine's "Bind for 0.0.0.0:5432
// failed: port is already allocated" or "listen tcp4 0.0.0.0:5432: bind:
// address already in use".
var takenAddr = regexp.MustCompile(`(?:Bind for |listen (?:tcp|udp|sctp)[46]? )\[?([0-9a-fA-F.:]*?)\]?:(\d+)`)

// takenBinding names the binding an engine's port error is about.
func takenBinding(err error, bindings []engine.PortBinding) string {
	m := takenAddr.FindStringSubmatch(err.Error())
	if m == nil {
		var all []string
		for _, b := range bindings {
			all = append(all, describeBinding(b))
		}
		return "one of " + strings.Join(all, ", ")
	}
	port, _ := strconv.Atoi(m[2])
	for _, b := range bindings {
		if b.HostPort == port || (b.HostPort < port && port <= b.HostPortEnd) {
			return describeBinding(b)
		}
	}
	return m[1] + ":" + m[2]
}

func portNumber(desc string) string {
	before, _, _ := strings.Cut(desc, "->")
	return before[strings.LastIndex(before, ":")+1:]
}

// overlaps reports whether two bindings would hold the same host port:
// same protocol, intersecting port ranges, and addresses that meet (equal,
// or either one every address). A port the engine picks never collides.
func overlaps(a, b engine.PortBinding) bool {
	if a.Proto() != b.Proto() || a.HostPort == 0 || b.HostPort == 0 {
		return false
	}
	aEnd, bEnd := max(a.HostPort, a.HostPortEnd), max(b.HostPort, b.HostPortEnd)
	if a.HostPort > bEnd || b.HostPort > aEnd {
		return false
	}
	return anyAddr(a.HostIP) || anyAddr(b.HostIP) || sameAddr(a.HostIP, b.HostIP)
}

func anyAddr(s string) bool {
	if s == "" {
		return true
	}
	ip, err := netip.ParseAddr(s)
	return err == nil && ip.IsUnspecified()
}

func sameAddr(a, b string) bool {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	return err1 == nil && err2 == nil && x.Unmap() == y.Unmap()
}
