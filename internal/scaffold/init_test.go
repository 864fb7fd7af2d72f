package scaffold

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/deploy"
	"github.com/berthhq/berth/internal/policy"
)

var update = flag.Bool("update", false, "rewrite testdata/init/*/berth.yaml.golden from the current output")

// project copies testdata/init/<name> into a directory of the same name
// under a temporary one, so the app name (from the directory) is the
// case's name, and returns the berth.yaml path to write there.
func project(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("testdata", "init", name)
	dst := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(filepath.Join(dst, "berth.yaml.golden"))
	return filepath.Join(dst, "berth.yaml")
}

func runInit(t *testing.T, file string, force bool) (*Result, error) {
	t.Helper()
	return Init(context.Background(), Options{File: file, Force: force, Load: config.LoadOptions{Env: testEnv()}})
}

func cases(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("testdata", "init"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestInitGolden pins the berth.yaml init writes for each shape.
func TestInitGolden(t *testing.T) {
	for _, name := range cases(t) {
		t.Run(name, func(t *testing.T) {
			res, err := runInit(t, project(t, name), false)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "init", name, "berth.yaml.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(res.Content), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if res.Content != string(want) {
				t.Errorf("berth.yaml differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", golden, res.Content, want)
			}
			written, err := os.ReadFile(res.File)
			if err != nil || string(written) != res.Content {
				t.Errorf("the file on disk is not what Init reports writing (%v)", err)
			}
		})
	}
}

// TestInitLoads checks that what init writes is a berth.yaml berth
// accepts, or that every error config.Load reports is about a key init
// told the user to review for that service. Shapes with build: are left
// out: whether berth builds is not init's to decide.
func TestInitLoads(t *testing.T) {
	for _, name := range []string{"single", "profiles", "proxy-published", "named-project", "host-access", "override", "stack-no-build"} {
		t.Run(name, func(t *testing.T) {
			var file string
			if name == "stack-no-build" {
				file = project(t, "stack")
				dropBuild(t, filepath.Join(filepath.Dir(file), "compose.yaml"))
			} else {
				file = project(t, name)
			}
			res, err := runInit(t, file, false)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(context.Background(), file, config.LoadOptions{Env: testEnv()})
			if err != nil {
				if res.Valid {
					t.Fatalf("Init says valid, Load says: %v", err)
				}
				for _, e := range configErrors(err) {
					if !reviewed(res, e) {
						t.Errorf("an error init did not point at: %v\nreviews: %+v", e, res.Reviews)
					}
				}
				return
			}
			if !res.Valid {
				t.Errorf("Load accepts the file, Init says invalid: %v", res.Errors)
			}
			for _, g := range res.Guesses {
				svc := cfg.Service(g.Service)
				if len(g.Profiles) > 0 {
					if svc != nil {
						t.Errorf("service %s of an inactive profile was loaded", g.Service)
					}
					continue
				}
				if svc == nil || svc.Kind() != string(g.Kind) {
					t.Errorf("service %s: loaded as %v; init guessed %s", g.Service, svc, g.Kind)
					continue
				}
				if g.Kind == Web && (svc.Route.Port != g.Port || svc.Route.Health != g.Health || !strings.HasSuffix(svc.Route.Host, ".example.com")) {
					t.Errorf("service %s: route %+v; init guessed port %d health %s", g.Service, svc.Route, g.Port, g.Health)
				}
			}
		})
	}
}

// reviewed reports whether a review comment of the error's service names
// the compose key the error is about (services.web.ports -> "ports:").
func reviewed(res *Result, e *config.Error) bool {
	parts := strings.SplitN(e.Path, ".", 3)
	if len(parts) < 3 || parts[0] != "services" {
		return false
	}
	key, _, _ := strings.Cut(parts[2], ".")
	return slices.ContainsFunc(res.Reviews, func(r Review) bool {
		return strings.HasPrefix(r.Path, "services."+parts[1]) && strings.Contains(r.Msg, key+":")
	})
}

func dropBuild(t *testing.T, compose string) {
	t.Helper()
	b, err := os.ReadFile(compose)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(l, "build:") {
			kept = append(kept, l)
		}
	}
	if err := os.WriteFile(compose, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestInitNeverOverwrites(t *testing.T) {
	file := project(t, "single")
	if _, err := runInit(t, file, false); err != nil {
		t.Fatal(err)
	}
	const mine = "app: mine\n"
	if err := os.WriteFile(file, []byte(mine), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := runInit(t, file, false)
	if !config.IsConfigError(err) || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("second init: %v; want a config error naming %s and --force", err, file)
	}
	if b, _ := os.ReadFile(file); string(b) != mine {
		t.Errorf("the existing berth.yaml was changed to:\n%s", b)
	}
	// The late check: the file appears after the early one.
	err = writeFile(file, []byte("app: other\n"), false)
	if !config.IsConfigError(err) {
		t.Errorf("writeFile over an existing file: %v; want the refusal", err)
	}
	if b, _ := os.ReadFile(file); string(b) != mine {
		t.Errorf("writeFile replaced the existing berth.yaml with:\n%s", b)
	}
	res, err := runInit(t, file, true)
	if err != nil {
		t.Fatalf("--force: %v", err)
	}
	if b, _ := os.ReadFile(file); string(b) != res.Content || !strings.Contains(res.Content, "app: single") {
		t.Errorf("--force did not replace the file:\n%s", b)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".berth.yaml.tmp-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

// TestInitNeverReplacesTheComposeFile: -f naming the compose file is
// refused even with --force.
func TestInitNeverReplacesTheComposeFile(t *testing.T) {
	file := project(t, "single")
	compose := filepath.Join(filepath.Dir(file), "compose.yaml")
	before, _ := os.ReadFile(compose)
	_, err := runInit(t, compose, true)
	if !config.IsConfigError(err) || !strings.Contains(err.Error(), "compose file") {
		t.Fatalf("init -f compose.yaml --force: %v; want a config error", err)
	}
	if after, _ := os.ReadFile(compose); string(after) != string(before) {
		t.Errorf("the compose file was changed")
	}
}

func TestInitWithoutCompose(t *testing.T) {
	file := filepath.Join(t.TempDir(), "berth.yaml")
	_, err := runInit(t, file, false)
	if !config.IsConfigError(err) {
		t.Fatalf("got %v; want a config error", err)
	}
	for _, name := range config.ComposeNames() {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%q does not say it looked for %s", err, name)
		}
	}
	if _, serr := os.Stat(file); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("berth.yaml was written without a compose project (%v)", serr)
	}
}

// TestFirstLook orders what to look at: what stops a deploy, worst first,
// then the placeholders, then the other guesses.
func TestFirstLook(t *testing.T) {
	res, err := runInit(t, project(t, "proxy-published"), false)
	if err != nil {
		t.Fatal(err)
	}
	items := res.FirstLook()
	var kinds []string
	for _, it := range items {
		if len(kinds) == 0 || kinds[len(kinds)-1] != it.Kind {
			kinds = append(kinds, it.Kind)
		}
	}
	if !slices.IsSorted(kindRank(kinds)) {
		t.Errorf("kinds in order %v; want errors, then blocks, then reviews", kinds)
	}
	var firstReview *Item
	for i := range items {
		if items[i].Kind == "review" {
			firstReview = &items[i]
			break
		}
	}
	if firstReview == nil || !strings.Contains(firstReview.Text, "route.host: placeholder") || !strings.Contains(firstReview.Text, "berth.yaml:") {
		t.Errorf("first review %+v; want a route host placeholder with its line", firstReview)
	}
}

func kindRank(kinds []string) []int {
	var out []int
	for _, k := range kinds {
		out = append(out, slices.Index([]string{"error", "block", "review"}, k))
	}
	return out
}

// TestFirstLookBlocksBySeverity: the findings that refuse a deploy come
// before the guesses, critical before high, whatever the file order.
func TestFirstLookBlocksBySeverity(t *testing.T) {
	res, err := runInit(t, project(t, "host-access"), false)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid || res.Blocking != 2 {
		t.Fatalf("valid %v, %d blocking (errors %v); want valid and 2 (host-ipc, docker-socket)", res.Valid, res.Blocking, res.Errors)
	}
	items := res.FirstLook()
	if len(items) < 3 || items[0].Kind != "block" || items[0].Severity != "critical" || items[0].Service != "agent" ||
		items[1].Kind != "block" || items[1].Severity != "high" || items[1].Service != "monitor" || items[2].Kind != "review" {
		t.Errorf("first items %+v; want agent's critical block, monitor's high block, then reviews", items[:min(3, len(items))])
	}
}

// TestInitAgreesWithExampleShop: on the project-shaped example, init
// guesses what its authors wrote by hand (route port and health path,
// accessory, workers), everything but the route's host name.
func TestInitAgreesWithExampleShop(t *testing.T) {
	src := filepath.Join("..", "..", "examples", "shop")
	dir := filepath.Join(t.TempDir(), "shop")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	compose, err := os.ReadFile(filepath.Join(src, "compose.yaml"))
	if err != nil {
		t.Skipf("examples/shop is not there: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), compose, 0o644); err != nil {
		t.Fatal(err)
	}
	hand := readHand(t, filepath.Join(src, "berth.yaml"))
	res, err := runInit(t, filepath.Join(dir, "berth.yaml"), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range res.Guesses {
		h, want := hand.Services[g.Service], hand.kind(g.Service)
		if g.Kind != want {
			t.Errorf("%s: guessed %s; examples/shop/berth.yaml makes it %s", g.Service, g.Kind, want)
			continue
		}
		if want == Web && (g.Port != h.Route.Port || g.Health != h.Route.Health) {
			t.Errorf("%s: guessed port %d health %s; examples/shop has %d %s", g.Service, g.Port, g.Health, h.Route.Port, h.Route.Health)
		}
	}
	if len(res.Guesses) != 4 {
		t.Errorf("%d services guessed; examples/shop has 4", len(res.Guesses))
	}
}

// TestInitWhenPolicyCannotJudge: when policy check fails on a valid file
// (as it does today for a secret deploy cannot mount), berth.yaml stays
// written and the failure is the first thing to fix, not an init failure.
func TestInitWhenPolicyCannotJudge(t *testing.T) {
	defer func(f func(*config.Config, policy.Policy, []*config.Service, map[string]string) ([]deploy.ServiceFindings, error)) {
		checkPolicy = f
	}(checkPolicy)
	checkPolicy = func(*config.Config, policy.Policy, []*config.Service, map[string]string) ([]deploy.ServiceFindings, error) {
		return nil, errors.New(`service db: secret "pg" has no file:`)
	}
	file := project(t, "single")
	res, err := runInit(t, file, false)
	if err != nil {
		t.Fatalf("init failed: %v", err)
	}
	if _, err := os.Stat(file); err != nil {
		t.Errorf("berth.yaml is not there: %v", err)
	}
	items := res.FirstLook()
	if !res.Valid || res.PolicyError == "" || len(items) == 0 || items[0].Kind != "error" || !strings.Contains(items[0].Text, `policy check cannot judge the services: service db: secret "pg"`) {
		t.Errorf("valid %v, policy error %q, first item %+v; want valid, and the failure first", res.Valid, res.PolicyError, items)
	}
}

// TestInitWarningsApart: an unset variable is a warning, kept apart from
// what makes the file invalid, whether the file is valid or not.
func TestInitWarningsApart(t *testing.T) {
	for _, invalid := range []bool{false, true} {
		file := project(t, "single")
		compose := "services:\n  api:\n    image: ghcr.io/acme/api:1.0.0\n    expose: [\"8080\"]\n    environment:\n      RELEASE_TAG: ${TAG}\n"
		if invalid {
			compose += "    network_mode: host\n"
		}
		if err := os.WriteFile(filepath.Join(filepath.Dir(file), "compose.yaml"), []byte(compose), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := runInit(t, file, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0].Text, "TAG") || (len(res.Errors) > 0) != invalid {
			t.Errorf("invalid=%v: warnings %+v, errors %+v; want the TAG warning alone, and errors only when invalid", invalid, res.Warnings, res.Errors)
		}
		for _, e := range res.Errors {
			if strings.Contains(e.Text, "TAG") {
				t.Errorf("a warning is listed as an error: %s", e.Text)
			}
		}
	}
}
