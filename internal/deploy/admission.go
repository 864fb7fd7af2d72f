package deploy

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/berthhq/berth/internal/build"
	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/policy"
)

// ServiceFindings are the policy findings for one service.
type ServiceFindings struct {
	Service  string           `json:"service"`
	Findings []policy.Finding `json:"findings"`
}

// PolicyError lists every violation that blocks a deploy. Nothing was
// changed on any host.
type PolicyError struct {
	Blocking []policy.Finding
}

func (e *PolicyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "policy refuses the deploy (%d violations); nothing was changed on any host:", len(e.Blocking))
	for _, f := range e.Blocking {
		fmt.Fprintf(&b, "\n  service %s: [%s, %s] %s (fix: %s)", f.Container, f.Rule, f.Severity, f.Message, f.Fix)
	}
	return b.String()
}

// PolicyFromConfig builds the policy berth.yaml asks for (see
// policy.FromConfig).
func PolicyFromConfig(cfg *config.Config) (policy.Policy, error) {
	return policy.FromConfig(cfg.Policy)
}

// CheckPolicy judges the containers the config would create, without an
// engine: the planned spec of every service, with the compose image. A
// service whose container cannot be planned (a secret with no file) is a
// configuration error at the service's position in its compose file.
func CheckPolicy(cfg *config.Config, p policy.Policy, services []*config.Service, images map[string]string) ([]ServiceFindings, error) {
	return checkPolicy(cfg, p, services, images, nil)
}

// imageUserFunc returns the USER an image is configured with, and whether
// it could be read.
type imageUserFunc func(svc *config.Service, image string) (string, bool)

func checkPolicy(cfg *config.Config, p policy.Policy, services []*config.Service, images map[string]string, imageUser imageUserFunc) ([]ServiceFindings, error) {
	env, err := policy.ReadComposeEnv(cfg)
	if err != nil {
		return nil, err
	}
	var out []ServiceFindings
	var errs config.ErrorList
	for _, svc := range services {
		image := svc.Compose.Image
		if ref, ok := images[svc.Name]; ok {
			image = ref
		} else if svc.Compose.Build != nil {
			image = build.PlannedRef(cfg.App, svc.Name, image)
		}
		spec, err := containerSpec(cfg, svc, image, "", 0, "")
		if err != nil {
			errs = append(errs, policy.ServiceError(svc, err))
			continue
		}
		// A replaceable service's ports are published by its forwarder;
		// they are still the service's, and judged as such.
		if !svc.Accessory {
			spec.Ports, _ = servicePorts(svc)
		}
		ps := policy.ForService(cfg, svc, spec, env)
		if imageUser != nil && spec.User == "" {
			if u, ok := imageUser(svc, image); ok {
				ps.SetImageUser(u)
			}
		}
		if u, ok := policy.BuildUser(svc.Compose.Build); ok && ps.UserUnknown {
			ps.SetImageUser(u) // the Dockerfile in the project says, without an engine
		}
		out = append(out, ServiceFindings{Service: svc.Name, Findings: p.Evaluate(&ps)})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// imageUser reads the image's configured USER on the first of the
// service's hosts that has the image. An image not pulled yet leaves the
// user unknown, which the root-user finding says.
func (d *Deployer) imageUser(ctx context.Context) imageUserFunc {
	return func(svc *config.Service, image string) (string, bool) {
		for _, h := range svc.Hosts {
			eng := d.Hosts[h]
			if eng == nil {
				continue
			}
			if info, err := eng.InspectImage(ctx, image); err == nil {
				return info.User, true
			}
		}
		return "", false
	}
}

// admit runs the policy over every service a deploy touches before
// anything happens on any host: enforced violations refuse the deploy,
// the others are shown, briefly, so the user knows what to tighten.
func (d *Deployer) admit(ctx context.Context, svcs []*config.Service, images map[string]string) error {
	p, err := PolicyFromConfig(d.Cfg)
	if err != nil {
		return err
	}
	if d.Policy != nil {
		p = *d.Policy
	}
	results, err := checkPolicy(d.Cfg, p, svcs, images, d.imageUser(ctx))
	if err != nil {
		return err
	}
	var blocking []policy.Finding
	for _, r := range results {
		blocking = append(blocking, policy.Blocking(r.Findings)...)
		var warned, waived []string
		for _, f := range r.Findings {
			switch {
			case f.Waived:
				waived = append(waived, f.Rule+" ("+f.Waiver+")")
			case !f.Enforced && !contains(warned, f.Rule):
				warned = append(warned, f.Rule)
			}
		}
		if len(warned) > 0 {
			sort.Strings(warned)
			d.progress().Step(Event{Host: "-", Service: r.Service, Step: "policy",
				Detail: fmt.Sprintf("%d warnings (%s); `berth policy check` shows the fixes", len(warned), strings.Join(warned, ", "))})
		}
		if len(waived) > 0 {
			d.progress().Step(Event{Host: "-", Service: r.Service, Step: "policy", Detail: "waived: " + strings.Join(waived, "; ")})
		}
	}
	if len(blocking) > 0 {
		return &PolicyError{Blocking: blocking}
	}
	return nil
}
