package deploy

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/proxy"
)

// A compose service's ports: and expose: become:
//   - for an accessory, which is never replaced, the bindings as written
//     on its own container (as docker compose does);
//   - for a replaceable service (routed or worker), the same bindings on
//     the service's forwarder (forwarder.go), which outlives releases and
//     relays to the serving one; the release containers publish nothing
//     but expose the ports, so inspect still tells what they serve.

// servicePorts expands a service's ports: into one binding per container
// port (compose-go already expands short-syntax ranges; a long-syntax
// published range stays a range: the engine picks a free port of it).
func servicePorts(svc *config.Service) ([]engine.PortBinding, error) {
	var out []engine.PortBinding
	for _, p := range svc.Compose.Ports {
		b := engine.PortBinding{HostIP: p.HostIP, ContainerPort: int(p.Target), Protocol: strings.ToLower(p.Protocol)}
		if b.Protocol == "" {
			b.Protocol = "tcp"
		}
		// No service or position here: policy.ServiceError, which every
		// caller goes through first (admission), places the message.
		where := fmt.Sprintf("ports: %d/%s", p.Target, b.Protocol)
		if b.ContainerPort < 1 || b.ContainerPort > 65535 {
			return nil, fmt.Errorf("%s: the container port must be 1-65535 (fix: set target:)", where)
		}
		switch b.Protocol {
		case "tcp", "udp", "sctp":
		default:
			return nil, fmt.Errorf("%s: protocol %q is not one Docker publishes (fix: use tcp or udp)", where, p.Protocol)
		}
		if b.HostIP != "" {
			ip, err := netip.ParseAddr(strings.Trim(b.HostIP, "[]"))
			if err != nil {
				return nil, fmt.Errorf("%s: host address %q is not an IP address (fix: write an address such as 127.0.0.1, or leave it out for every address)", where, p.HostIP)
			}
			b.HostIP = ip.String()
		}
		if p.Published != "" {
			lo, hi, isRange := strings.Cut(p.Published, "-")
			var err1, err2 error
			b.HostPort, err1 = strconv.Atoi(lo)
			b.HostPortEnd = b.HostPort
			if isRange {
				b.HostPortEnd, err2 = strconv.Atoi(hi)
			}
			if err1 != nil || err2 != nil || b.HostPort < 1 || b.HostPortEnd > 65535 || b.HostPortEnd < b.HostPort {
				return nil, fmt.Errorf("%s: published %q is not a port or a range of ports (fix: write 8080 or 8080-8090)", where, p.Published)
			}
			if !isRange {
				b.HostPortEnd = 0
			}
		}
		if b.Protocol == "sctp" && !svc.Accessory {
			return nil, fmt.Errorf("%s: berth's forwarder relays tcp and udp, not sctp (fix: make %s an accessory in berth.yaml, which publishes its ports as written, or use tcp or udp)", where, svc.Name)
		}
		out = append(out, b)
	}
	return out, nil
}

// exposedPorts expands expose: ("3000", "3000-3005", "53/udp") into
// "PORT/PROTO" entries.
func exposedPorts(svc *config.Service) ([]string, error) {
	var out []string
	for _, e := range svc.Compose.Expose {
		ports, proto, _ := strings.Cut(e, "/")
		if proto == "" {
			proto = "tcp"
		}
		lo, hi, isRange := strings.Cut(ports, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 1 || b > 65535 || b < a || (proto != "tcp" && proto != "udp" && proto != "sctp") {
			return nil, fmt.Errorf("expose: %q is not PORT[-PORT][/tcp|udp] (fix: write 3000 or 3000-3005/tcp)", e)
		}
		for p := a; p <= b; p++ {
			out = append(out, strconv.Itoa(p)+"/"+proto)
		}
	}
	return out, nil
}

// applyPorts sets what a service's container publishes and exposes.
func applyPorts(svc *config.Service, spec *engine.ContainerSpec) error {
	bindings, err := servicePorts(svc)
	if err != nil {
		return err
	}
	exposed, err := exposedPorts(svc)
	if err != nil {
		return err
	}
	if svc.Accessory {
		spec.Ports = bindings
	} else {
		for _, b := range bindings {
			exposed = append(exposed, strconv.Itoa(b.ContainerPort)+"/"+b.Proto())
		}
	}
	spec.ExposedPorts = uniqueSorted(exposed)
	return nil
}

// forwardListeners are the ports a replaceable service's forwarder listens
// on: each container port once per protocol, on the same port number
// inside the forwarder, relayed to that port on the release.
func forwardListeners(bindings []engine.PortBinding) []proxy.Listener {
	seen := map[proxy.Listener]bool{}
	var out []proxy.Listener
	for _, b := range bindings {
		l := proxy.Listener{Proto: b.Proto(), Port: b.ContainerPort, TargetPort: b.ContainerPort}
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Port != out[j].Port {
			return out[i].Port < out[j].Port
		}
		return out[i].Proto < out[j].Proto
	})
	return out
}

// describeBinding is a binding as docker ps shows it: 127.0.0.1:5432->5432/tcp.
func describeBinding(b engine.PortBinding) string {
	ip := b.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	if strings.Contains(ip, ":") {
		ip = "[" + ip + "]"
	}
	hp := b.HostPorts()
	if hp == "" {
		hp = "(any)"
	}
	return fmt.Sprintf("%s:%s->%d/%s", ip, hp, b.ContainerPort, b.Proto())
}

func position(svc *config.Service) string {
	p := svc.Source
	switch {
	case p.File == "":
		return "compose file"
	case p.Line == 0:
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

func uniqueSorted(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	sort.Strings(in)
	out := in[:1]
	for _, s := range in[1:] {
		if s != out[len(out)-1] {
			out = append(out, s)
		}
	}
	return out
}
