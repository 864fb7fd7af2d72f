package e2e

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/testenv"
)

var updateCorpus = flag.Bool("update", false, "rewrite testdata/projects/*/want.txt from the current output")

// TestCorpusGolden runs `berth validate` and `berth policy check` on every
// project in testdata/projects — compose projects in the shapes real teams
// write (overrides, profiles, .env, anchors, include, extends, long syntax,
// GPU requests, non-HTTP servers, typos) — and compares what a user would
// see, exit codes included, with the project's want.txt. Neither command
// needs an engine, so this runs with -short too.
func TestCorpusGolden(t *testing.T) {
	berth := testenv.Berth(t)
	root := filepath.Join("testdata", "projects")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		dir := filepath.Join(root, e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			got := corpusOutcome(t, berth, dir)
			wantPath := filepath.Join(dir, "want.txt")
			if *updateCorpus {
				if err := os.WriteFile(wantPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatalf("%v (run go test ./e2e -run TestCorpusGolden -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("outcome of %s changed (rerun with -update if intended):\n--- want\n%s\n--- got\n%s", dir, want, got)
			}
		})
	}
	if n < 25 {
		t.Errorf("corpus holds %d projects, want at least 25", n)
	}
}

// corpusOutcome runs both commands in dir with an environment holding
// nothing that compose or Docker would read, so the outcome depends only on
// the project's files.
func corpusOutcome(t *testing.T, berth, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var b strings.Builder
	for _, args := range [][]string{{"validate"}, {"policy", "check"}} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, berth, args...)
		cmd.Dir, cmd.Env = abs, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		cancel()
		code := 0
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			code = exit.ExitCode()
		case err != nil:
			t.Fatalf("berth %s in %s: %v", strings.Join(args, " "), dir, err)
		}
		text := strings.ReplaceAll(out.String(), abs+string(filepath.Separator), "")
		text = strings.ReplaceAll(text, abs, ".")
		fmt.Fprintf(&b, "$ berth %s\n%sexit %d\n\n", strings.Join(args, " "), text, code)
	}
	return b.String()
}
