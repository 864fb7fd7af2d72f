package config

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/errors/*/want.txt from the current output")

// TestLoadErrors loads each testdata/errors/<case>/berth.yaml and compares
// the full error text, as the user would see it, with want.txt. A case may
// add test.env (KEY=VALUE lines) as the whole environment, and profiles
// (one per line) as --profile. A case that loads must warn: want.txt then
// holds the warnings.
func TestLoadErrors(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "errors", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no golden cases found")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			makeSpecialFiles(t, dir)
			env := readTestEnv(t, filepath.Join(dir, "test.env"))
			cfg, err := Load(context.Background(), filepath.Join(dir, "berth.yaml"), LoadOptions{Env: env, Profiles: readLines(t, filepath.Join(dir, "profiles"))})
			var got string
			switch {
			case err == nil && len(cfg.Warnings) == 0:
				t.Fatal("Load succeeded without a warning; want an error or a warning")
			case err == nil:
				got = ErrorList(cfg.Warnings).Error() + "\n"
			default:
				if !IsConfigError(err) {
					t.Errorf("IsConfigError(%v) = false; want true", err)
				}
				var ce *Error
				if !errors.As(err, &ce) {
					t.Errorf("errors.As(*Error) failed for %T", err)
				}
				got = err.Error() + "\n"
			}
			// No value from any env file of the case may reach the user.
			envFiles, _ := filepath.Glob(filepath.Join(dir, "*.env")) // includes .env
			for _, f := range envFiles {
				if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
					continue
				}
				for k, v := range readTestEnv(t, f) {
					v = strings.Trim(v, `"'`)
					if k != "HOME" && len(v) >= minRedact && strings.Contains(got, v) {
						t.Errorf("error text echoes the value of %s from %s", k, f)
					}
				}
			}
			wantFile := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("error text differs from %s\n--- got\n%s--- want\n%s", wantFile, got, want)
			}
		})
	}
}

// readTestEnv returns a fixed environment so results do not depend on the
// machine running the tests (DOCKER_HOST, HOME, COMPOSE_PROFILES...).
func readTestEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	env := map[string]string{"HOME": "/home/test"}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return env
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return env
}

// makeSpecialFiles creates what git cannot hold: the FIFOs a case's
// "fifos" file names and the files over maxFileSize its "oversize" file
// names (sparse, so they cost no disk). They are removed after the case.
func makeSpecialFiles(t *testing.T, dir string) {
	t.Helper()
	for _, name := range readLines(t, filepath.Join(dir, "fifos")) {
		p := filepath.Join(dir, name)
		os.Remove(p) // left over by a run that was killed
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(p) })
	}
	for _, name := range readLines(t, filepath.Join(dir, "oversize")) {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(p) })
		if err := f.Truncate(maxFileSize + 1); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(data))
}
