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

// PolicyFromConfig builds the policy berth.yaml asks for. An unknown rule ID
// is a configuration error at its position, so a typo never silently turns
// nothing off.
func PolicyFromConfig(cfg *config.Config) (policy.Policy, error) {
	p := policy.Default()
	c := cfg.Policy
	if c.Mode != "" {
		p.Mode = policy.Mode(c.Mode)
	}
	if c.Threshold != "" {
		sev, err := policy.ParseSeverity(c.Threshold)
		if err != nil {
			return p, err
		}
		p.Threshold = sev
	}
	var errs config.ErrorList
	for _, r := range c.Rules {
		if _, ok := policy.RuleByID(r.ID); !ok {
			errs = append(errs, &config.Error{File: r.File, Line: r.Line, Column: r.Column, Path: "policy.rules." + r.ID,
				Msg: "unknown rule " + r.ID, Fix: "see `berth policy list` for the rule IDs"})
			continue
		}
		if p.Rules == nil {
			p.Rules = map[string]policy.Mode{}
		}
		p.Rules[r.ID] = policy.Mode(r.Mode)
	}
	for _, w := range c.Waivers {
		if _, ok := policy.RuleByID(w.Rule); !ok {
			errs = append(errs, &config.Error{File: w.File, Line: w.Line, Column: w.Column, Path: "policy.waivers",
				Msg: "waiver for unknown rule " + w.Rule, Fix: "see `berth policy list` for the rule IDs"})
			continue
		}
		p.Waivers = append(p.Waivers, policy.Waiver{Rule: w.Rule, Service: w.Service, Container: w.Container, Label: w.Label, Reason: w.Reason, Expires: w.Expires})
	}
	if len(errs) > 0 {
		return p, errs
	}
	return p, nil
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
