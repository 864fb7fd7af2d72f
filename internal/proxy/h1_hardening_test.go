package proxy

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Cases found in review of the forwarding engine; each failed before its fix.
func TestForwardingHardening(t *testing.T) {
	p := startProxy(t, Options{})
	var calls atomic.Int64
	p.route(t, "shop/web", "shop.test", echoBackend(t, &calls))

	t.Run("a 502 with an unread body closes, so the body is never parsed as a request", func(t *testing.T) {
		p.route(t, "shop/down", "down.test", "127.0.0.1:1")
		smuggled := "GET /smuggled HTTP/1.1\r\nHost: shop.test\r\n\r\n"
		got := raw(t, p, "POST / HTTP/1.1\r\nHost: down.test\r\nContent-Length: "+itoa(len(smuggled))+"\r\n\r\n"+smuggled, 2*time.Second)
		if strings.Count(got, "HTTP/1.1 ") != 1 || !strings.HasPrefix(got, "HTTP/1.1 502 ") || strings.Contains(got, "smuggled") {
			t.Errorf("got %q", got)
		}
	})
	for name, req := range map[string]string{
		"bare CR inside a header":   "GET / HTTP/1.1\r\nHost: shop.test\r\nFoo: a\rX\r\n\r\n",
		"bare LF ends the trailers": "POST / HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nx\nGET /second HTTP/1.1\r\nHost: shop.test\r\n\r\n",
		"signed Content-Length":     "POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: +3\r\n\r\nabc",
		"chunked on HTTP/1.0":       "POST / HTTP/1.0\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"Host with userinfo":        "GET / HTTP/1.1\r\nHost: shop.test:@evil.example\r\n\r\n",
	} {
		t.Run(name+" is refused", func(t *testing.T) {
			if got := raw(t, p, req, 2*time.Second); !strings.HasPrefix(got, "HTTP/1.1 400 ") || strings.Contains(got, "second") {
				t.Errorf("got %q", got)
			}
		})
	}
	t.Run("spoofable and connection-named headers do not reach the app", func(t *testing.T) {
		got := raw(t, p, "GET / HTTP/1.1\r\nHost: shop.test\r\nX_Forwarded_For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nX-Hop: 6.6.6.6\r\nConnection: close, X-Hop\r\n\r\n", 2*time.Second)
		if !strings.HasPrefix(got, "HTTP/1.1 200 ") || strings.Contains(got, "6.6.6.6") {
			t.Errorf("got %q", got)
		}
	})

	t.Run("a request that may have reached the app is not sent twice", func(t *testing.T) {
		var charged atomic.Int64
		pay := rawBackend(t, func(c net.Conn) {
			buf := make([]byte, 4096)
			if n, _ := c.Read(buf); n > 0 {
				charged.Add(1) // handled, then the app dies before answering
			}
			c.Close()
		})
		p.route(t, "shop/pay", "pay.test", pay)
		got := raw(t, p, "POST /charge HTTP/1.1\r\nHost: pay.test\r\nContent-Length: 0\r\n\r\n", 2*time.Second)
		if !strings.HasPrefix(got, "HTTP/1.1 502 ") || charged.Load() != 1 {
			t.Errorf("got %q, app saw it %d times, want 502 and once", got, charged.Load())
		}
	})

	t.Run("an idle connection the app closed is not used for a POST", func(t *testing.T) {
		app := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				w.Write(b)
			}),
			IdleTimeout: 200 * time.Millisecond,
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go app.Serve(ln)
		defer app.Close()
		p.route(t, "shop/short", "short.test", ln.Addr().String())
		c, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: short.test\r\n\r\n")
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		c.Read(buf)
		time.Sleep(500 * time.Millisecond) // the app has closed its side by now
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: short.test\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody")
		b, _ := io.ReadAll(c)
		if got := string(b); !strings.HasPrefix(got, "HTTP/1.1 200 ") || !strings.HasSuffix(got, "body") {
			t.Errorf("got %q", got)
		}
	})
}

func TestShutdownBoundedBySilentApp(t *testing.T) {
	silent := rawBackend(t, func(c net.Conn) {}) // reads nothing, answers nothing
	p := startProxy(t, Options{ShutdownTimeout: 300 * time.Millisecond})
	p.route(t, "shop/web", "shop.test", silent)
	c, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /poll HTTP/1.1\r\nHost: shop.test\r\n\r\n")
	waitFor(t, "the request in flight", func() bool { return p.inflight("shop/web") == 1 })
	start := time.Now()
	p.stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %s with a 300ms timeout", d)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// An app that refuses an upload before reading it (401) and a proxy that
// refuses it (413) must both get their answer to the client, not a reset.
func TestEarlyAnswerDuringUpload(t *testing.T) {
	p := startProxy(t, Options{MaxBody: 1 << 20})
	p.route(t, "shop/web", "shop.test", newBackend(t, "", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		http.Error(w, "no token", http.StatusUnauthorized)
	}))
	c := newTestClient()
	big := strings.Repeat("x", 8<<20)
	if res := do(c, "POST", p.url+"/upload", "shop.test", strings.NewReader(big[:900<<10])); res.err != nil || res.status != 401 {
		t.Errorf("app refusing a 900 KiB upload early: %d %v, want 401", res.status, res.err)
	}
	req, _ := http.NewRequest("POST", p.url+"/upload", io.NopCloser(strings.NewReader(big)))
	req.Host = "shop.test"
	req.ContentLength = -1 // chunked: the limit is found while reading
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("proxy refusing an 8 MiB chunked upload: %v, want its 413", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("status %d, want 413", resp.StatusCode)
	}
}

// A client that leaves a long-poll is noticed: the app's request is
// cancelled and the request stops counting as in flight, so a drain does not
// wait for an answer nobody will read.
func TestClientGoneCancelsLongPoll(t *testing.T) {
	p := startProxy(t, Options{})
	cancelled := make(chan struct{})
	p.route(t, "shop/web", "shop.test", newBackend(t, "", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(20 * time.Second):
		}
	}))
	c, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /poll HTTP/1.1\r\nHost: shop.test\r\n\r\n")
	waitFor(t, "the long-poll in flight", func() bool { return p.inflight("shop/web") == 1 })
	c.Close()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the app was not told that the client left")
	}
	waitFor(t, "nothing in flight", func() bool { return p.inflight("shop/web") == 0 })
}

// A slow answer to a client that stays is not disturbed by the watcher, and
// the connection carries the next request afterwards.
func TestSlowAnswerKeepsConnection(t *testing.T) {
	p := startProxy(t, Options{})
	p.route(t, "shop/web", "shop.test", newBackend(t, "", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(1200 * time.Millisecond)
		}
		io.WriteString(w, r.URL.Path)
	}))
	got := raw(t, p, "GET /slow HTTP/1.1\r\nHost: shop.test\r\n\r\nGET /next HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n", 5*time.Second)
	if strings.Count(got, "HTTP/1.1 200 ") != 2 || !strings.HasSuffix(got, "/next") {
		t.Errorf("got %q", got)
	}
}

// rawBackend is an app that is not an HTTP server: handle gets each
// connection as accepted. Everything is closed when the test ends.
func rawBackend(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go handle(c)
		}
	}()
	return ln.Addr().String()
}
