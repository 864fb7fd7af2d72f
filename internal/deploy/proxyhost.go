package deploy

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/proxy"
	"github.com/berthhq/berth/internal/release"
)

// berth-proxy's fixed places on a host and inside its container.
const (
	ProxyName        = "berth-proxy"
	ProxyStateVolume = "berth-proxy-state"
	proxyStateDir    = "/var/lib/berth-proxy"
	proxyAdminSocket = "/run/berth/admin.sock"
	// The proxy listens on an unprivileged port inside its container so it
	// needs no capability at all; the host side is proxy.http.
	proxyInnerPort = 8080
)

// execCaller reaches the proxy's admin socket by running `berth proxy
// admin` inside the proxy container: no admin port is ever published.
type execCaller struct {
	eng Engine
}

func (c execCaller) Call(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	cmd := []string{"/berth", "proxy", "admin", method, path}
	if body != nil {
		cmd = append(cmd, string(body))
	}
	res, err := c.eng.Exec(ctx, ProxyName, cmd)
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		// stdout carries the API's JSON error answer; stderr the reason
		// when the call never got one (no socket, say).
		if len(strings.TrimSpace(string(res.Stdout))) > 0 {
			return nil, fmt.Errorf("host %s: berth-proxy admin %s %s: %w", c.eng.Host(), method, path, proxy.ParseAPIError(res.Stdout))
		}
		msg := strings.TrimSpace(string(res.Stderr))
		if msg == "" {
			msg = fmt.Sprintf("exit code %d", res.ExitCode)
		}
		return nil, fmt.Errorf("host %s: berth-proxy admin %s %s: %s", c.eng.Host(), method, path, msg)
	}
	return res.Stdout, nil
}

// ProxyClient is the admin client of the proxy on eng's host.
func ProxyClient(eng Engine) *proxy.Client {
	return &proxy.Client{Caller: execCaller{eng: eng}}
}

func proxySpec(cfg *config.Config, image string) (engine.ContainerSpec, error) {
	host, port, err := net.SplitHostPort(cfg.Proxy.HTTP)
	if err != nil {
		return engine.ContainerSpec{}, fmt.Errorf("proxy.http %q: %w", cfg.Proxy.HTTP, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return engine.ContainerSpec{}, fmt.Errorf("proxy.http %q: bad port", cfg.Proxy.HTTP)
	}
	if host == "0.0.0.0" {
		host = ""
	}
	spec := engine.ContainerSpec{
		Name:  ProxyName,
		Image: image,
		Cmd: []string{"proxy", "run",
			"--listen", ":" + strconv.Itoa(proxyInnerPort),
			"--state", proxyStateDir + "/state.json",
			"--admin", proxyAdminSocket,
			"--max-body", strconv.FormatInt(cfg.Proxy.MaxBody, 10)},
		Networks:     map[string][]string{SharedNetwork: nil},
		NetworkOrder: []string{SharedNetwork},
		Mounts:       []engine.Mount{{Type: "volume", Source: ProxyStateVolume, Target: proxyStateDir}},
		Tmpfs:        map[string]string{"/run/berth": "mode=0700"},
		Ports:        []engine.PortBinding{{HostIP: host, HostPort: p, ContainerPort: proxyInnerPort}},
		Restart:      "always",
		ReadOnly:     true,
		CapDrop:      []string{"ALL"},
		SecurityOpt:  []string{"no-new-privileges"},
		LogDriver:    "json-file",
		LogOpts:      map[string]string{"max-size": "10m", "max-file": "3"},
		Labels:       map[string]string{release.LabelManaged: "true", release.LabelRole: release.RoleProxy},
	}
	// The image is left out of the hash on purpose: upgrading berth must not
	// silently restart the proxy (and drop connections) on the next deploy.
	hash, err := specHash(spec, "")
	if err != nil {
		return spec, err
	}
	spec.Labels[release.LabelConfigHash] = hash
	spec.Labels[release.LabelVersion] = image
	return spec, nil
}

// ensureProxy makes sure berth-proxy runs on the host with cfg's settings
// and answers on its admin socket.
func ensureProxy(ctx context.Context, eng Engine, cfg *config.Config, image string, pr Progress) error {
	spec, err := proxySpec(cfg, image)
	if err != nil {
		return err
	}
	if err := eng.EnsureVolume(ctx, ProxyStateVolume, map[string]string{release.LabelManaged: "true", release.LabelRole: release.RoleProxy}); err != nil {
		return err
	}
	info, err := eng.InspectContainer(ctx, ProxyName)
	switch {
	case engine.IsNotFound(err):
		pr.Step(Event{Host: eng.Host(), Step: "proxy", Detail: "creating berth-proxy on " + cfg.Proxy.HTTP})
		return startProxy(ctx, eng, cfg, spec)
	case err != nil:
		return err
	case info.Labels[release.LabelRole] != release.RoleProxy:
		return fmt.Errorf("host %s: a container named %s exists and is not berth's (fix: rename or remove it: docker rm -f %s)", eng.Host(), ProxyName, ProxyName)
	case info.Labels[release.LabelConfigHash] != spec.Labels[release.LabelConfigHash]:
		pr.Step(Event{Host: eng.Host(), Step: "proxy", Detail: "proxy settings changed: recreating berth-proxy (routes are kept)"})
		if err := eng.RemoveContainer(ctx, info.ID, true); err != nil {
			return err
		}
		return startProxy(ctx, eng, cfg, spec)
	case !info.Running:
		pr.Step(Event{Host: eng.Host(), Step: "proxy", Detail: "starting berth-proxy"})
		if err := eng.StartContainer(ctx, info.ID); err != nil {
			return proxyStartError(eng, cfg, err)
		}
	}
	return waitProxy(ctx, eng)
}

func startProxy(ctx context.Context, eng Engine, cfg *config.Config, spec engine.ContainerSpec) error {
	id, err := eng.CreateContainer(ctx, spec)
	if err != nil {
		return err
	}
	if err := eng.StartContainer(ctx, id); err != nil {
		_ = eng.RemoveContainer(context.WithoutCancel(ctx), id, true)
		return proxyStartError(eng, cfg, err)
	}
	return waitProxy(ctx, eng)
}

// PortTakenError says the proxy's host port is in use.
type PortTakenError struct {
	Host, Addr string
	Err        error
}

func (e *PortTakenError) Error() string {
	return fmt.Sprintf("host %s: berth-proxy cannot listen on %s: the port is taken by another process or container (fix: free the port, or set proxy.http in berth.yaml to a free address)", e.Host, e.Addr)
}

func (e *PortTakenError) Unwrap() error { return e.Err }

func proxyStartError(eng Engine, cfg *config.Config, err error) error {
	if engine.IsPortTaken(err) {
		return &PortTakenError{Host: eng.Host(), Addr: cfg.Proxy.HTTP, Err: err}
	}
	return err
}

// waitProxy waits until the admin socket answers: the container may be
// running a moment before the proxy has bound it.
func waitProxy(ctx context.Context, eng Engine) error {
	pc := ProxyClient(eng)
	var last error
	for range 50 {
		if last = pc.Healthz(ctx); last == nil {
			return nil
		}
		if err := sleep(ctx, 100_000_000); err != nil {
			return err
		}
	}
	return fmt.Errorf("host %s: berth-proxy does not answer on its admin socket: %w (fix: see `docker logs %s`)", eng.Host(), last, ProxyName)
}

// removeProxyIfIdle removes berth-proxy and its state once no app routes
// through it any more, leaving the host as berth found it.
func removeProxyIfIdle(ctx context.Context, eng Engine) (bool, error) {
	if _, err := eng.InspectContainer(ctx, ProxyName); engine.IsNotFound(err) {
		return false, nil
	}
	routes, err := ProxyClient(eng).Routes(ctx)
	if err != nil {
		return false, err
	}
	if len(routes) > 0 {
		return false, nil
	}
	if err := eng.RemoveContainer(ctx, ProxyName, true); err != nil {
		return false, err
	}
	if err := eng.RemoveVolume(ctx, ProxyStateVolume); err != nil {
		return true, err
	}
	return true, nil
}
