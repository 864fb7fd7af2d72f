package policy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
)

// project writes berth.yaml, compose.yaml and other files into a temporary
// directory and loads them as berth does, with env as the whole process
// environment.
func project(t *testing.T, compose string, files map[string]string, env map[string]string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{"berth.yaml": "app: shop\n", "compose.yaml": compose}
	for k, v := range files {
		all[k] = v
	}
	for name, body := range all {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if env == nil {
		env = map[string]string{}
	}
	cfg, err := config.Load(context.Background(), filepath.Join(dir, "berth.yaml"), config.LoadOptions{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// secretFindings judges one service as policy check does and returns its
// secret-in-env findings by variable.
func secretFindings(t *testing.T, cfg *config.Config, service string) map[string]Finding {
	t.Helper()
	env, err := ReadComposeEnv(cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc := cfg.Service(service)
	var es engine.ContainerSpec
	for k, v := range svc.Compose.Environment {
		if v != nil {
			es.Env = append(es.Env, k+"="+*v)
		}
	}
	s := ForService(cfg, svc, es, env)
	out := map[string]Finding{}
	for _, f := range Default().Evaluate(&s) {
		if f.Rule == "secret-in-env" {
			name := strings.Fields(strings.TrimPrefix(f.Message, "environment variable "))[0]
			out[name] = f
		}
	}
	return out
}

// TestSecretOrigin: a secret taken from the environment, .env or an
// env_file warns with the secrets:/_FILE fix; one written literally in
// compose.yaml (committed) blocks, and says where. Before, every one of
// them blocked, and the ${DB_PASSWORD} of most database projects among them.
func TestSecretOrigin(t *testing.T) {
	compose := `x-env: &shared
  SHARED_SECRET: literal-shared-secret
services:
  db:
    image: postgres:16.3
    environment:
      POSTGRES_PASSWORD: ${DB_PASSWORD}
      POSTGRES_USER: shop
  web:
    image: shop:1.0
    env_file: [web.env]
    environment:
      <<: *shared
      DATABASE_URL: postgres://shop:hunter2@db/shop
      REDIS_URL: redis://:${REDIS_PASSWORD:-devredispw}@cache:6379
      CACHE_URL: redis://:${CACHE_PASSWORD:-devcachepw}@cache:6379
      KAFKA_LOG4J_LOGGERS: kafka.cluster=WARN,kafka.controller=WARN,kafka.coordinator=WARN
      PASSWORD_MIN_LENGTH: "12"
      TOKEN_TTL: "3600"
      ESCAPED: $$NOT_A_REFERENCE_BUT_TOKEN_secret
  worker:
    extends: web
    environment:
      - API_TOKEN=not-for-your-eyes
      - SMTP_PASS
`
	cfg := project(t, compose, map[string]string{
		".env":    "DB_PASSWORD=s3cret-from-dotenv\n",
		"web.env": "JWT_SIGNING_KEY=from-env-file\n",
	}, map[string]string{"SMTP_PASS": "from-the-shell", "CACHE_PASSWORD": "set-in-ci"})

	type want struct {
		sev   Severity
		where string // "" for a value from the environment
	}
	for service, wants := range map[string]map[string]want{
		"db": {"POSTGRES_PASSWORD": {Medium, ""}},
		"web": {
			"DATABASE_URL":    {High, "compose.yaml:14"},
			"SHARED_SECRET":   {High, "compose.yaml:2"},
			"REDIS_URL":       {High, "compose.yaml:15 (the default of ${REDIS_PASSWORD})"},
			"CACHE_URL":       {Medium, ""},
			"JWT_SIGNING_KEY": {Medium, ""},
		},
		"worker": {
			"DATABASE_URL":    {High, "compose.yaml:14"},
			"SHARED_SECRET":   {High, "compose.yaml:2"},
			"REDIS_URL":       {High, "compose.yaml:15 (the default of ${REDIS_PASSWORD})"},
			"CACHE_URL":       {Medium, ""},
			"JWT_SIGNING_KEY": {Medium, ""},
			"API_TOKEN":       {High, "compose.yaml:24"},
			"SMTP_PASS":       {Medium, ""},
		},
	} {
		got := secretFindings(t, cfg, service)
		for name, w := range wants {
			f, ok := got[name]
			switch {
			case !ok:
				t.Errorf("%s: %s not reported", service, name)
				continue
			case f.Severity != w.sev:
				t.Errorf("%s: %s is %s, want %s: %s", service, name, f.Severity, w.sev, f.Message)
			case w.where != "" && !strings.HasSuffix(f.Message, "written literally in "+w.where):
				t.Errorf("%s: %s: %q does not say it is written in %s", service, name, f.Message, w.where)
			case w.where == "" && (!strings.Contains(f.Message, "from the environment") || !strings.Contains(f.Fix, name+"_FILE=/run/secrets/") || !strings.Contains(f.Fix, "secrets:")):
				t.Errorf("%s: %s: %q (fix %q): want a warning with the secrets:/_FILE fix", service, name, f.Message, f.Fix)
			}
			if f.Enforced != (w.sev == High) {
				t.Errorf("%s: %s enforced=%v under the default policy", service, name, f.Enforced)
			}
			for _, secret := range []string{"hunter2", "s3cret", "from-env-file", "not-for-your-eyes", "from-the-shell", "devredispw", "literal-shared"} {
				if strings.Contains(f.Message+f.Fix, secret) {
					t.Errorf("%s: %s: a finding shows the value: %s", service, name, f.Message)
				}
			}
		}
		for name := range got {
			if _, ok := wants[name]; !ok {
				t.Errorf("%s: %s reported as a secret: %s", service, name, got[name].Message)
			}
		}
	}
}

// TestSecretOriginOverride: a compose file read after the main one (an
// override) decides where a variable's value was written.
func TestSecretOriginOverride(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	main := write("compose.yaml", "services:\n  web:\n    environment:\n      API_KEY: ${API_KEY}\n      DB_PASSWORD: literal-in-main\n")
	override := write("compose.override.yaml", "services:\n  web:\n    environment:\n      API_KEY: literal-in-override\n      DB_PASSWORD: ${DB_PASSWORD}\n")
	cfg := &config.Config{File: filepath.Join(dir, "berth.yaml"), ComposeFile: main, ComposeFiles: []string{main, override}}
	env, err := ReadComposeEnv(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := Spec{Env: []EnvVar{{Name: "API_KEY", Value: "literal-in-override"}, {Name: "DB_PASSWORD", Value: "from-env"}}}
	env.MarkEnvOrigins(&s, "web")
	if s.Env[0].Origin != OriginLiteral || s.Env[0].Where != "compose.override.yaml:4" {
		t.Errorf("API_KEY: %+v, want literal at compose.override.yaml:4", s.Env[0])
	}
	if s.Env[1].Origin != OriginEnvironment {
		t.Errorf("DB_PASSWORD: %+v, want from the environment", s.Env[1])
	}
}

// TestSecretFromUnknownOrigin: a request or a running container cannot say
// where a value came from; it warns, so a host's guard never refuses what
// a deploy of ${DB_PASSWORD} admitted.
func TestSecretFromUnknownOrigin(t *testing.T) {
	s, err := FromCreateBody([]byte(`{"Image":"postgres:16.3","Env":["POSTGRES_PASSWORD=hunter2"]}`), "db")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range Default().Evaluate(&s) {
		if f.Rule == "secret-in-env" && (f.Severity != Medium || f.Enforced) {
			t.Errorf("a secret from a request: %s enforced=%v, want a medium warning", f.Severity, f.Enforced)
		}
	}
}

// TestSecretOriginInclude: a literal in a file the compose file includes
// is committed too, and blocks.
func TestSecretOriginInclude(t *testing.T) {
	cfg := project(t, "include:\n  - db.yaml\nservices:\n  web:\n    image: shop:1.0\n", map[string]string{
		"db.yaml": "services:\n  db:\n    image: postgres:16.3\n    environment:\n      POSTGRES_PASSWORD: hunter2-included\n",
	}, nil)
	f, ok := secretFindings(t, cfg, "db")["POSTGRES_PASSWORD"]
	if !ok || f.Severity != High || !strings.HasSuffix(f.Message, "db.yaml:5") {
		t.Errorf("a literal in an included file: %+v", f)
	}
}
