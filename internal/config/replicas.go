package config

import (
	"sort"

	"github.com/compose-spec/compose-go/v2/types"
)

// Replicas is how many containers of the service a release runs on each of
// its hosts: compose's deploy.replicas or scale (compose-go keeps the two
// equal), 1 when neither is set.
func (s *Service) Replicas() int {
	return max(s.Compose.GetScale(), 1)
}

// checkReplicas refuses the replica counts berth cannot honour, at the
// compose key that sets them: any count for an accessory but one, and zero
// for anything. (Several with a container_name compose-go refuses itself.)
func checkReplicas(doc *composeDoc, p *types.Project, specs []*serviceSpec, e *errs) {
	if doc == nil || p == nil {
		return
	}
	accessory := map[string]bool{}
	for _, s := range specs {
		accessory[s.name] = s.accessory
	}
	names := make([]string, 0, len(p.Services))
	for name := range p.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := p.Services[name]
		if s.Scale == nil && (s.Deploy == nil || s.Deploy.Replicas == nil) {
			continue
		}
		n := s.GetScale()
		keys := []string{"deploy", "replicas"}
		if s.Scale != nil && doc.lookup("services", name, "scale") != nil {
			keys = []string{"scale"}
		}
		switch {
		case accessory[name] && n != 1:
			doc.errorf(e, name, keys, "set it to 1 or remove it; for several instances, make it a service that is not an accessory",
				"%s is an accessory in berth.yaml: one long-lived container that deploys never replace (a database, a cache), which cannot run as %d replicas", name, n)
		case n == 0:
			doc.errorf(e, name, keys, "set it to 1 or more; to leave the service out of a deploy, give it a profile",
				"berth deploys at least one container of every service it deploys")
		}
	}
}
