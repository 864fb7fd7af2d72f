package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func project(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cleanEnv keeps the machine's COMPOSE_* and DOCKER_* out of the test.
func cleanEnv(t *testing.T) {
	for _, k := range []string{"COMPOSE_FILE", "COMPOSE_PROFILES", "COMPOSE_PROJECT_NAME", "COMPOSE_PATH_SEPARATOR", "DOCKER_HOST", "DOCKER_CONTEXT", "TAG"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

// TestConfigErrorExitCode: a bad compose file exits with the one
// config-error code from validate, policy check and deploy alike, and
// deploy fails before reaching any engine.
func TestConfigErrorExitCode(t *testing.T) {
	cleanEnv(t)
	dir := project(t, map[string]string{
		"berth.yaml":   "app: shop\nhosts:\n  h: tcp://192.0.2.1:2376\n",
		"compose.yaml": "services:\n  web:\n    imgae: shop/web:1.0\n",
	})
	run := map[string]func(ctx context.Context, g *Globals) error{
		"validate":     runValidate,
		"policy check": func(ctx context.Context, g *Globals) error { return runPolicyCheck(ctx, g, "") },
		"deploy":       func(ctx context.Context, g *Globals) error { return runDeploy(ctx, g, DeployOptions{}, nil) },
	}
	for name, fn := range run {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			g := &Globals{File: filepath.Join(dir, "berth.yaml"), Format: "text", Stdout: &out, Stderr: &errOut}
			err := fn(context.Background(), g)
			if code := ExitCode(err); code != ExitConfig {
				t.Errorf("exit %d (%v); want %d", code, err, ExitConfig)
			}
			if err == nil || !strings.Contains(err.Error(), `compose.yaml:3:5: services.web.imgae: unknown key "imgae"; did you mean "image"?`) {
				t.Errorf("error = %v", err)
			}
		})
	}
}

// TestValidateSaysWhatItRead: validate names every compose file it merged
// and prints warnings on stderr; JSON carries both.
func TestValidateSaysWhatItRead(t *testing.T) {
	cleanEnv(t)
	dir := project(t, map[string]string{
		"berth.yaml":            "app: shop\n",
		"compose.yaml":          "services:\n  web:\n    image: shop/web:1.0${TAG}\n",
		"compose.override.yaml": "services:\n  worker:\n    image: shop/worker:1.0\n",
	})
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(wd) })

	var out, errOut bytes.Buffer
	g := &Globals{File: "berth.yaml", Format: "text", Stdout: &out, Stderr: &errOut}
	if err := runValidate(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	if want := "compose files: compose.yaml, compose.override.yaml\n"; !strings.Contains(out.String(), want) {
		t.Errorf("stdout %q does not say %q", out.String(), want)
	}
	if want := "berth: compose.yaml:3:12: warning: services.web.image: variable TAG is not set"; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q does not say %q", errOut.String(), want)
	}

	// policy check prints the same warnings (deploy does too, through the
	// same loadConfig, but needs an engine).
	out.Reset()
	errOut.Reset()
	_ = runPolicyCheck(context.Background(), g, "")
	if want := "variable TAG is not set"; !strings.Contains(errOut.String(), want) {
		t.Errorf("policy check stderr %q does not say %q", errOut.String(), want)
	}

	out.Reset()
	errOut.Reset()
	g.Format = "json"
	if err := runValidate(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"compose_files": [`, filepath.Join(dir, "compose.override.yaml"), `"warnings": [`, "variable TAG is not set"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("json %s does not hold %q", out.String(), want)
		}
	}
}

// TestValidateJSONProblems: --format json lists each problem with its
// position and fix, for editors and CI annotations.
func TestValidateJSONProblems(t *testing.T) {
	cleanEnv(t)
	dir := project(t, map[string]string{
		"berth.yaml":   "app: shop\n",
		"compose.yaml": "services:\n  web:\n    imgae: shop/web:1.0\n",
	})
	var out bytes.Buffer
	g := &Globals{File: filepath.Join(dir, "berth.yaml"), Format: "json", Stdout: &out, Stderr: &bytes.Buffer{}}
	if err := runValidate(context.Background(), g); ExitCode(err) != ExitConfig {
		t.Fatalf("exit %d: %v", ExitCode(err), err)
	}
	for _, want := range []string{`"valid": false`, `"line": 3`, `"column": 5`, `"path": "services.web.imgae"`, `"fix": "rename it to image"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("json %s lacks %s", out.String(), want)
		}
	}
}
