package config

import (
	"path/filepath"
	"testing"
)

// TestReplicasHonoured: deploy.replicas and scale load as the service's
// replica count; an accessory of one replica stays valid.
func TestReplicasHonoured(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), `services:
  web:
    image: w:1
    deploy:
      replicas: 3
  worker:
    image: k:1
    scale: 2
  both:
    image: k:1
    scale: 4
    deploy:
      replicas: 4
  db:
    image: d:1
    deploy:
      replicas: 1
  plain:
    image: p:1
`)
	writeFile(t, filepath.Join(dir, "berth.yaml"), "app: shop\nservices:\n  web:\n    route: { host: shop.test, port: 8080 }\n  db:\n    accessory: true\n")
	cfg := load(t, filepath.Join(dir, "berth.yaml"), LoadOptions{})
	for name, want := range map[string]int{"web": 3, "worker": 2, "both": 4, "db": 1, "plain": 1} {
		if got := cfg.Service(name).Replicas(); got != want {
			t.Errorf("%s.Replicas() = %d, want %d", name, got, want)
		}
	}
}
