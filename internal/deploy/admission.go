package deploy

import (
	"fmt"
	"sort"
	"strings"

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
// engine: the planned spec of every service, with the compose image.
func CheckPolicy(cfg *config.Config, p policy.Policy, services []*config.Service, images map[string]string) ([]ServiceFindings, error) {
	var out []ServiceFindings
	for _, svc := range services {
		image := svc.Compose.Image
		if ref, ok := images[svc.Name]; ok {
			image = ref
		}
		spec, err := containerSpec(cfg, svc, image, "", 0, "")
		if err != nil {
			return nil, err
		}
		ps := policy.FromEngine(spec, svc.Name)
		ps.Name = svc.Name // findings name the service the user wrote
		// A routed service is health-checked by berth-proxy before it
		// gets traffic: that counts as a health check.
		ps.Healthcheck = ps.Healthcheck || svc.Route != nil
		out = append(out, ServiceFindings{Service: svc.Name, Findings: p.Evaluate(&ps)})
	}
	return out, nil
}

// admit runs the policy over every service a deploy touches before
// anything happens on any host: enforced violations refuse the deploy,
// the others are shown, briefly, so the user knows what to tighten.
func (d *Deployer) admit(svcs []*config.Service, images map[string]string) error {
	p, err := PolicyFromConfig(d.Cfg)
	if err != nil {
		return err
	}
	if d.Policy != nil {
		p = *d.Policy
	}
	results, err := CheckPolicy(d.Cfg, p, svcs, images)
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
