package config

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// hostSpec is one entry of berth.yaml hosts:.
type hostSpec struct {
	host   Host
	tlsSet bool // a tls: block was given, so the environment is not consulted
}

var hostName = regexp.MustCompile(`^[a-z0-9][a-z0-9-_.]*$`)

const defaultSocket = "unix:///var/run/docker.sock"

// envFunc looks up an environment variable; Load builds it from
// LoadOptions.Env or the process environment.
type envFunc func(string) string

func (r *reader) hosts(f field, baseDir string, env envFunc) []hostSpec {
	var out []hostSpec
	for _, hf := range r.fields(f.val, f.path, nil) {
		out = append(out, r.host(hf, baseDir, env))
	}
	return out
}

// host reads either form: `name: endpoint`, or `name: {endpoint, tls}`.
func (r *reader) host(hf field, baseDir string, env envFunc) hostSpec {
	name := hf.key.Value
	spec := hostSpec{host: Host{Name: name}}
	if !hostName.MatchString(name) {
		r.errorf(hf.key, hf.path, "use lower-case letters, digits, dashes, dots and underscores, starting with a letter or digit",
			"%q is not a valid host name", name)
	}
	endpoint := field{path: hf.path, val: hf.val}
	if hf.val.Kind == yaml.MappingNode {
		endpoint = field{}
		for _, kf := range r.fields(hf.val, hf.path, []string{"endpoint", "tls"}) {
			switch kf.key.Value {
			case "endpoint":
				endpoint = kf
			case "tls":
				spec.tlsSet = true
				spec.host.TLS = r.tls(kf, baseDir, env)
			}
		}
		if endpoint.val == nil {
			r.errorf(hf.key, join(hf.path, "endpoint"), "add endpoint: tcp://host:2376 or unix:///var/run/docker.sock",
				"required key is missing")
			return spec
		}
	}
	s, ok := r.str(endpoint)
	if !ok {
		return spec
	}
	ep, msg, fix := checkEndpoint(s, "")
	if msg != "" {
		r.errorf(endpoint.val, endpoint.path, fix, "%s", msg)
		return spec
	}
	spec.host.Endpoint = ep
	if spec.tlsSet && !strings.HasPrefix(ep, "tcp://") {
		r.errorf(hf.key, join(hf.path, "tls"), "remove tls: or use a tcp:// endpoint", "tls applies only to tcp:// endpoints")
	}
	return spec
}

func (r *reader) tls(f field, baseDir string, env envFunc) *TLS {
	t := &TLS{Verify: true} // a tls: block exists to be secure; opting out must be explicit
	certSet := false
	for _, kf := range r.fields(f.val, f.path, []string{"cert_path", "verify"}) {
		switch kf.key.Value {
		case "cert_path":
			if s, ok := r.str(kf); ok && s != "" {
				t.CertPath = expandPath(s, baseDir, env)
				certSet = true
			}
		case "verify":
			t.Verify, _ = r.boolean(kf)
		}
	}
	if !certSet {
		t.CertPath = envCertPath(env)
	}
	return t
}

// checkEndpoint validates a Docker endpoint and returns it normalized. The
// message never repeats the endpoint: it may carry a user name or token.
// A tcp:// endpoint without a port gets defaultPort, or is an error when
// that is empty: berth.yaml is explicit, DOCKER_HOST follows the docker CLI.
func checkEndpoint(s, defaultPort string) (endpoint, msg, fix string) {
	const generalFix = "write unix:///var/run/docker.sock or tcp://host:2376"
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "", "endpoint has no scheme", generalFix
	}
	switch strings.ToLower(scheme) {
	case "ssh":
		return "", "ssh:// hosts are not supported yet", "use tcp:// with TLS or unix://"
	case "unix":
		if !strings.HasPrefix(rest, "/") || rest == "/" {
			return "", "unix:// endpoint needs an absolute socket path", "write unix:///var/run/docker.sock"
		}
		return "unix://" + filepath.Clean(rest), "", ""
	case "tcp":
		u, err := url.Parse("tcp://" + rest)
		if err != nil || u.Hostname() == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return "", "tcp:// endpoint must be tcp://host:port", "write tcp://host:2376"
		}
		port := u.Port()
		if port == "" {
			if defaultPort == "" {
				return "", "tcp:// endpoint has no port", "add the port, usually 2376 for TLS"
			}
			port = defaultPort
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return "", "tcp:// endpoint port must be 1-65535", "write tcp://host:2376"
		}
		return "tcp://" + joinHostPort(u.Hostname(), port), "", ""
	default:
		return "", "unsupported endpoint scheme " + strconv.Quote(scheme), generalFix
	}
}

func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// resolveHosts turns berth.yaml hosts into Config.Hosts. With none named
// berth behaves like the docker CLI: DOCKER_HOST or the local socket. tcp
// endpoints without their own tls: block follow DOCKER_TLS_VERIFY and
// DOCKER_CERT_PATH, again as the docker CLI does.
func resolveHosts(specs []hostSpec, env envFunc, e *errs) []Host {
	if len(specs) == 0 {
		ep := defaultSocket
		if v := env("DOCKER_HOST"); v != "" {
			port := "2375" // the docker CLI's defaults
			if env("DOCKER_TLS_VERIFY") != "" {
				port = "2376"
			}
			norm, msg, fix := checkEndpoint(v, port)
			if msg != "" {
				e.add(&Error{Path: "DOCKER_HOST", Msg: msg, Fix: fix + ", or name hosts in berth.yaml"})
				return nil
			}
			ep = norm
		}
		return []Host{{Name: "default", Endpoint: ep, TLS: envTLS(ep, env)}}
	}
	hosts := make([]Host, 0, len(specs))
	for _, s := range specs {
		h := s.host
		if !s.tlsSet {
			h.TLS = envTLS(h.Endpoint, env)
		}
		hosts = append(hosts, h)
	}
	slices.SortFunc(hosts, func(a, b Host) int { return strings.Compare(a.Name, b.Name) })
	return hosts
}

func envTLS(endpoint string, env envFunc) *TLS {
	if !strings.HasPrefix(endpoint, "tcp://") {
		return nil
	}
	verify, certPath := env("DOCKER_TLS_VERIFY"), env("DOCKER_CERT_PATH")
	if verify == "" && certPath == "" {
		return nil
	}
	return &TLS{CertPath: envCertPath(env), Verify: verify != ""}
}

func envCertPath(env envFunc) string {
	if p := env("DOCKER_CERT_PATH"); p != "" {
		return p
	}
	return filepath.Join(homeDir(env), ".docker")
}

func homeDir(env envFunc) string {
	if h := env("HOME"); h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}

// expandPath makes a path from berth.yaml absolute: ~ is the home
// directory, and relative paths are relative to berth.yaml, not to
// wherever berth happens to run.
func expandPath(p, baseDir string, env envFunc) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		return filepath.Join(homeDir(env), p[1:])
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(baseDir, p)
}
