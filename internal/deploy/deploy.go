package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/policy"
	"github.com/berthhq/berth/internal/release"
)

// Deployer rolls an app out to its hosts.
type Deployer struct {
	Cfg *config.Config
	// Hosts are connected engines by berth.yaml host name.
	Hosts    map[string]Engine
	Progress Progress
	// Policy judges what a deploy would create, over all services before
	// any host is touched (admission.go); nil: berth.yaml's policy.
	Policy *policy.Policy
	// RecreateProxy allows replacing berth-proxy when this berth.yaml's
	// proxy settings differ from those it runs with while other apps route
	// through it (a moment without a proxy for them).
	RecreateProxy bool

	prepared map[string]bool
}

// Options select what a deploy does.
type Options struct {
	Services []string          // empty: every service
	Images   map[string]string // service -> image reference, overrides compose
	Version  string            // release version; default the image tag or digest
	LockWait time.Duration
	Reason   string
	// NoBuild deploys the images already built for services with build:
	// instead of building them.
	NoBuild bool
}

// ServiceResult is the outcome for one service on one host.
type ServiceResult struct {
	Host      string  `json:"host"`
	Service   string  `json:"service"`
	Action    string  `json:"action"` // created, deployed, unchanged, rolled-back, started
	Release   int     `json:"release,omitempty"`
	Version   string  `json:"version,omitempty"`
	Container string  `json:"container"`
	Replicas  int     `json:"replicas,omitempty"` // containers of the release on the host
	Previous  string  `json:"previous,omitempty"`
	Seconds   float64 `json:"seconds"`
}

// Result is the outcome of a deploy or rollback.
type Result struct {
	App      string          `json:"app"`
	Services []ServiceResult `json:"services"`
}

func (d *Deployer) progress() Progress {
	if d.Progress == nil {
		return NoProgress{}
	}
	return d.Progress
}

// lockHost is where an app's lock lives: the first host by name, so every
// berth that reads the same berth.yaml agrees on it.
func (d *Deployer) lockHost() Engine { return d.Hosts[d.Cfg.Hosts[0].Name] }

// withLock runs fn holding the app's deploy lock.
func (d *Deployer) withLock(ctx context.Context, wait time.Duration, reason string, fn func() error) error {
	eng := d.lockHost()
	ref, err := EnsureSelfImage(ctx, eng)
	if err != nil {
		return err
	}
	d.progress().Step(Event{Host: eng.Host(), Step: "lock", Detail: "taking the deploy lock"})
	lock, err := release.Acquire(ctx, eng, d.Cfg.App, ref, reason, wait)
	if err != nil {
		return err
	}
	err = fn()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if uerr := release.UnlockHeld(cctx, eng, lock); uerr != nil {
		// The work is done (or failed on its own); a lock left behind would
		// block the next deploy, so say so and how to clear it.
		return errors.Join(err, fmt.Errorf("host %s: %w (fix: run `berth lock release`)", eng.Host(), uerr))
	}
	return err
}

// selectServices resolves names to services, in dependency order.
func (d *Deployer) selectServices(names []string) ([]*config.Service, error) {
	if len(names) == 0 {
		return d.Cfg.Services, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		if d.Cfg.Service(n) == nil {
			return nil, fmt.Errorf("service %q is not in %s (fix: use one of: %s)", n, d.Cfg.ComposeFile, strings.Join(d.serviceNames(), ", "))
		}
		want[n] = true
	}
	var out []*config.Service
	for _, s := range d.Cfg.Services {
		if want[s.Name] {
			out = append(out, s)
		}
	}
	return out, nil
}

func (d *Deployer) serviceNames() []string {
	var names []string
	for _, s := range d.Cfg.Services {
		names = append(names, s.Name)
	}
	return names
}

// Deploy rolls out the selected services on every host they run on.
func (d *Deployer) Deploy(ctx context.Context, opts Options) (*Result, error) {
	svcs, err := d.selectServices(opts.Services)
	if err != nil {
		return nil, err
	}
	for name := range opts.Images {
		if len(opts.Services) > 0 && !contains(opts.Services, name) {
			return nil, fmt.Errorf("--image %s=...: %s is not among the services to deploy (%s) (fix: add %s to them, or drop the flag)", name, name, strings.Join(opts.Services, ", "), name)
		}
		if s := d.Cfg.Service(name); s == nil {
			return nil, fmt.Errorf("--image %s=...: service %q is not in %s (fix: use one of: %s)", name, name, d.Cfg.ComposeFile, strings.Join(d.serviceNames(), ", "))
		} else if s.Accessory {
			return nil, fmt.Errorf("--image %s=...: %s is an accessory, which a deploy never replaces", name, name)
		}
	}
	// Ports first: a port conflict is known in a second, a build may take
	// minutes.
	if err := d.checkPorts(ctx, svcs); err != nil {
		return nil, err
	}
	built, err := d.buildImages(ctx, svcs, opts)
	if err != nil {
		return nil, err
	}
	images := withImages(opts.Images, built)
	if err := d.admit(ctx, svcs, images); err != nil {
		return nil, err
	}
	if err := d.checkExternal(ctx, svcs); err != nil {
		return nil, err
	}
	if err := d.checkSupported(svcs, opts.Images); err != nil {
		return nil, err
	}
	res := &Result{App: d.Cfg.App}
	reason := opts.Reason
	if reason == "" {
		reason = "deploy " + strings.Join(opts.Services, " ")
	}
	err = d.withLock(ctx, opts.LockWait, strings.TrimSpace(reason), func() error {
		for _, svc := range svcs {
			for _, hostName := range svc.Hosts {
				if err := d.prepareHost(ctx, d.Hosts[hostName]); err != nil {
					return err
				}
			}
		}
		// Services in one wave depend on nothing deployed in the same run
		// after them, so they roll out side by side, as docker compose
		// starts them; a wave starts when the one before it is healthy.
		for _, wave := range waves(svcs) {
			results := make([][]ServiceResult, len(wave))
			errs := make([]error, len(wave))
			var wg sync.WaitGroup
			for i, svc := range wave {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i], errs[i] = d.deployService(ctx, svc, images, built, opts.Version)
				}()
			}
			wg.Wait()
			for i := range wave {
				res.Services = append(res.Services, results[i]...)
			}
			// The first failure in dependency order decides the exit code;
			// the others of the wave finished or rolled back on their own.
			for _, err := range errs {
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	return res, err
}

// deployService rolls svc out on each of its hosts in turn.
func (d *Deployer) deployService(ctx context.Context, svc *config.Service, images, built map[string]string, version string) ([]ServiceResult, error) {
	var out []ServiceResult
	for _, hostName := range svc.Hosts {
		eng := d.Hosts[hostName]
		image := svc.Compose.Image
		if ref, ok := images[svc.Name]; ok {
			image = ref
		}
		start := time.Now()
		var r ServiceResult
		var err error
		switch {
		case svc.Accessory:
			r, err = d.ensureAccessory(ctx, eng, withImage(svc, built[svc.Name]))
		default:
			r, err = d.rollOut(ctx, eng, svc, image, version)
		}
		r.Seconds = time.Since(start).Seconds()
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// waves groups svcs (in dependency order) so that each service comes in a
// wave after every service it depends_on that is deployed too.
func waves(svcs []*config.Service) [][]*config.Service {
	level := map[string]int{}
	var out [][]*config.Service
	for _, svc := range svcs {
		l := 0
		for dep := range svc.Compose.DependsOn {
			if dl, ok := level[dep]; ok && dl+1 > l {
				l = dl + 1
			}
		}
		level[svc.Name] = l
		for len(out) <= l {
			out = append(out, nil)
		}
		out[l] = append(out[l], svc)
	}
	return out
}

// prepareHost makes sure the host has berth's image, the networks and, when
// any service is routed, a running berth-proxy.
func (d *Deployer) prepareHost(ctx context.Context, eng Engine) error {
	if d.prepared[eng.Host()] {
		return nil
	}
	ref, err := EnsureSelfImage(ctx, eng)
	if err != nil {
		return err
	}
	labels := map[string]string{release.LabelManaged: "true"}
	if err := eng.EnsureNetwork(ctx, SharedNetwork, labels); err != nil {
		return err
	}
	appLabels := map[string]string{release.LabelManaged: "true", release.LabelApp: d.Cfg.App}
	if err := eng.EnsureNetwork(ctx, AppNetwork(d.Cfg.App), appLabels); err != nil {
		return err
	}
	if err := d.ensureNetworks(ctx, eng); err != nil {
		return err
	}
	// berth-proxy publishes a port: only hosts with a routed service get one.
	for _, s := range d.Cfg.Services {
		if s.Route != nil && onHost(s.Hosts, eng.Host()) {
			if err := d.ensureProxy(ctx, eng, ref); err != nil {
				return err
			}
			break
		}
	}
	if d.prepared == nil {
		d.prepared = map[string]bool{}
	}
	d.prepared[eng.Host()] = true
	return nil
}

// history reads a service's releases on a host.
func history(ctx context.Context, eng Engine, app, service string) ([]release.Release, error) {
	cs, err := eng.ListContainers(ctx, map[string]string{release.LabelApp: app, release.LabelService: service})
	if err != nil {
		return nil, err
	}
	return release.FromContainers(cs)[service], nil
}

// resolveImage makes sure image is on the host, pulling it when a registry
// has it, and returns its ID.
func resolveImage(ctx context.Context, eng Engine, svc string, image string) (string, error) {
	info, err := eng.InspectImage(ctx, image)
	if err == nil {
		return info.ID, nil
	}
	if !engine.IsNotFound(err) {
		return "", err
	}
	if perr := eng.PullImage(ctx, image); perr != nil {
		return "", &ImageMissingError{Host: eng.Host(), Service: svc, Image: image, Err: perr}
	}
	info, err = eng.InspectImage(ctx, image)
	if err != nil {
		return "", err
	}
	return info.ID, nil
}

// versionOf names a release after its image when --version is not given.
func versionOf(image, imageID string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		d := image[i+1:]
		d = strings.TrimPrefix(d, "sha256:")
		return d[:min(12, len(d))]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image[i+1:]
	}
	id := strings.TrimPrefix(imageID, "sha256:")
	return id[:min(12, len(id))]
}

// ensureVolumes creates the named volumes spec mounts, labelled as the
// app's. Existing volumes and their data are never touched.
func (d *Deployer) ensureVolumes(ctx context.Context, eng Engine, spec engine.ContainerSpec) error {
	for key, vol := range d.Cfg.Project.Volumes {
		name := volumeName(d.Cfg, key, vol)
		used := false
		for _, m := range spec.Mounts {
			used = used || (m.Type == "volume" && m.Source == name)
		}
		if !used || bool(vol.External) {
			continue
		}
		labels := map[string]string{}
		for k, v := range vol.Labels {
			labels[k] = v
		}
		labels[release.LabelManaged], labels[release.LabelApp], labels[release.LabelVolume] = "true", d.Cfg.App, key
		if err := eng.CreateVolumeSpec(ctx, engine.VolumeSpec{Name: name, Driver: vol.Driver, DriverOpts: vol.DriverOpts, Labels: labels}); err != nil {
			return err
		}
	}
	return nil
}

// create creates a container, telling a berth leftover from somebody else's
// container when the name is taken.
func (d *Deployer) create(ctx context.Context, eng Engine, svc *config.Service, spec engine.ContainerSpec) (string, error) {
	if err := d.ensureVolumes(ctx, eng, spec); err != nil {
		return "", err
	}
	id, err := eng.CreateContainer(ctx, spec)
	if err == nil {
		return id, nil
	}
	if !engine.IsConflict(err) {
		return "", err
	}
	info, ierr := eng.InspectContainer(ctx, spec.Name)
	if ierr != nil || info.Labels[release.LabelApp] != d.Cfg.App {
		return "", &NameTakenError{Host: eng.Host(), Name: spec.Name}
	}
	return "", fmt.Errorf("host %s: container %s already exists (fix: run `berth status` and retry the deploy): %w", eng.Host(), spec.Name, err)
}

// stopTimeout is how long a container gets to exit after SIGTERM.
func stopTimeout(svc *config.Service) time.Duration {
	if g := svc.Compose.StopGracePeriod; g != nil {
		return time.Duration(*g)
	}
	return defaultStopTimeout
}

// failNew removes a release that never served, and describes why it failed.
func failNew(ctx context.Context, eng Engine, id string) string {
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	logs, err := eng.ContainerLogs(cctx, id, 30)
	if err != nil {
		logs += "(could not read the logs: " + err.Error() + ")"
	}
	_ = eng.DiscardContainer(cctx, id)
	return logs
}

var errExited = errors.New("container exited")

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
