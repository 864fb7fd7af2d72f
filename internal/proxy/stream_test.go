package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// echoWebSocket is a minimal upgrade handler: enough of the handshake for a
// proxy to see, then a line echo on the raw connection.
func echoWebSocket(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "want upgrade", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	brw.Flush()
	for {
		line, err := brw.ReadString('\n')
		if err != nil {
			return
		}
		brw.WriteString("echo " + line)
		brw.Flush()
	}
}

// dialWebSocket performs the upgrade through the proxy.
func dialWebSocket(t *testing.T, p *testProxy, host string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", host)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: status %d", resp.StatusCode)
	}
	return conn, br
}

func TestWebSocketPassthrough(t *testing.T) {
	// With the access log on, so the upgrade also passes its response recorder.
	p := startProxy(t, Options{AccessLog: io.Discard})
	p.route(t, "chat/web", "chat.test", newBackend(t, "ws", echoWebSocket))

	conn, br := dialWebSocket(t, p, "chat.test")
	for _, msg := range []string{"hello", "again"} {
		io.WriteString(conn, msg+"\n")
		line, err := br.ReadString('\n')
		if err != nil || line != "echo "+msg+"\n" {
			t.Fatalf("echo of %q: %q, %v", msg, line, err)
		}
	}
	if n := p.inflight("chat/web"); n != 1 {
		t.Fatalf("open websocket counts %d in flight, want 1", n)
	}
	conn.Close()
	waitFor(t, "the closed websocket to leave the in-flight count", func() bool { return p.inflight("chat/web") == 0 })
}

// TestDrainCancelsWebSocket: a hijacked connection is in flight like any
// request, so a drain that times out ends it.
func TestDrainCancelsWebSocket(t *testing.T) {
	p := startProxy(t, Options{})
	old := newBackend(t, "ws", echoWebSocket)
	p.route(t, "chat/web", "chat.test", old)
	_, br := dialWebSocket(t, p, "chat.test")
	p.route(t, "chat/web", "chat.test", newBackend(t, "new", nil))

	res, err := p.admin.Drain(context.Background(), old, 100*time.Millisecond)
	if err != nil || res.Drained || res.Cancelled != 1 {
		t.Fatalf("drain = %+v, %v; want cancelled=1", res, err)
	}
	if _, err := br.ReadString('\n'); err == nil {
		t.Fatal("websocket still open after its target was drained")
	}
}

// TestStreamingIsUnbuffered: each event must reach the client while the
// backend is still holding the response open.
func TestStreamingIsUnbuffered(t *testing.T) {
	tests := []struct {
		name, contentType string
		event             func(i int) string
	}{
		{"server-sent events", "text/event-stream", func(i int) string { return fmt.Sprintf("data: event %d\n\n", i) }},
		{"chunked stream", "application/x-ndjson", func(i int) string { return fmt.Sprintf("{\"event\":%d}\n", i) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, Options{AccessLog: io.Discard})
			release := make(chan struct{})
			p.route(t, "app/web", "stream.test", newBackend(t, "stream", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				rc := http.NewResponseController(w)
				for i := range 3 {
					io.WriteString(w, tc.event(i))
					rc.Flush()
					select {
					case <-release:
					case <-r.Context().Done():
						return
					}
				}
			}))
			req, _ := http.NewRequest("GET", p.url+"/events", nil)
			req.Host = "stream.test"
			resp, err := newTestClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			for i := range 3 {
				want := tc.event(i)
				got := make([]byte, len(want))
				read := make(chan error, 1)
				go func() { _, err := io.ReadFull(br, got); read <- err }()
				select {
				case err := <-read:
					if err != nil || string(got) != want {
						t.Fatalf("event %d: %q, %v", i, got, err)
					}
				case <-time.After(2 * time.Second):
					t.Fatalf("event %d is held back by the proxy", i)
				}
				release <- struct{}{}
			}
		})
	}
}
