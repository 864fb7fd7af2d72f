package proxy

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestStateSurvivesRestart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "lib", "state.json")
	shop := newBackend(t, "shop", nil)
	blog := newBackend(t, "blog", nil)

	first := startProxy(t, Options{StateFile: state})
	ctx := context.Background()
	for _, r := range []Route{
		{Key: "shop/web", Hosts: []string{"shop.test", "www.shop.test"}, Target: newBackend(t, "v1", nil), Health: &RouteHealth{Path: "/up", IntervalMS: 500}},
		{Key: "shop/web", Hosts: []string{"shop.test", "www.shop.test"}, Target: shop, Health: &RouteHealth{Path: "/up", IntervalMS: 500}},
		{Key: "blog/web", Hosts: []string{"blog.test"}, Target: blog},
		{Key: "tmp/web", Hosts: []string{"tmp.test"}, Target: blog},
	} {
		if _, err := first.admin.SetRoute(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.admin.DeleteRoute(ctx, "tmp/web"); err != nil {
		t.Fatal(err)
	}
	// Persisted before the admin call returned.
	var doc stateDoc
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.Version != 1 || len(doc.Routes) != 2 || doc.Routes[1].Target != shop {
		t.Fatalf("state file after the calls: %s (%v)", data, err)
	}
	if strings.Contains(string(data), "inflight") {
		t.Fatalf("state file holds live counters: %s", data)
	}
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	// Atomic writes leave nothing behind.
	entries, _ := os.ReadDir(filepath.Dir(state))
	if len(entries) != 1 || entries[0].Name() != "state.json" {
		t.Fatalf("state dir holds %v, want only state.json", entries)
	}

	second := startProxy(t, Options{StateFile: state})
	if !reflect.DeepEqual(second.srv.Routes(), first.srv.Routes()) {
		t.Fatalf("routes after restart:\n%+v\nbefore:\n%+v", second.srv.Routes(), first.srv.Routes())
	}
	c := newTestClient()
	for host, want := range map[string]string{"shop.test": "shop", "www.shop.test": "shop", "blog.test": "blog"} {
		if r := do(c, "GET", second.url+"/", host, nil); r.status != 200 || r.body != want {
			t.Errorf("%s after restart: %d %q %v, want %q", host, r.status, r.body, r.err, want)
		}
	}
	if r := do(c, "GET", second.url+"/", "tmp.test", nil); r.status != 404 {
		t.Errorf("deleted route still served after restart: %d", r.status)
	}
}

func TestStateFileErrors(t *testing.T) {
	tests := []struct {
		name, content, wantErr string
	}{
		{"corrupt", `{"version":1,"routes":[`, "is corrupt"},
		{"future version", `{"version":2,"routes":[]}`, "version 2 is not supported"},
		{"invalid route", `{"version":1,"routes":[{"key":"nokey","hosts":["a.test"],"target":"x:1"}]}`, "must be app/service"},
		{"host conflict", `{"version":1,"routes":[{"key":"a/web","hosts":["a.test"],"target":"x:1"},{"key":"b/web","hosts":["a.test"],"target":"y:1"}]}`, "already routed by"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := NewServer(Options{StateFile: path})
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error naming %s and saying %q", err, path, tc.wantErr)
			}
		})
	}

	t.Run("missing file means no routes", func(t *testing.T) {
		s, err := NewServer(Options{StateFile: filepath.Join(t.TempDir(), "absent.json")})
		if err != nil || len(s.Routes()) != 0 {
			t.Fatalf("got %v, %v", s, err)
		}
	})
}
