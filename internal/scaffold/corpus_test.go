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
			Port int
		}
		Accessory bool
	}
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
			var hand handWritten
			b, err := os.ReadFile(filepath.Join(dir, "berth.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(b, &hand); err != nil {
				t.Fatal(err)
			}
			res, err := runInit(t, filepath.Join(dir, "berth.init.yaml"), false)
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range res.Guesses {
				h := hand.Services[g.Service]
				want := Worker
				switch {
				case h.Accessory:
					want = Accessory
				case h.Route != nil:
					want = Web
				}
				if g.Kind != want || (want == Web && g.Port != h.Route.Port) {
					t.Errorf("%s: init guessed %s (port %d, from %q); the hand-written berth.yaml makes it %s", g.Service, g.Kind, g.Port, g.Why, want)
				}
			}
		})
	}
}
