package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fuzzBerthYAML is the fixed berth.yaml beside each fuzzed compose.yaml:
// a routed web service and a worker, the names the golden cases use.
const fuzzBerthYAML = `app: shop
services:
  web:
    route: { host: shop.example.com, port: 8080 }
  worker: {}
`

// fuzzSecret is in the environment the loader interpolates from; it must
// never be echoed in an error.
const fuzzSecret = "s3cr3t-fuzz-Value-9f2c"

// fuzzComposeMax bounds a run: compose files of real projects are a few KiB.
const fuzzComposeMax = 32 << 10

// fuzzLoadTimeout is how long one Load may take before it counts as a hang;
// real files load in milliseconds, and this leaves room for a loaded CPU.
const fuzzLoadTimeout = 20 * time.Second

// FuzzLoadCompose loads berth.yaml and a fuzzed compose.yaml. Whatever the
// input: Load returns (no panic, no hang); an error is a config error whose
// every item names its file; the same input gives the same answer twice
// (errors in a stable order); and no error text echoes a secret from the
// environment. Seeds: every compose file of testdata.
func FuzzLoadCompose(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*", "*", "compose.y*ml"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("services:\n  web:\n    image: shop/web:${TAG}\n    environment:\n      DB_PASSWORD: ${DB_PASSWORD}\n"))
	f.Add([]byte("x-base: &base\n  image: shop/web:1\nservices:\n  web:\n    <<: *base\n  worker:\n    <<: *base\n"))
	f.Add([]byte("services:\n  web:\n    image: shop/web:1\n    ports: [\"${PORT:?PORT is required}:80\"]\n"))
	dir := f.TempDir()
	berth := filepath.Join(dir, "berth.yaml")
	if err := os.WriteFile(berth, []byte(fuzzBerthYAML), 0o644); err != nil {
		f.Fatal(err)
	}
	env := map[string]string{"HOME": "/home/test", "TAG": "1.0", "DB_PASSWORD": fuzzSecret}
	f.Fuzz(func(t *testing.T, compose []byte) {
		if len(compose) > fuzzComposeMax {
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), compose, 0o644); err != nil {
			t.Fatal(err)
		}
		first := fuzzLoad(t, berth, env)
		second := fuzzLoad(t, berth, env)
		if first != second {
			t.Fatalf("the same files loaded twice answer differently:\n--- first\n%s\n--- second\n%s\n--- compose.yaml\n%s", first, second, compose)
		}
		if strings.Contains(first, fuzzSecret) && !strings.Contains(string(compose), fuzzSecret) {
			t.Fatalf("an error echoes the value of DB_PASSWORD:\n%s\n--- compose.yaml\n%s", first, compose)
		}
	})
}

// fuzzLoad runs Load with a time bound and returns its error text ("" when
// it loaded), failing the test on a hang, a panic or an error that is not a
// positioned config error.
func fuzzLoad(t *testing.T, berth string, env map[string]string) string {
	t.Helper()
	type result struct {
		err   error
		panic any
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{panic: p}
			}
		}()
		_, err := Load(context.Background(), berth, LoadOptions{Env: env})
		done <- result{err: err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(fuzzLoadTimeout):
		t.Fatalf("Load did not return within %s", fuzzLoadTimeout)
	}
	if r.panic != nil {
		t.Fatalf("Load panicked: %v", r.panic)
	}
	if r.err == nil {
		return ""
	}
	var list ErrorList
	var one *Error
	switch {
	case errors.As(r.err, &list):
	case errors.As(r.err, &one):
		list = ErrorList{one}
	default:
		t.Fatalf("Load returned %T, not a config error: %v", r.err, r.err)
	}
	if !IsConfigError(r.err) {
		t.Fatalf("IsConfigError is false for %v", r.err)
	}
	for _, e := range list {
		if e.File == "" {
			t.Fatalf("an error names no file: %q (in %v)", e.Error(), r.err)
		}
	}
	return r.err.Error()
}
