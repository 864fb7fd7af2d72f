package scaffold

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berthhq/berth/internal/config"
)

// testEnv is the whole environment compose interpolates with in tests, so
// nothing of the machine running them leaks in.
func testEnv() map[string]string {
	return map[string]string{"HOME": "/home/test", "TOKEN": testSecret, "ADMIN_PASS": testSecret}
}

// testSecret is a value no output may contain.
const testSecret = "s3cr3t-Value-42"

// loadCompose writes compose (and any extra files) into a directory named
// dir under a temporary one and loads it as init does.
func loadCompose(t *testing.T, dir, compose string, profiles ...string) *config.ComposeProject {
	t.Helper()
	d := filepath.Join(t.TempDir(), dir)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	cp, err := config.LoadComposeProject(context.Background(), d, "test", config.LoadOptions{Env: testEnv(), Profiles: profiles})
	if err != nil {
		t.Fatalf("loading compose: %v\n%s", err, compose)
	}
	return cp
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name    string
		service string // the service's compose body, indented by 4
		extra   string // top-level compose keys after services:
		kind    Kind
		port    int
		health  string
		why     []string // each must appear in one of Why
		notes   []string // each must appear in one of Notes
	}{
		{
			name:    "nginx publishing 80:80",
			service: "image: nginx:1.27\n    ports: [\"80:80\"]",
			kind:    Web, port: 80, health: "/",
			why:   []string{"ports: 80:80", "image nginx"},
			notes: []string{"compose publishes 80:80 (ports:): berth-proxy serves this route", "remove that entry"},
		},
		{
			name: "Go app with expose 8080 and a curl healthcheck",
			service: `image: ghcr.io/acme/api:1.2
    expose: ["8080"]
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8080/healthz"]`,
			kind: Web, port: 8080, health: "/healthz",
			why: []string{"expose: 8080", "HTTP healthcheck of http://localhost:8080/healthz"},
		},
		{
			name: "postgres with a named volume and 5432:5432",
			service: `image: postgres:16
    ports: ["5432:5432"]
    volumes: [pgdata:/var/lib/postgresql/data]`,
			extra: "volumes:\n  pgdata: {}\n",
			kind:  Accessory,
			why:   []string{"image postgres (a database)", "named volume pgdata"},
			notes: []string{"compose publishes 5432:5432 on the host"},
		},
		{
			name:    "redis",
			service: "image: redis:7-alpine",
			kind:    Accessory,
			why:     []string{"image redis (a cache)"},
		},
		{
			name:    "bitnami postgresql by registry path",
			service: "image: docker.io/bitnami/postgresql:16@sha256:" + strings.Repeat("a", 64),
			kind:    Accessory,
			why:     []string{"image postgresql"},
		},
		{
			name:    "a worker with no ports",
			service: "image: ghcr.io/acme/api:1.2\n    command: [\"worker\", \"--queue\", \"mail\"]",
			kind:    Worker,
			why:     []string{"nothing in compose says it serves HTTP or keeps data"},
		},
		{
			name:    "build and no image, serving on 5000",
			service: "build: .\n    ports: [\"127.0.0.1:5000:5000\"]",
			kind:    Web, port: 5000, health: "/",
			why: []string{"ports: 127.0.0.1:5000:5000"},
		},
		{
			name:    "build and no image, no ports",
			service: "build:\n      context: .\n      dockerfile: Dockerfile.worker",
			kind:    Worker,
		},
		{
			name:    "healthcheck as a shell string without a port",
			service: "image: ghcr.io/acme/site:3\n    healthcheck:\n      test: wget -q --spider http://localhost/health?full=1 || exit 1",
			kind:    Web, port: 80, health: "/health",
		},
		{
			name:    "credentials in a healthcheck are not copied",
			service: "image: ghcr.io/acme/app:1\n    healthcheck:\n      test: [\"CMD-SHELL\", \"curl -fsS -H 'Authorization: Bearer ${TOKEN}' http://admin:${ADMIN_PASS}@localhost:8080/health?key=${TOKEN}\"]",
			kind:    Web, port: 8080, health: "/health",
			why: []string{"HTTP healthcheck of http://localhost:8080/health"},
		},
		{
			name:    "the healthcheck's port wins over the first HTTP port",
			service: "image: ghcr.io/acme/app:1\n    expose: [\"80\", \"8080\"]\n    healthcheck:\n      test: [\"CMD-SHELL\", \"curl -fsS http://127.0.0.1:8080/ready\"]",
			kind:    Web, port: 8080, health: "/ready",
			why: []string{"expose: 8080"},
		},
		{
			name:    "the app's own health checker with a URL",
			service: "image: shop:1.0.0\n    healthcheck:\n      test: [\"CMD\", \"/shop\", \"healthcheck\", \"http://127.0.0.1:8080/up\"]",
			kind:    Web, port: 8080, health: "/up",
		},
		{
			name:    "a TCP healthcheck says nothing about HTTP",
			service: "image: shop:1.0.0\n    healthcheck:\n      test: [\"CMD\", \"/shop\", \"healthcheck\", \"127.0.0.1:7000\"]",
			kind:    Worker,
		},
		{
			name:    "a healthcheck of another service says nothing",
			service: "image: ghcr.io/acme/app:1\n    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", \"http://api:8080/\"]",
			kind:    Worker,
		},
		{
			name:    "a disabled healthcheck says nothing",
			service: "image: ghcr.io/acme/app:1\n    healthcheck:\n      disable: true",
			kind:    Worker,
		},
		{
			name:    "an https healthcheck is not berth-proxy's protocol",
			service: "image: ghcr.io/acme/app:1\n    healthcheck:\n      test: [\"CMD\", \"curl\", \"-kf\", \"https://localhost:8443/\"]",
			kind:    Worker,
		},
		{
			name:    "php apache image by its tag",
			service: "image: php:8.3-apache",
			kind:    Web, port: 80, health: "/",
			why: []string{"image php"},
		},
		{
			name:    "unprivileged nginx listens on 8080",
			service: "image: nginxinc/nginx-unprivileged:1.27",
			kind:    Web, port: 8080,
		},
		{
			name:    "nginx publishing only TLS keeps its HTTP port",
			service: "image: nginx:1.27\n    ports: [\"443:443\"]",
			kind:    Web, port: 80,
		},
		{
			name:    "nginx on a custom port keeps its own, with a comment",
			service: "image: nginx:1.27\n    ports: [\"9001:9001\"]",
			kind:    Web, port: 80,
			notes: []string{"compose declares ports: 9001:9001, not 80, the port nginx serves HTTP on by default"},
		},
		{
			name:    "gitea publishing ssh is routed to its HTTP port and health endpoint",
			service: "image: gitea/gitea:1.22.2\n    ports: [\"2222:22\"]\n    volumes: [\"gitea:/data\"]",
			extra:   "volumes:\n  gitea: {}\n",
			kind:    Web, port: 3000, health: "/api/healthz",
			notes: []string{"named volume gitea"},
		},
		{
			name:    "a web image with its entrypoint replaced is a job",
			service: "image: nextcloud:29-apache\n    entrypoint: /cron.sh",
			kind:    Worker,
			why:     []string{"replaces its entrypoint"},
		},
		{
			name:    "a web image with its command changed still serves",
			service: "image: quay.io/keycloak/keycloak:25.0.6\n    command: start --optimized",
			kind:    Web, port: 8080,
		},
		{
			name:    "gunicorn bound to a port",
			service: "build: .\n    command: gunicorn shop.wsgi:application --bind 0.0.0.0:8001 --workers 3",
			kind:    Web, port: 8001,
			why: []string{"command runs gunicorn (an HTTP server) on port 8001"},
		},
		{
			name:    "Django's runserver on its default port",
			service: "build: .\n    command: [\"python\", \"manage.py\", \"runserver\"]",
			kind:    Web, port: 8000,
		},
		{
			name:    "a PORT variable",
			service: "image: ghcr.io/acme/notes:1\n    environment:\n      PORT: \"3000\"",
			kind:    Web, port: 3000,
			why: []string{"environment PORT=3000"},
		},
		{
			name:    "a read-only named volume holds no state",
			service: "image: ghcr.io/acme/infer:1\n    volumes: [\"models:/models:ro\"]",
			extra:   "volumes:\n  models: {}\n",
			kind:    Worker,
		},
		{
			name:    "prometheus keeps its time series",
			service: "image: prom/prometheus:v2.54.1\n    volumes: [\"prom:/prometheus\"]",
			extra:   "volumes:\n  prom: {}\n",
			kind:    Accessory,
			why:     []string{"image prometheus (a time-series database)"},
		},
		{
			name:    "confluent's zookeeper",
			service: "image: confluentinc/cp-zookeeper:7.7.1",
			kind:    Accessory,
		},
		{
			name:    "a healthcheck on an undeclared port is named when the route uses another",
			service: "image: ghcr.io/acme/app:1\n    ports: [\"3000:3000\"]\n    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost:9999/health\"]",
			kind:    Web, port: 3000, health: "/health",
			notes: []string{"the healthcheck uses port 9999, the route port 3000"},
		},
		{
			name:    "mongo-express is a web UI, not a database",
			service: "image: mongo-express:1",
			kind:    Web, port: 8081,
		},
		{
			name:    "traefik is an accessory, with a word about berth-proxy",
			service: "image: traefik:v3\n    ports: [\"80:80\"]\n    volumes: [\"/var/run/docker.sock:/var/run/docker.sock:ro\"]",
			kind:    Accessory,
			why:     []string{"a reverse proxy"},
			notes:   []string{"berth-proxy already routes by host name", "cannot both publish one port"},
		},
		{
			name:    "an expose range counts by its first port",
			service: "image: ghcr.io/acme/app:1\n    expose: [\"8000-8002\"]",
			kind:    Web, port: 8000,
		},
		{
			name:    "DNS on 53/udp is a worker with its ports named",
			service: "image: ghcr.io/acme/dns:1\n    ports: [\"53:53/udp\", \"53:53\"]",
			kind:    Worker,
			notes:   []string{"ports: 53:53/udp", "if it serves HTTP, give it a route"},
		},
		{
			name:    "a custom image with a named volume keeps data",
			service: "image: ghcr.io/acme/store:1\n    volumes: [\"blobs:/data\", \"./conf:/conf:ro\"]",
			extra:   "volumes:\n  blobs: {}\n",
			kind:    Accessory,
			why:     []string{"named volume blobs"},
		},
		{
			name:    "a web app with a named volume stays routed",
			service: "image: wordpress:6\n    volumes: [\"wp:/var/www/html\"]",
			extra:   "volumes:\n  wp: {}\n",
			kind:    Web, port: 80,
			notes: []string{"named volume wp"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp := loadCompose(t, "proj", "services:\n  svc:\n    "+tt.service+"\n"+tt.extra)
			g := Classify("svc", cp.Project.Services["svc"])
			if g.Kind != tt.kind || g.Port != tt.port || (tt.health != "" && g.Health != tt.health) {
				t.Errorf("got kind %s port %d health %q; want %s %d %q\nwhy: %q\nnotes: %q", g.Kind, g.Port, g.Health, tt.kind, tt.port, tt.health, g.Why, g.Notes)
			}
			for _, s := range append(append(g.Why, g.Notes...), g.HealthWhy, g.Health) {
				if strings.Contains(s, testSecret) {
					t.Errorf("a secret from the environment is in %q", s)
				}
			}
			for _, w := range tt.why {
				if !slices.ContainsFunc(g.Why, func(s string) bool { return strings.Contains(s, w) }) {
					t.Errorf("why %q lacks %q", g.Why, w)
				}
			}
			for _, w := range tt.notes {
				if !slices.ContainsFunc(g.Notes, func(s string) bool { return strings.Contains(s, w) }) {
					t.Errorf("notes %q lack %q", g.Notes, w)
				}
			}
		})
	}
}

func TestClassifyProfiles(t *testing.T) {
	const compose = `services:
  web:
    image: nginx:1.27
  debug:
    image: adminer:4
    profiles: [debug, tools]
`
	cp := loadCompose(t, "proj", compose)
	gs := classifyProject(cp)
	if len(gs) != 2 || gs[0].Service != "web" || gs[1].Service != "debug" {
		t.Fatalf("services %+v; want web then debug, in file order", gs)
	}
	if len(gs[0].Profiles) != 0 || !slices.Equal(gs[1].Profiles, []string{"debug", "tools"}) {
		t.Errorf("profiles web %q debug %q; want none and [debug tools]", gs[0].Profiles, gs[1].Profiles)
	}
	on := classifyProject(loadCompose(t, "proj", compose, "debug"))
	if len(on) != 2 || len(on[1].Profiles) != 0 || on[1].Kind != Web || on[1].Port != 8080 {
		t.Errorf("with --profile debug: %+v; want debug enabled, routed to 8080", on)
	}
}

func TestAppName(t *testing.T) {
	for dir, want := range map[string]string{
		"shop":                          "shop",
		"My_Shop.v2":                    "my-shop-v2",
		"--weird--":                     "weird",
		"日本":                            "app",
		"/":                             "app",
		strings.Repeat("a", 39) + "-bc": strings.Repeat("a", 39),
		strings.Repeat("x", 60):         strings.Repeat("x", 40),
	} {
		if got := AppName(dir); got != want {
			t.Errorf("AppName(%q) = %q; want %q", dir, got, want)
		}
	}
}
