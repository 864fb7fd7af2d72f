package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// raw sends bytes to the proxy on a fresh connection and returns every
// response read until the proxy closes or idle passes.
func raw(t *testing.T, p *testProxy, req string, idle time.Duration) string {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(idle))
	b, _ := io.ReadAll(c)
	return string(b)
}

// echoBackend answers with the method, the body it received and the
// forwarding headers, so tests see exactly what the app got.
func echoBackend(t *testing.T, calls *atomic.Int64) string {
	return newBackend(t, "echo", func(w http.ResponseWriter, r *http.Request) {
		if calls != nil {
			calls.Add(1)
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s body=%q xff=%s xfh=%s conn=%q te=%v", r.Method, r.URL.RequestURI(), body,
			r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Host"), r.Header.Get("Connection"), r.TransferEncoding)
	})
}

// TestRequestSmugglingRefused: heads that parsers disagree on are refused
// with 400 and never reach the app.
func TestRequestSmugglingRefused(t *testing.T) {
	p := startProxy(t, Options{})
	var calls atomic.Int64
	p.route(t, "shop/web", "shop.test", echoBackend(t, &calls))
	for name, req := range map[string]string{
		"CL and TE":          "POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"two lengths":        "POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
		"TE not chunked":     "POST / HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: gzip\r\n\r\n",
		"space before colon": "GET / HTTP/1.1\r\nHost: shop.test\r\nContent-Length : 0\r\n\r\n",
		"obs-fold":           "GET / HTTP/1.1\r\nHost: shop.test\r\nX-A: 1\r\n  folded\r\n\r\n",
		"bare LF":            "GET / HTTP/1.1\nHost: shop.test\n\n",
		"two hosts":          "GET / HTTP/1.1\r\nHost: shop.test\r\nHost: evil.test\r\n\r\n",
		"no host":            "GET / HTTP/1.1\r\n\r\n",
		"HTTP/2 preface":     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	} {
		got := raw(t, p, req, time.Second)
		if !strings.HasPrefix(got, "HTTP/1.1 400 ") && !strings.HasPrefix(got, "HTTP/1.1 502 ") {
			t.Errorf("%s: got %q, want 400", name, got)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d refused requests reached the app", n)
	}
	// A body is streamed, so a malformed chunk is found after the head went
	// on; the client still gets 400 and the app a connection that ends.
	if got := raw(t, p, "POST / HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", time.Second); !strings.HasPrefix(got, "HTTP/1.1 400 ") {
		t.Errorf("bad chunk size: got %q, want 400", got)
	}
	if got := raw(t, p, "GET / HTTP/1.1\r\nHost: shop.test\r\nX-Big: "+strings.Repeat("a", 70<<10)+"\r\n\r\n", time.Second); !strings.HasPrefix(got, "HTTP/1.1 431 ") {
		t.Errorf("oversized head: %.60q, want 431", got)
	}
}

func TestWireBehaviour(t *testing.T) {
	p := startProxy(t, Options{})
	p.route(t, "shop/web", "shop.test", echoBackend(t, nil))

	t.Run("pipelined requests answer in order on one connection", func(t *testing.T) {
		got := raw(t, p, "GET /a HTTP/1.1\r\nHost: shop.test\r\n\r\nGET /b HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n", 2*time.Second)
		if strings.Count(got, "HTTP/1.1 200 ") != 2 || strings.Index(got, "GET /a") > strings.Index(got, "GET /b") {
			t.Errorf("pipelined: %q", got)
		}
	})
	t.Run("chunked request body reaches the app", func(t *testing.T) {
		got := raw(t, p, "POST /up HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n", 2*time.Second)
		if !strings.Contains(got, `body="abcde"`) {
			t.Errorf("chunked body: %q", got)
		}
	})
	t.Run("Expect 100-continue is answered by the proxy", func(t *testing.T) {
		got := raw(t, p, "POST / HTTP/1.1\r\nHost: shop.test\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz", 2*time.Second)
		if !strings.HasPrefix(got, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ") || !strings.Contains(got, `body="xyz"`) {
			t.Errorf("expect: %q", got)
		}
	})
	t.Run("forwarding headers are the proxy's, hop-by-hop headers are not forwarded", func(t *testing.T) {
		got := raw(t, p, "GET / HTTP/1.1\r\nHost: shop.test\r\nX-Forwarded-For: 6.6.6.6\r\nConnection: close, X-Secret\r\nKeep-Alive: 5\r\n\r\n", 2*time.Second)
		if !strings.Contains(got, "xff=127.0.0.1 ") || !strings.Contains(got, "xfh=shop.test") || strings.Contains(got, "6.6.6.6") || !strings.Contains(got, `conn=""`) {
			t.Errorf("headers the app saw: %q", got)
		}
		if !strings.Contains(got, "Connection: close\r\n") {
			t.Errorf("the proxy did not tell the client it closes: %q", got)
		}
	})
	t.Run("HTTP/1.0 client gets a keep-alive or a close, never chunks", func(t *testing.T) {
		stream := newBackend(t, "stream", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "part1 ")
			w.(http.Flusher).Flush()
			io.WriteString(w, "part2")
		})
		p.route(t, "shop/stream", "stream.test", stream)
		got := raw(t, p, "GET / HTTP/1.0\r\nHost: stream.test\r\n\r\n", 2*time.Second)
		if !strings.HasPrefix(got, "HTTP/1.1 200 ") || !strings.HasSuffix(got, "\r\n\r\npart1 part2") || strings.Contains(strings.ToLower(got), "transfer-encoding") {
			t.Errorf("HTTP/1.0 and a chunked answer: %q", got)
		}
	})
	t.Run("HEAD and 204 carry no body and keep the connection", func(t *testing.T) {
		nc := newBackend(t, "nc", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/204" {
				w.WriteHeader(204)
				return
			}
			w.Header().Set("Content-Length", "5")
			if r.Method != "HEAD" {
				io.WriteString(w, "hello")
			}
		})
		p.route(t, "shop/nc", "nc.test", nc)
		got := raw(t, p, "HEAD / HTTP/1.1\r\nHost: nc.test\r\n\r\nGET /204 HTTP/1.1\r\nHost: nc.test\r\n\r\nGET / HTTP/1.1\r\nHost: nc.test\r\nConnection: close\r\n\r\n", 2*time.Second)
		if strings.Count(got, "HTTP/1.1 ") != 3 || !strings.Contains(got, "204 No Content") || !strings.HasSuffix(got, "hello") {
			t.Errorf("HEAD, 204, GET on one connection: %q", got)
		}
	})
	t.Run("a response delimited by close is passed on and the client closed", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadString('\n')
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close")
			c.Close()
		}()
		p.route(t, "shop/old", "old.test", ln.Addr().String())
		got := raw(t, p, "GET / HTTP/1.1\r\nHost: old.test\r\n\r\n", 2*time.Second)
		if !strings.Contains(got, "Connection: close\r\n") || !strings.HasSuffix(got, "until close") {
			t.Errorf("close-delimited: %q", got)
		}
	})
}
