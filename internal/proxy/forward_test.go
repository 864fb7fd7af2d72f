package proxy

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

func TestRouting(t *testing.T) {
	p := startProxy(t, Options{})
	shop := newBackend(t, "shop", nil)
	blog := newBackend(t, "blog", func(w http.ResponseWriter, r *http.Request) {
		// What the app sees of the client.
		io.WriteString(w, strings.Join([]string{r.Host, r.Header.Get("X-Forwarded-Host"),
			r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-For"), r.URL.RequestURI()}, "|"))
	})
	// A port nobody listens on: dial fails.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	// An app that hangs up without answering.
	rude := newBackend(t, "rude", func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close()
		}
	})

	p.route(t, "shop/web", "shop.example.com", shop)
	p.route(t, "blog/web", "blog.example.com", blog)
	p.route(t, "shop/admin", "admin.example.com", "")
	p.route(t, "dead/web", "dead.example.com", dead)
	p.route(t, "rude/web", "rude.example.com", rude)

	c := newTestClient()
	tests := []struct {
		name, host, path string
		status           int
		body             string // substring
	}{
		{"exact host", "shop.example.com", "/", 200, "shop"},
		{"case and port ignored", "SHOP.Example.com:8080", "/", 200, "shop"},
		{"trailing dot", "shop.example.com.", "/", 200, "shop"},
		{"other host", "blog.example.com", "/a/b?q=1", 200, "blog.example.com|blog.example.com|http|127.0.0.1|/a/b?q=1"},
		{"unknown host", "nope.example.com", "/", 404, "no route for host nope.example.com"},
		{"no target", "admin.example.com", "/", 503, "shop/admin has no running target"},
		{"dial failure", "dead.example.com", "/", 502, "bad gateway"},
		{"upstream hangs up", "rude.example.com", "/", 502, "bad gateway"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := do(c, "GET", p.url+tc.path, tc.host, nil)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if res.status != tc.status || !strings.Contains(res.body, tc.body) {
				t.Fatalf("got %d %q, want %d containing %q", res.status, res.body, tc.status, tc.body)
			}
			if res.status >= 400 && len(res.body) > 200 {
				t.Fatalf("error page is not short: %q", res.body)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	p := startProxy(t, Options{MaxBody: 1024})
	var hits atomic.Int32
	target := newBackend(t, "up", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		io.WriteString(w, strconv.Itoa(len(b)))
	})
	p.route(t, "app/web", "up.test", target)
	c := newTestClient()

	// onlyReader hides the length so the client sends the body chunked.
	type onlyReader struct{ io.Reader }
	tests := []struct {
		name     string
		body     io.Reader
		status   int
		wantBody string
		reaches  bool
	}{
		{"content-length within", strings.NewReader(strings.Repeat("a", 1024)), 200, "1024", true},
		{"content-length over", strings.NewReader(strings.Repeat("a", 2048)), 413, "too large", false},
		{"chunked within", onlyReader{strings.NewReader(strings.Repeat("a", 1000))}, 200, "1000", true},
		{"chunked over", onlyReader{strings.NewReader(strings.Repeat("a", 4096))}, 413, "too large", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := hits.Load()
			res := do(c, "POST", p.url+"/upload", "up.test", tc.body)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if res.status != tc.status || !strings.Contains(res.body, tc.wantBody) {
				t.Fatalf("got %d %q, want %d %q", res.status, res.body, tc.status, tc.wantBody)
			}
			// An over-long Content-Length is refused before the app is bothered.
			if reached := hits.Load() > before; !tc.reaches && reached {
				t.Fatal("request reached the backend")
			}
		})
	}
}

func TestRequestHost(t *testing.T) {
	for in, want := range map[string]string{
		"shop.example.com":     "shop.example.com",
		"Shop.Example.COM:443": "shop.example.com",
		"shop.example.com.":    "shop.example.com",
		"shop.example.com.:80": "shop.example.com",
		"[::1]:8080":           "[::1]",
		"[::1]":                "[::1]",
		"":                     "",
		"localhost:80":         "localhost",
	} {
		if got := requestHost(in); got != want {
			t.Errorf("requestHost(%q) = %q, want %q", in, got, want)
		}
	}
}
