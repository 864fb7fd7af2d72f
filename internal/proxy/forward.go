package proxy

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"
)

// ServeHTTP routes r by its Host header to the route's current target.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e, t := s.acquire(requestHost(r.Host))
	if t != nil {
		defer t.inflight.Add(-1)
	}
	orig := w
	if s.alog != nil {
		rec := s.alog.begin(w, r, e)
		defer s.alog.end(rec)
		w = rec
	}
	switch {
	case e == nil:
		writePage(w, http.StatusNotFound, "no route for host "+r.Host)
		return
	case t == nil:
		writePage(w, http.StatusServiceUnavailable, "service "+e.route.Key+" has no running target")
		return
	}
	if s.maxBody > 0 {
		if r.ContentLength > s.maxBody {
			w.Header().Set("Connection", "close")
			writePage(w, http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		if r.ContentLength < 0 {
			// Chunked: the size is only known while reading. orig, not the
			// recorder, so the server learns to close the half-read connection.
			r.Body = http.MaxBytesReader(orig, r.Body, s.maxBody)
		}
	}
	t.proxy.ServeHTTP(w, r)
}

// acquire resolves host and counts the request in flight on the route's
// target; the caller must decrement. If the table changed between the lookup
// and the increment, it resolves again: otherwise a drain that started right
// after a switch could see zero in flight while this request is about to go
// to the old target. Because the second load sees the same table, the
// increment happened before any later switch, and so before the drain looks.
func (s *Server) acquire(host string) (*routeEntry, *target) {
	tbl := s.table.Load()
	for {
		e := tbl.byHost[host]
		if e == nil || e.target == nil {
			return e, nil
		}
		e.target.inflight.Add(1)
		next := s.table.Load()
		if next == tbl {
			return e, e.target
		}
		e.target.inflight.Add(-1)
		tbl = next
	}
}

// newProxy builds the ReverseProxy for one target. One per target lets Rewrite
// close over the target name instead of carrying it in a per-request context.
func (s *Server) newProxy(t *target) *httputil.ReverseProxy {
	name := t.name
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = name
			// Out.Host keeps the client's Host: apps build URLs and check
			// allowed hosts from it, not from the container name.
			pr.SetXForwarded()
		},
		Transport: s.transport,
		// FlushInterval stays 0: ReverseProxy already flushes every write for
		// text/event-stream and for responses of unknown length (streams,
		// long-polls), while fixed-length bodies keep full buffers.
		BufferPool:   copyBuffers{},
		ErrorHandler: s.proxyError,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
}

func (s *Server) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if rec, ok := w.(*recorder); ok {
		rec.err = err
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		w.Header().Set("Connection", "close")
		writePage(w, http.StatusRequestEntityTooLarge, "request body too large")
	case r.Context().Err() != nil:
		// The client is gone; nobody reads a page. 499 is what access logs
		// conventionally show for it.
		if rec, ok := w.(*recorder); ok {
			rec.status = 499
		}
	default:
		s.log.Debug("upstream error", "host", r.Host, "target", r.URL.Host, "err", err)
		writePage(w, http.StatusBadGateway, "bad gateway: the service did not answer")
	}
}

// writePage writes a short plain-text error page.
func writePage(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}

// newTransport returns the one transport shared by all targets. It is tuned
// for many keep-alive connections to few upstreams on a local network.
func newTransport(ts *targets) *http.Transport {
	return &http.Transport{
		Proxy:       nil, // never send app traffic through an environment proxy
		DialContext: ts.dial,
		// High enough that a burst of concurrent requests returns its
		// connections to the pool instead of closing them into TIME_WAIT.
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		// Pass bodies through as the app encoded them.
		DisableCompression: true,
		// No ResponseHeaderTimeout: long-polls legitimately wait for minutes.
	}
}

const copyBufferSize = 32 << 10

var copyBufferPool = sync.Pool{New: func() any { return new([copyBufferSize]byte) }}

// copyBuffers pools ReverseProxy's body copy buffers. It stores array
// pointers so Put does not allocate a slice header per response.
type copyBuffers struct{}

func (copyBuffers) Get() []byte { return copyBufferPool.Get().(*[copyBufferSize]byte)[:] }

func (copyBuffers) Put(b []byte) {
	if cap(b) >= copyBufferSize {
		copyBufferPool.Put((*[copyBufferSize]byte)(b[:copyBufferSize]))
	}
}
