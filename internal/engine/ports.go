package engine

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// setPorts writes spec's published and exposed ports into a create
// request. A published port is exposed too, as docker run does.
func setPorts(spec ContainerSpec, cfg *container.Config, host *container.HostConfig) error {
	if len(spec.Ports) == 0 && len(spec.ExposedPorts) == 0 {
		return nil
	}
	cfg.ExposedPorts = network.PortSet{}
	for _, e := range spec.ExposedPorts {
		num, proto, _ := strings.Cut(e, "/")
		n, err := strconv.Atoi(num)
		if proto == "" {
			proto = "tcp"
		}
		port, ok := network.PortFrom(uint16(n), network.IPProtocol(proto))
		if err != nil || !ok || n < 1 || n > 65535 {
			return fmt.Errorf("container %s: bad exposed port %q", spec.Name, e)
		}
		cfg.ExposedPorts[port] = struct{}{}
	}
	if len(spec.Ports) == 0 {
		return nil
	}
	host.PortBindings = network.PortMap{}
	for _, p := range spec.Ports {
		port, ok := network.PortFrom(uint16(p.ContainerPort), network.IPProtocol(p.Proto()))
		if !ok || p.ContainerPort < 1 || p.ContainerPort > 65535 {
			return fmt.Errorf("container %s: bad port %d/%s", spec.Name, p.ContainerPort, p.Proto())
		}
		b := network.PortBinding{HostPort: p.HostPorts()}
		if p.HostIP != "" {
			ip, err := netip.ParseAddr(p.HostIP)
			if err != nil {
				return fmt.Errorf("container %s: bad host address %q: %w", spec.Name, p.HostIP, err)
			}
			b.HostIP = ip
		}
		cfg.ExposedPorts[port] = struct{}{}
		host.PortBindings[port] = append(host.PortBindings[port], b)
	}
	return nil
}
