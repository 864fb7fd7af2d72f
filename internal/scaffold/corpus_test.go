package scaffold

import (
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v4"
)

// handWritten is the part of a berth.yaml the comparison reads.
type handWritten struct {
	Services map[string]struct {
		Route *struct {
			Port   int
			Health string
		}
		Accessory bool
	}
}

// readHand reads the hand-written berth.yaml at path.
func readHand(t *testing.T, path string) handWritten {
	t.Helper()
	var hand handWritten
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &hand); err != nil {
		t.Fatal(err)
	}
	return hand
}

// kind is what the hand-written file makes a service.
func (h handWritten) kind(service string) Kind {
	s := h.Services[service]
	switch {
	case s.Accessory:
		return Accessory
	case s.Route != nil:
		return Web
	}
	return Worker
}

// agreeing are the projects of the e2e corpus (e2e/testdata/projects)
// whose compose files say enough for init to guess what their authors
// wrote by hand: every route (with its port), every accessory, and workers
// for the rest. Most of the others route services whose compose file names
// no port, healthcheck URL, server or known image (the port lives in the
// image or in an app config file): there init writes a worker and says so.
var agreeing = []string{
	"anchors-extensions", "django-celery", "elasticsearch-ulimits", "game-server",
	"gitea-ssh", "kafka-zookeeper", "keycloak-dsn", "logging-restart", "nextcloud-cron",
	"node-mongo-build-args", "override-dangerous", "secrets-file", "smtp-env-secret",
	"static-site", "traefik-socket", "wordpress-mysql",
}

func TestInitAgreesWithCorpus(t *testing.T) {
	root := filepath.Join("..", "..", "e2e", "testdata", "projects")
	for _, name := range agreeing {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join(root, name)
			if _, err := os.Stat(src); err != nil {
				t.Skipf("the corpus no longer has %s: %v", name, err)
			}
			dir := filepath.Join(t.TempDir(), name)
			if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			hand := readHand(t, filepath.Join(dir, "berth.yaml"))
			res, err := runInit(t, filepath.Join(dir, "berth.init.yaml"), false)
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range res.Guesses {
				h, want := hand.Services[g.Service], hand.kind(g.Service)
				if g.Kind != want || (want == Web && g.Port != h.Route.Port) {
					t.Errorf("%s: init guessed %s (port %d, from %q); the hand-written berth.yaml makes it %s", g.Service, g.Kind, g.Port, g.Why, want)
				}
			}
		})
	}
}
