package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/testenv"
)

// TestDoctorHTMLInChromium runs berth doctor on an engine of the test's own
// with a misconfigured container, writes the HTML report, and opens it in
// headless Chromium: the page renders every answer with its verdict, the
// overall verdict and the blockers, and matches the JSON report.
func TestDoctorHTMLInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("BERTH_TEST_DOCKER") == "1" {
			t.Fatal("chromium is not installed (apt-get install chromium; .ci/run does)")
		}
		t.Skip("chromium is not installed")
	}
	eng := testenv.StartEngine(t, testenv.ExtraEngineOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	testenv.AppImage(t, eng.Client(t), "berth-doctor/app:1.0")
	if out, err := eng.Docker(ctx, "create", "--name", "bad", "--privileged", "-v", "/:/host", "berth-doctor/app:1.0"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "doctor.html")
	out, code := berthIn(t, dir, "doctor", "-H", eng.Host, "--format", "json", "--html", page)
	if code != 7 {
		t.Fatalf("doctor on a bad engine: exit %d, want 7 (not yet)\n%s", code, out)
	}
	var rep struct {
		Overall  string
		Answers  []struct{ ID, Verdict string }
		Blockers []struct{ Check, Where string }
	}
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&rep); err != nil {
		t.Fatalf("doctor --format json: %v\n%s", err, out)
	}
	if rep.Overall != "not yet" || len(rep.Answers) != 10 || len(rep.Blockers) == 0 || rep.Blockers[0].Check != "privileged" && rep.Blockers[0].Check != "sensitive-mount" {
		t.Fatalf("report: %+v", rep)
	}

	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://"+page)
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	d := string(dom)
	if !strings.Contains(d, `id="overall" data-verdict="not yet"`) {
		t.Errorf("the rendered page has no overall not-yet verdict")
	}
	for _, a := range rep.Answers {
		re := regexp.MustCompile(`id="q-` + regexp.QuoteMeta(a.ID) + `" data-verdict="` + regexp.QuoteMeta(a.Verdict) + `"`)
		if !re.MatchString(d) {
			t.Errorf("answer %s (%s) is not on the rendered page", a.ID, a.Verdict)
		}
	}
	if !strings.Contains(d, `id="blockers"`) || !strings.Contains(d, rep.Blockers[0].Where) {
		t.Errorf("the blockers table is missing from the rendered page")
	}
	// A screenshot proves the page renders to pixels, not just to a DOM.
	shot := filepath.Join(dir, "doctor.png")
	if out, err := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,1600", "--screenshot="+shot, "file://"+page).CombinedOutput(); err != nil {
		t.Fatalf("chromium screenshot: %v\n%s", err, out)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
		t.Errorf("screenshot: %v", err)
	}
	raw, _ := os.ReadFile(page)
	for _, banned := range []string{"src=", "href=", "@import", "url("} {
		if strings.Contains(string(raw), banned) {
			t.Errorf("the page is not self-contained: it has %q", banned)
		}
	}
}
