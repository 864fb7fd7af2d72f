package deploy

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

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
// container and socket name another berth container (a forwarder); empty,
// they are berth-proxy's.
type execCaller struct {
	eng               Engine
	container, socket string
}

func (c execCaller) Call(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	name, cmd := ProxyName, []string{"/berth", "proxy", "admin"}
	if c.container != "" {
		name = c.container
	}
	if c.socket != "" {
		cmd = append(cmd, "--admin", c.socket)
	}
	cmd = append(cmd, method, path)
	if body != nil {
		cmd = append(cmd, string(body))
	}
	res, err := c.eng.Exec(ctx, name, cmd)
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		// stdout carries the API's JSON error answer; stderr the reason
		// when the call never got one (no socket, say).
		if len(strings.TrimSpace(string(res.Stdout))) > 0 {
			return nil, fmt.Errorf("host %s: %s admin %s %s: %w", c.eng.Host(), name, method, path, proxy.ParseAPIError(res.Stdout))
		}
		msg := strings.TrimSpace(string(res.Stderr))
		if msg == "" {
			msg = fmt.Sprintf("exit code %d", res.ExitCode)
		}
		return nil, fmt.Errorf("host %s: %s admin %s %s: %s", c.eng.Host(), name, method, path, msg)
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
	// Upgrading berth must not silently restart the proxy (and drop
	// connections) on the next deploy, nor refuse the deploy of an app that
	// shares the proxy with others.
	hash, err := settingsHash(spec)
	if err != nil {
		return spec, err
	}
	spec.Labels[release.LabelConfigHash] = hash
	spec.Labels[release.LabelVersion] = image
	spec.Labels[labelProxyHTTP] = cfg.Proxy.HTTP
	return spec, nil
}

// labelProxyHTTP records the address a proxy was created for, so a
// conflicting berth.yaml can be told what the host already uses.
const labelProxyHTTP = "berth.proxy.http"

// ProxySettingsError says berth-proxy on a host serves other apps with
// settings this berth.yaml would change.
type ProxySettingsError struct {
	Host, Current, Wanted string
	Apps                  []string
}

func (e *ProxySettingsError) Error() string {
	return fmt.Sprintf("host %s: berth-proxy listens on %s and serves %s; this berth.yaml asks for proxy.http %s (or another max_body). Recreating the proxy interrupts those apps for about a second (fix: set proxy.http: %s in berth.yaml, or pass --recreate-proxy to accept the interruption)",
		e.Host, e.Current, strings.Join(e.Apps, ", "), e.Wanted, e.Current)
}

// ensureProxy makes sure berth-proxy runs on the host with cfg's settings
// and answers on its admin socket.
func (d *Deployer) ensureProxy(ctx context.Context, eng Engine, image string) error {
	cfg, pr := d.Cfg, d.progress()
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
		if others := d.otherApps(ctx, eng, info); len(others) > 0 && !d.RecreateProxy {
			return &ProxySettingsError{Host: eng.Host(), Current: info.Labels[labelProxyHTTP], Wanted: cfg.Proxy.HTTP, Apps: others}
		}
		pr.Step(Event{Host: eng.Host(), Step: "proxy", Detail: "proxy settings changed: recreating berth-proxy on " + cfg.Proxy.HTTP + " (routes are kept)"})
		return recreateProxy(ctx, eng, cfg, spec, info)
	case !info.Running:
		pr.Step(Event{Host: eng.Host(), Step: "proxy", Detail: "starting berth-proxy"})
		if err := eng.StartContainer(ctx, info.ID); err != nil {
			return proxyStartError(eng, cfg, err)
		}
	case time.Since(info.StartedAt) > 5*time.Second:
		// Running for a while: it has bound its socket long ago, and the
		// next admin call says so if not. One exec less per deploy.
		return nil
	}
	return waitProxy(ctx, eng)
}

// otherApps lists the apps besides this one that route through the proxy.
func (d *Deployer) otherApps(ctx context.Context, eng Engine, info engine.ContainerInfo) []string {
	if !info.Running {
		return nil
	}
	routes, err := ProxyClient(eng).Routes(ctx)
	if err != nil {
		return []string{"(unknown: " + err.Error() + ")"}
	}
	seen := map[string]bool{}
	var apps []string
	for _, r := range routes {
		app, _, _ := strings.Cut(r.Key, "/")
		if app != d.Cfg.App && !seen[app] {
			seen[app] = true
			apps = append(apps, app)
		}
	}
	return apps
}

// recreateProxy replaces berth-proxy with one of new settings. The old one
// is set aside, not deleted, until the new one answers; if the new one
// cannot start (its port is taken, say) the old one is put back as it was.
// Once begun it runs to its end, interrupt or not: half a swap is no proxy.
func recreateProxy(ctx context.Context, eng Engine, cfg *config.Config, spec engine.ContainerSpec, old engine.ContainerInfo) error {
	ctx, cancel := cleanupCtx(ctx)
	defer cancel()
	aside := ProxyName + "-previous"
	if err := eng.RemoveContainer(ctx, aside, true); err != nil && !engine.IsNotFound(err) {
		return err
	}
	if err := eng.RenameContainer(ctx, old.ID, aside); err != nil {
		return err
	}
	if err := eng.StopContainer(ctx, old.ID, 5*time.Second); err != nil {
		_ = eng.RenameContainer(ctx, old.ID, ProxyName)
		return err
	}
	if err := startProxy(ctx, eng, cfg, spec); err != nil {
		if err := eng.RemoveContainer(ctx, ProxyName, true); err != nil && !engine.IsNotFound(err) {
			return fmt.Errorf("host %s: the new berth-proxy failed and could not be removed to restore the previous one (%s): %w", eng.Host(), aside, err)
		}
		_ = eng.RenameContainer(ctx, old.ID, ProxyName)
		if serr := eng.StartContainer(ctx, old.ID); serr != nil {
			return fmt.Errorf("host %s: restoring the previous berth-proxy: %v (after: %w)", eng.Host(), serr, err)
		}
		return fmt.Errorf("%w; the previous berth-proxy was restored", err)
	}
	return eng.RemoveContainer(ctx, old.ID, true)
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
