package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// berth-proxy forwards HTTP/1.1 with its own small engine rather than
// net/http's server and ReverseProxy. Measured on a 2-core host, net/http
// spent ~79 µs of CPU per proxied request against nginx's ~33 µs (per-request
// goroutines, header maps, a background read per request), which capped the
// proxy at 0.4x nginx. Here each client connection is one goroutine that owns
// one upstream connection to its current target: a request costs the four
// reads and writes it must cost and little else. Parsing is strict where
// smuggling lives (Content-Length vs Transfer-Encoding, header syntax) and
// the admin API, a cold path, stays on net/http.

const (
	maxHeadBytes      = 64 << 10
	headerReadTimeout = 10 * time.Second // slowloris: a started head must arrive promptly
	clientIdleTimeout = 2 * time.Minute
	// upstreamIdleMax drops a pinned upstream connection that sat idle longer
	// than apps usually keep one (Node closes after 5 s), so a request with a
	// body is rarely sent on a connection the app is closing.
	upstreamIdleMax = 2 * time.Second
	bufSize         = 16 << 10
	bodyReadIdle    = time.Minute
	lingerTimeout   = 2 * time.Second
	lingerMaxBytes  = 64 << 20
	clientWriteIdle = time.Minute
)

var (
	// errStale: the upstream connection was closed before the app read the
	// request or answered a byte (EOF, reset, broken pipe).
	errStale      = errors.New("upstream connection closed before an answer")
	errBadRequest = errors.New("malformed request")
	errHeadTooBig = errors.New("request head too large")
	errTooLarge   = errors.New("request body too large")
	errUpstream   = errors.New("upstream failed")
)

// h1server accepts client connections and tracks them for shutdown.
type h1server struct {
	s      *Server
	mu     sync.Mutex
	conns  map[*h1conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func newH1Server(s *Server) *h1server {
	return &h1server{s: s, conns: map[*h1conn]struct{}{}}
}

func (h *h1server) serve(ln net.Listener) error {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			h.mu.Lock()
			closed := h.closed
			h.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like pass; back off instead
			// of spinning or giving up on every other client.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			h.s.log.Warn("accept failed", "err", err, "retry_in", backoff.String())
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		hc := newH1Conn(h.s, c)
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			c.Close()
			return nil
		}
		h.conns[hc] = struct{}{}
		h.wg.Add(1)
		h.mu.Unlock()
		go func() {
			defer h.wg.Done()
			hc.serve()
			h.mu.Lock()
			delete(h.conns, hc)
			h.mu.Unlock()
		}()
	}
}

// shutdown stops accepting (the caller closes the listener), ends idle
// connections at once and waits for active ones until deadline; then it cuts
// what is left, upstream side first, so no exchange outlives the deadline.
func (h *h1server) shutdown(deadline time.Time) {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	for {
		h.mu.Lock()
		n := 0
		for c := range h.conns {
			if c.active.Load() {
				n++
			} else {
				// A past deadline rather than Close: a request that arrived
				// a moment ago is already buffered and still gets served.
				c.c.SetReadDeadline(time.Unix(1, 0))
			}
		}
		h.mu.Unlock()
		if n == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(drainPoll)
	}
	for _, t := range h.s.targets.all() {
		t.closeConns()
	}
	h.mu.Lock()
	for c := range h.conns {
		c.c.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// h1conn is one client connection and the upstream connection it owns.
type h1conn struct {
	s          *Server
	c          net.Conn
	br         *bufio.Reader
	bw         *bufio.Writer
	remote     string // client IP, for X-Forwarded-For
	remoteAddr string // client IP:port, for the access log
	active     atomic.Bool
	up         *upConn
	cw         *countConn
	head       []byte // the request head as read
	out        []byte // the head as forwarded
	lines      []int  // start offsets of header lines in head
	rhead      []byte // the response head as read
	rlines     []int
	unread     bool // the request body was not (all) read: close by lingering

	// The wait for the app's answer, seen by the sweeper (h1watch.go).
	wmu        sync.Mutex
	waiting    bool
	watchable  bool
	waitStart  time.Time
	watcher    chan struct{}
	clientGone atomic.Bool
}

// countConn counts the bytes written to the client, for the access log,
// and bounds how long a client may stall: a write that cannot progress for
// clientWriteIdle (a client that stopped reading), or a body read for
// readIdle, ends the connection.
type countConn struct {
	net.Conn
	n        int64
	readIdle time.Duration
	// Deadlines are re-armed at most every deadlineSlack: a timer update
	// per write costs more than the looser bound (50-60 s, not 60) is worth.
	wset, rset time.Time
}

const deadlineSlack = 10 * time.Second

func (c *countConn) Write(b []byte) (int, error) {
	if now := time.Now(); now.Sub(c.wset) > deadlineSlack {
		c.wset = now
		c.Conn.SetWriteDeadline(now.Add(clientWriteIdle))
	}
	n, err := c.Conn.Write(b)
	c.n += int64(n)
	return n, err
}

func (c *countConn) Read(b []byte) (int, error) {
	if c.readIdle > 0 {
		if now := time.Now(); now.Sub(c.rset) > deadlineSlack {
			c.rset = now
			c.Conn.SetReadDeadline(now.Add(c.readIdle))
		}
	}
	return c.Conn.Read(b)
}

type upConn struct {
	t         *target
	c         net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
}

var (
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufSize) }}
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufSize) }}
)

func newH1Conn(s *Server, c net.Conn) *h1conn {
	addr := c.RemoteAddr().String()
	remote := addr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		remote = host
	}
	return &h1conn{s: s, c: c, remote: remote, remoteAddr: addr}
}

func (hc *h1conn) serve() {
	hc.br = readers.Get().(*bufio.Reader)
	hc.br.Reset(hc.c)
	hc.cw = &countConn{Conn: hc.c}
	hc.br.Reset(hc.cw)
	hc.bw = writers.Get().(*bufio.Writer)
	hc.bw.Reset(hc.cw)
	defer func() {
		if p := recover(); p != nil {
			hc.s.log.Error("proxy connection panicked", "remote", hc.remote, "panic", fmt.Sprint(p))
		}
		hc.dropUpstream()
		hc.lingerClose()
		hc.br.Reset(nil)
		readers.Put(hc.br)
		hc.bw.Reset(nil)
		writers.Put(hc.bw)
	}()
	for {
		if hc.br.Buffered() == 0 {
			hc.c.SetReadDeadline(time.Now().Add(clientIdleTimeout))
			if _, err := hc.br.Peek(1); err != nil {
				return
			}
		}
		hc.active.Store(true)
		keep := hc.exchange()
		hc.active.Store(false)
		if !keep || hc.s.stopping.Load() {
			return
		}
	}
}

// reqInfo is what the proxy needs to know about a request head.
type reqInfo struct {
	method, target []byte
	http10         bool
	host           []byte
	cl             int64 // -1: none
	chunked        bool
	close          bool
	upgrade        []byte // the Upgrade header when Connection asks for it
	expect100      bool
	conn           [][]byte // Connection header values: the headers they name are this hop's
}

// exchange proxies one request and reports whether the client connection
// may carry another.
func (hc *h1conn) exchange() bool {
	start := time.Now()
	// A head that is not all here yet must arrive promptly (slowloris); one
	// that is, the common case, costs no timer. Bodies get no deadline:
	// uploads may be slow and legitimate.
	if !headBuffered(hc.br) {
		hc.c.SetReadDeadline(start.Add(headerReadTimeout))
	}
	ri, err := hc.readHead()
	if err == nil && (ri.cl > 0 || ri.chunked) {
		// A body may be slow, not silent: every read must make progress
		// within bodyReadIdle (countConn re-arms it per read).
		hc.cw.readIdle, hc.cw.rset = bodyReadIdle, time.Time{}
	} else if err == nil && ri.upgrade != nil {
		hc.c.SetReadDeadline(time.Time{})
	}
	defer func() { hc.cw.readIdle = 0 }()
	lg := logEntry{start: start, remote: hc.remoteAddr}
	if err != nil {
		hc.unread = true // whatever the client still sends, let the answer reach it
		if errors.Is(err, errHeadTooBig) {
			hc.page(&lg, 431, "request header fields too large", true)
		} else if errors.Is(err, errBadRequest) {
			hc.page(&lg, 400, "bad request", true)
		}
		return false
	}
	lg.method, lg.path, lg.host = ri.method, pathOf(ri.target), ri.host
	hasBody := ri.cl > 0 || ri.chunked
	if !validHost(ri.host) {
		return hc.page(&lg, 400, "bad request: malformed Host header", true)
	}
	e := hc.s.table.Load().byHost[requestHost(string(ri.host))]
	lg.entry = e
	hc.unread = hasBody
	switch {
	case e == nil:
		return hc.page(&lg, 404, "no route for host "+string(ri.host), hasBody || ri.close)
	case len(e.targets) == 0:
		return hc.page(&lg, 503, "service "+e.route.Key+" has no running target", hasBody || ri.close)
	case hc.s.maxBody > 0 && ri.cl > hc.s.maxBody:
		return hc.page(&lg, 413, "request body too large", true)
	}
	t := e.pick(hc.pinned())
	t.inflight.Add(1)
	// A drain reads the count after the switch: if the route moved between
	// the lookup and the increment, follow it, or the drain could miss
	// this request and the old container stop under it.
	for cur := hc.s.table.Load().byHost[requestHost(string(ri.host))]; cur != e; cur = hc.s.table.Load().byHost[requestHost(string(ri.host))] {
		t.inflight.Add(-1)
		e = cur
		lg.entry = e
		if e == nil || len(e.targets) == 0 {
			return hc.page(&lg, 503, "service has no running target", true)
		}
		t = e.pick(hc.pinned())
		t.inflight.Add(1)
	}
	lg.target = t
	defer t.inflight.Add(-1)
	if ri.expect100 && hasBody {
		// Answer 100 Continue ourselves, as nginx does: the body is then
		// streamed to the app like any other.
		hc.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if hc.bw.Flush() != nil {
			return false
		}
	}
	keep, err := hc.forward(&lg, t, &ri, !hasBody && idempotent(ri.method))
	lg.err = err
	hc.s.logRequest(&lg)
	hc.unread = hasBody && (err != nil || !keep)
	return keep && !ri.close
}

// forward sends the request to t and its response back. An idempotent
// request without a body that found a reused upstream connection closed
// (EOF or reset before a single response byte) is sent once more on a fresh
// one: the app had closed that connection and never saw the request. Nothing
// else is ever sent twice.
func (hc *h1conn) forward(lg *logEntry, t *target, ri *reqInfo, retryable bool) (bool, error) {
	hasBody := ri.cl > 0 || ri.chunked
	for attempt := 0; ; attempt++ {
		reused, err := hc.upstreamTo(t, attempt > 0)
		if err != nil {
			// The body was not read: the connection cannot go on, or the
			// body would be parsed as the next request.
			return hc.page(lg, 502, "bad gateway: the service did not answer", hasBody || ri.close), err
		}
		err = hc.sendRequest(ri)
		if err != nil && hasBody && !errors.Is(err, errClient) && !errors.Is(err, errTooLarge) {
			// The app stopped reading the body: it may have answered early
			// (401, 413) and closed. That answer is the one to relay.
			hc.up.c.SetReadDeadline(time.Now().Add(time.Second))
			if _, answered, rerr := hc.relayResponse(lg, ri); answered {
				hc.dropUpstream()
				return false, rerr
			}
		}
		if err == nil {
			var keep, answered bool
			keep, answered, err = hc.relayResponse(lg, ri)
			if err == nil {
				return keep, nil
			}
			if answered {
				hc.dropUpstream()
				return false, err
			}
		}
		hc.dropUpstream()
		if errors.Is(err, errClientGone) {
			lg.status = 499 // what access logs conventionally show for it
			return false, err
		}
		if errors.Is(err, errTooLarge) {
			return hc.page(lg, 413, "request body too large", true), err
		}
		if errors.Is(err, errClient) {
			if errors.Is(err, errBadRequest) {
				hc.page(lg, 400, "bad request", true)
			}
			return false, err
		}
		if reused && retryable && attempt == 0 && errors.Is(err, errStale) && !t.refused.Load() {
			continue
		}
		return hc.page(lg, 502, "bad gateway: the service did not answer", hasBody || ri.close), err
	}
}

// upstreamTo makes hc.up a connection to t: the pinned one when it is still
// to t and fresh enough, else a new dial. It reports whether it reused one.
func (hc *h1conn) upstreamTo(t *target, fresh bool) (bool, error) {
	if up := hc.up; up != nil {
		if idle := time.Since(up.idleSince); !fresh && up.t == t && idle < upstreamIdleMax && !isClosed(up.c) &&
			(idle < staleCheckAfter || !peerClosed(up.c)) {
			return true, nil
		}
		hc.dropUpstream()
	}
	c, err := hc.s.targets.dialTarget(context.Background(), "tcp", t)
	if err != nil {
		return false, err
	}
	br := readers.Get().(*bufio.Reader)
	br.Reset(c)
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(c)
	hc.up = &upConn{t: t, c: c, br: br, bw: bw}
	return false, nil
}

// pinned is the target of the connection's upstream connection, if any.
func (hc *h1conn) pinned() *target {
	if hc.up != nil {
		return hc.up.t
	}
	return nil
}

func (hc *h1conn) dropUpstream() {
	if up := hc.up; up != nil {
		up.c.Close()
		up.br.Reset(nil)
		readers.Put(up.br)
		up.bw.Reset(nil)
		writers.Put(up.bw)
		hc.up = nil
	}
}

// lingerClose closes the client connection without losing what was just
// written to it. Closing a socket that still has unread input (a body the
// proxy refused, a 413, a 502) makes the kernel send a reset, and the client
// may then never read the answer; half-closing and reading off the rest for
// a moment lets the answer arrive, as nginx's lingering close does.
func (hc *h1conn) lingerClose() {
	if hc.unread {
		if tc, ok := hc.c.(*net.TCPConn); ok {
			tc.CloseWrite()
			hc.c.SetReadDeadline(time.Now().Add(lingerTimeout))
			io.Copy(io.Discard, io.LimitReader(hc.c, lingerMaxBytes))
		}
	}
	hc.c.Close()
}

// headBuffered reports whether a complete request head is already buffered.
// Leading empty lines do not count, or a trickle of CRLFs would pass for a
// head and dodge the head timeout.
func headBuffered(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	for len(b) >= 2 && b[0] == '\r' && b[1] == '\n' {
		b = b[2:]
	}
	return bytes.Contains(b, []byte("\r\n\r\n"))
}

// idempotent methods may be sent again when a connection failed before the
// app answered (RFC 9110 9.2.2).
func idempotent(method []byte) bool {
	switch string(method) {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return false
}

// validHost accepts a host name or IP literal with an optional numeric
// port, nothing else: apps build URLs from Host, and a proxy that routes
// "shop.test:@evil" to shop.test would hand them a poisoned one.
func validHost(h []byte) bool {
	if len(h) == 0 || len(h) > 255 {
		return len(h) == 0 // HTTP/1.0 without Host is routed as unknown
	}
	host, port := h, []byte(nil)
	if h[0] == '[' {
		end := bytes.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		for _, c := range h[1:end] {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':' || c == '.') {
				return false
			}
		}
		host, port = nil, h[end+1:]
		if len(port) > 0 {
			if port[0] != ':' {
				return false
			}
			port = port[1:]
		}
	} else if i := bytes.LastIndexByte(h, ':'); i >= 0 {
		host, port = h[:i], h[i+1:]
		if len(port) == 0 {
			return false
		}
	}
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(port) <= 5
}

// staleCheckAfter: a connection idle longer than this is checked for a
// close by the app before it carries a request (one non-blocking peek);
// busier ones are used straight away.
const staleCheckAfter = 20 * time.Millisecond

// peerClosed peeks at the socket without blocking: EOF, an error, or bytes
// nobody asked for all make the connection unfit for the next request.
func peerClosed(c net.Conn) bool {
	if tc, ok := c.(*trackedConn); ok {
		c = tc.Conn
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	unfit := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		unfit = n > 0 || n == 0 && rerr == nil || rerr != nil && rerr != syscall.EAGAIN
		return true
	})
	return unfit || err != nil
}

func isClosed(c net.Conn) bool {
	tc, ok := c.(*trackedConn)
	return ok && tc.closed.Load()
}

// page answers with a short plain-text page and reports whether the client
// connection may go on (it may not when close is set).
func (hc *h1conn) page(lg *logEntry, code int, msg string, close bool) bool {
	body := msg + "\n"
	b := hc.out[:0]
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, statusText(code)...)
	b = append(b, "\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	if close {
		b = append(b, "\r\nConnection: close"...)
	}
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	hc.out = b
	hc.bw.Write(b)
	err := hc.bw.Flush()
	if lg != nil && lg.status == 0 {
		lg.status, lg.bytes = code, int64(len(body))
		if lg.method != nil || code >= 400 {
			hc.s.logRequest(lg)
			lg.logged = true
		}
	}
	return err == nil && !close
}

func statusText(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 404:
		return "Not Found"
	case 413:
		return "Payload Too Large"
	case 431:
		return "Request Header Fields Too Large"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	}
	return "Error"
}

func pathOf(target []byte) []byte {
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		return target[:i]
	}
	return target
}

// errClient marks a failure on the client side of an exchange.
var errClient = errors.New("client connection failed")

type clientErr struct{ err error }

func (e clientErr) Error() string   { return "client: " + e.err.Error() }
func (e clientErr) Unwrap() []error { return []error{errClient, e.err} }
func asClient(err error) error      { return clientErr{err} }
