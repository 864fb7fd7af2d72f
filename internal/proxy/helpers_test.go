package proxy

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testProxy is a Server serving on a loopback port and a real unix socket.
type testProxy struct {
	srv    *Server
	url    string
	socket string
	state  string
	admin  *Client
	stop   func() error // cancels Serve and returns its error; idempotent
}

func startProxy(t testing.TB, opts Options) *testProxy {
	t.Helper()
	if opts.StateFile == "" {
		opts.StateFile = filepath.Join(t.TempDir(), "state", "state.json")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 2 * time.Second
	}
	srv, err := NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(shortTempDir(t), "admin.sock")
	adminLn, err := listenAdmin(socket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, adminLn) }()
	p := &testProxy{
		srv:    srv,
		url:    "http://" + ln.Addr().String(),
		socket: socket,
		state:  opts.StateFile,
		admin:  NewClient(UnixCaller{Socket: socket}),
		stop:   sync.OnceValue(func() error { cancel(); return <-done }),
	}
	t.Cleanup(func() { p.stop() })
	return p
}

// shortTempDir is for unix sockets, whose paths are limited to ~108 bytes and
// would overflow inside t.TempDir() for long test names.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (p *testProxy) route(t *testing.T, key, host, target string) {
	t.Helper()
	if _, err := p.srv.SetRoute(Route{Key: key, Hosts: []string{host}, Target: target}); err != nil {
		t.Fatalf("SetRoute(%s -> %s): %v", key, target, err)
	}
}

// inflight reports the in-flight count that GET /routes shows for key.
func (p *testProxy) inflight(key string) int64 {
	for _, r := range p.srv.Routes() {
		if r.Key == key {
			return r.Inflight
		}
	}
	return -1
}

// newBackend starts an upstream app and returns its target ("127.0.0.1:port").
// A nil handler answers with name.
func newBackend(t *testing.T, name string, h http.HandlerFunc) string {
	t.Helper()
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.Listener.Addr().String()
}

func newTestClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
		Timeout:   10 * time.Second,
	}
}

type result struct {
	status int
	body   string
	err    error
}

// do sends a request for host through the proxy.
func do(c *http.Client, method, url, host string, body io.Reader) result {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return result{err: err}
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, body: string(b), err: err}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncBuffer is an io.Writer safe to read while the access log writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
