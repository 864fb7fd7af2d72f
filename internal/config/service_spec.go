package config

import (
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"
)

// serviceSpec is one entry of berth.yaml services:, checked on its own;
// whether the service and its hosts exist is checked once compose and the
// host list are known.
type serviceSpec struct {
	name string
	node *yaml.Node // the key, where "not in compose" points

	hosts    []stringAt
	hostsSet bool

	route         *Route
	routeNode     *yaml.Node
	routeHostNode *yaml.Node

	deploy Deploy

	accessory bool
}

var (
	serviceKeys = []string{"hosts", "route", "deploy", "accessory"}
	routeKeys   = []string{"host", "port", "health", "health_interval", "health_request_timeout"}
	deployKeys  = []string{"health_timeout", "drain", "min_ready", "parallel", "keep"}
)

// Defaults are those of a cautious operator: one host at a time, enough
// drain for in-flight requests, and a few releases kept for rollback.
func defaultDeploy() Deploy {
	return Deploy{
		HealthTimeout: 30 * time.Second,
		Drain:         10 * time.Second,
		MinReady:      5 * time.Second,
		Parallel:      1,
		Keep:          3,
	}
}

func defaultRoute() Route {
	return Route{Health: "/up", HealthInterval: time.Second, HealthRequestTimeout: 2 * time.Second}
}

func (r *reader) serviceSpecs(f field) []*serviceSpec {
	var out []*serviceSpec
	for _, sf := range r.fields(f.val, f.path, nil) {
		spec := &serviceSpec{name: sf.key.Value, node: sf.key, deploy: defaultDeploy()}
		for _, kf := range r.fields(sf.val, sf.path, serviceKeys) {
			switch kf.key.Value {
			case "hosts":
				spec.hostsSet = true
				spec.hosts, _ = r.stringList(kf)
				if kf.val.Kind == yaml.SequenceNode && len(kf.val.Content) == 0 {
					r.errorf(kf.val, kf.path, "remove hosts: to deploy on every host", "lists no hosts")
				}
			case "route":
				spec.route, spec.routeNode = r.route(kf), kf.key
				spec.routeHostNode = lookup(kf.val, "host")
			case "deploy":
				spec.deploy = r.deploy(kf)
			case "accessory":
				spec.accessory, _ = r.boolean(kf)
			}
		}
		if spec.accessory && spec.route != nil {
			r.errorf(spec.routeNode, join(sf.path, "route"), "remove route: or accessory: true",
				"an accessory cannot be routed: accessories are never replaced by a deploy, so there is no new release to switch to")
		}
		out = append(out, spec)
	}
	return out
}

// routeHost is a DNS name, optionally with a leading wildcard label.
var routeHost = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

func (r *reader) route(f field) *Route {
	rt := defaultRoute()
	if f.val.Kind != yaml.MappingNode {
		r.errorf(f.val, f.path, "write route: { host: example.com, port: 8080 }", "must be a mapping, not %s", describe(f.val))
		return &rt
	}
	var hostSet, portSet bool
	for _, kf := range r.fields(f.val, f.path, routeKeys) {
		switch kf.key.Value {
		case "host":
			s, ok := r.str(kf)
			if !ok {
				hostSet = true // already reported
				continue
			}
			hostSet = true
			s = strings.ToLower(strings.TrimSuffix(s, "."))
			if !routeHost.MatchString(s) {
				r.errorf(kf.val, kf.path, "write only the host name, such as shop.example.com, without scheme, port or path",
					"%q is not a host name", s)
			}
			rt.Host = s
		case "port":
			portSet = true
			if p, ok := r.integer(kf); ok {
				if p < 1 || p > 65535 {
					r.errorf(kf.val, kf.path, "use the container port the app listens on", "port %d is not 1-65535", p)
				}
				rt.Port = p
			}
		case "health":
			if s, ok := r.str(kf); ok {
				if !strings.HasPrefix(s, "/") {
					r.errorf(kf.val, kf.path, "write an absolute path such as /up", "health check path must start with /")
				}
				rt.Health = s
			}
		case "health_interval":
			rt.HealthInterval = r.positiveDuration(kf, rt.HealthInterval)
		case "health_request_timeout":
			rt.HealthRequestTimeout = r.positiveDuration(kf, rt.HealthRequestTimeout)
		}
	}
	if !hostSet {
		r.errorf(f.key, join(f.path, "host"), "add host: with the domain name the service answers to",
			"required key is missing: berth-proxy routes by Host header")
	}
	if !portSet {
		r.errorf(f.key, join(f.path, "port"), "add port: with the container port the app listens on",
			"required key is missing")
	}
	return &rt
}

func (r *reader) deploy(f field) Deploy {
	d := defaultDeploy()
	for _, kf := range r.fields(f.val, f.path, deployKeys) {
		switch kf.key.Value {
		case "health_timeout":
			d.HealthTimeout = r.positiveDuration(kf, d.HealthTimeout)
		case "drain":
			if v, ok := r.duration(kf); ok {
				d.Drain = v // zero is a valid choice: stop the old release at once
			}
		case "min_ready":
			if v, ok := r.duration(kf); ok {
				d.MinReady = v
			}
		case "parallel":
			d.Parallel = r.atLeastOne(kf, d.Parallel, "use 1 to roll one host at a time")
		case "keep":
			d.Keep = r.atLeastOne(kf, d.Keep, "keep at least 1 release so a rollback has something to return to")
		}
	}
	return d
}

func (r *reader) positiveDuration(f field, def time.Duration) time.Duration {
	v, ok := r.duration(f)
	if !ok {
		return def
	}
	if v == 0 {
		r.errorf(f.val, f.path, "use a duration greater than zero", "must be greater than zero")
		return def
	}
	return v
}

func (r *reader) atLeastOne(f field, def int, fix string) int {
	v, ok := r.integer(f)
	if !ok {
		return def
	}
	if v < 1 {
		r.errorf(f.val, f.path, fix, "must be at least 1")
		return def
	}
	return v
}
