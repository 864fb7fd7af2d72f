package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// checkServiceSpecs cross-checks berth.yaml services: against compose and
// hosts:. Settings of a service disabled by an inactive profile are not
// errors: they apply whenever the profile is on. A route is: it promises
// traffic a host name that nothing would serve.
func (r *reader) checkServiceSpecs(specs []*serviceSpec, p *types.Project, hostNames []string, namedHosts bool) {
	var composeNames []string
	if p != nil {
		for name := range p.Services {
			composeNames = append(composeNames, name)
		}
		for name := range p.DisabledServices {
			composeNames = append(composeNames, name)
		}
	}
	for _, s := range specs {
		path := join("services", s.name)
		if p != nil && !slices.Contains(composeNames, s.name) {
			r.errorf(s.node, path, "add the service to the compose file, or remove it from berth.yaml",
				"%s", unknownName("compose service", s.name, composeNames))
		}
		if d, off := disabled(p, s.name); off && s.route != nil {
			r.errorf(s.routeNode, path+".route", fmt.Sprintf("enable it with --profile %s (or COMPOSE_PROFILES=%s), or remove the route", d[0], d[0]),
				"service %q is routed but not enabled: the active profiles leave it out (its profiles: %s)", s.name, strings.Join(d, ", "))
		}
		seen := map[string]bool{}
		for i, h := range s.hosts {
			hp := fmt.Sprintf("%s.hosts[%d]", path, i)
			switch {
			case seen[h.value]:
				r.errorf(h.node, hp, "list each host once", "host %q is listed twice", h.value)
			case !namedHosts:
				r.errorf(h.node, hp, "add the host under hosts:, or remove the service's hosts:",
					"no host %q: berth.yaml names no hosts", h.value)
			case !slices.Contains(hostNames, h.value):
				r.errorf(h.node, hp, "add the host under hosts:, or fix the name",
					"%s", unknownName("host", h.value, hostNames))
			}
			seen[h.value] = true
		}
	}
}

// disabled reports a service that exists but that the active profiles
// leave out, with its profiles.
func disabled(p *types.Project, name string) ([]string, bool) {
	if p == nil {
		return nil, false
	}
	d, ok := p.DisabledServices[name]
	if !ok || len(d.Profiles) == 0 {
		return nil, false
	}
	return d.Profiles, true
}

// buildServices makes a Service of every enabled compose service, with
// berth.yaml's settings where it has them and defaults otherwise.
func buildServices(specs []*serviceSpec, p *types.Project, hostNames []string) map[string]*Service {
	byName := map[string]*serviceSpec{}
	for _, s := range specs {
		byName[s.name] = s
	}
	out := map[string]*Service{}
	for name, cs := range p.Services {
		svc := &Service{Name: name, Hosts: hostNames, Deploy: defaultDeploy(), Compose: cs}
		if s := byName[name]; s != nil {
			svc.Deploy, svc.Route, svc.Accessory = s.deploy, s.route, s.accessory
			if s.hostsSet {
				svc.Hosts = make([]string, 0, len(s.hosts))
				for _, h := range s.hosts {
					svc.Hosts = append(svc.Hosts, h.value)
				}
			}
		}
		svc.Hosts = slices.Clone(svc.Hosts) // callers may edit one service's hosts
		out[name] = svc
	}
	return out
}

// checkRouteHosts rejects two services claiming the same Host header on a
// shared host: berth-proxy could route it to only one of them.
func (r *reader) checkRouteHosts(specs []*serviceSpec, services map[string]*Service) {
	claimed := map[string]*Service{}
	for _, spec := range specs {
		svc := services[spec.name]
		if svc == nil || svc.Route == nil || svc.Route.Host == "" {
			continue
		}
		if other := claimed[svc.Route.Host]; other != nil && overlaps(other.Hosts, svc.Hosts) {
			r.errorf(spec.routeHostNode, join("services", spec.name)+".route.host",
				"give each service its own route.host, or deploy them to different hosts",
				"route host %q is already routed to service %q", svc.Route.Host, other.Name)
			continue
		}
		claimed[svc.Route.Host] = svc
	}
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// dependencyOrder lists the enabled services so each comes after what it
// depends_on, with ties broken by name so plans and output are stable from
// run to run. A cycle is reported at a depends_on of the cycle and yields nil.
func dependencyOrder(doc *composeDoc, p *types.Project, e *errs) []string {
	indeg := map[string]int{}
	dependents := map[string][]string{}
	for name, s := range p.Services {
		indeg[name] += 0
		for dep := range s.DependsOn {
			if _, ok := p.Services[dep]; !ok {
				continue // a disabled optional dependency; compose-go vetted the rest
			}
			indeg[name]++
			dependents[dep] = append(dependents[dep], name)
		}
	}
	var ready []string
	for name, n := range indeg {
		if n == 0 {
			ready = append(ready, name)
		}
	}
	sort.Strings(ready)
	var out []string
	for len(ready) > 0 {
		name := ready[0]
		ready = ready[1:]
		out = append(out, name)
		for _, d := range dependents[name] {
			if indeg[d]--; indeg[d] == 0 {
				ready = append(ready, d)
				sort.Strings(ready)
			}
		}
	}
	if len(out) < len(p.Services) {
		cycle := findCycle(p, indeg)
		doc.errorf(e, cycle[0], []string{"depends_on"}, "remove one of the depends_on entries in the cycle",
			"dependency cycle: %s", strings.Join(cycle, " -> "))
		return nil
	}
	return out
}

// findCycle returns one cycle among the services Kahn's algorithm could
// not place, starting and ending at the alphabetically first member.
func findCycle(p *types.Project, indeg map[string]int) []string {
	var stuck []string
	for name, n := range indeg {
		if n > 0 {
			stuck = append(stuck, name)
		}
	}
	sort.Strings(stuck)
	deps := func(name string) []string {
		var ds []string
		for d := range p.Services[name].DependsOn {
			if indeg[d] > 0 {
				ds = append(ds, d)
			}
		}
		sort.Strings(ds)
		return ds
	}
	// Every stuck node has a stuck dependency, so walking first
	// dependencies must revisit a node; the cycle is the loop found.
	pos := map[string]int{}
	var walk []string
	for cur := stuck[0]; ; cur = deps(cur)[0] {
		if i, ok := pos[cur]; ok {
			cycle := append(slices.Clone(walk[i:]), cur)
			return rotateToMin(cycle)
		}
		pos[cur] = len(walk)
		walk = append(walk, cur)
	}
}

// rotateToMin rotates a closed walk a->b->...->a to start at its smallest
// name, so the same cycle always prints the same way.
func rotateToMin(cycle []string) []string {
	ring := cycle[:len(cycle)-1]
	m := 0
	for i, n := range ring {
		if n < ring[m] {
			m = i
		}
	}
	out := append(slices.Clone(ring[m:]), ring[:m]...)
	return append(out, out[0])
}
