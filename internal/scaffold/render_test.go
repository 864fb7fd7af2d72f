package scaffold

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"
)

// TestYAMLKeyRoundTrip: every name compose accepts as a service name
// reads back from berth.yaml as the same string.
func TestYAMLKeyRoundTrip(t *testing.T) {
	for _, name := range []string{"web", "my_web", "web.v2", "true", "No", "null", "1", "0x1F", "1e3", "-web", ".hidden", "~"} {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(yamlKey(name)+": {}\n"), &m); err != nil {
			t.Errorf("%q: %v", name, err)
			continue
		}
		if _, ok := m[name]; !ok || len(m) != 1 {
			t.Errorf("service %q written as %s reads back as %v", name, yamlKey(name), m)
		}
	}
}

func TestRouteHostsAreDistinctHostNames(t *testing.T) {
	gs := []Guess{{Service: "web_a", Kind: Web}, {Service: "web-a", Kind: Web}, {Service: "___", Kind: Web}, {Service: "db", Kind: Accessory}}
	hosts := routeHosts(gs)
	want := map[string]string{"web_a": "web-a.example.com", "web-a": "web-a-2.example.com", "___": "app.example.com"}
	for svc, h := range want {
		if hosts[svc] != h {
			t.Errorf("%s: host %q; want %q", svc, hosts[svc], h)
		}
	}
	if _, ok := hosts["db"]; ok || !strings.HasSuffix(hosts["web_a"], ".example.com") {
		t.Errorf("hosts %v", hosts)
	}
}
