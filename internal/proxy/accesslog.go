package proxy

import (
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

const (
	accessFlushEvery = 200 * time.Millisecond
	// accessKickAt wakes the flusher early under heavy traffic so the pending
	// buffer stays small.
	accessKickAt = 64 << 10
	// accessMaxPending bounds memory when the log sink blocks (a stalled
	// docker log driver): lines beyond it are dropped and counted, because
	// slowing every request down to the sink's speed would be worse.
	accessMaxPending = 8 << 20
)

// accessLog writes one JSON line per request. Requests append to an in-memory
// buffer under a short lock; a single goroutine hands it to the sink, so a slow
// sink never sits inside a request.
type accessLog struct {
	out io.Writer
	log *slog.Logger

	mu      sync.Mutex
	buf     []byte
	dropped int

	kick      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	lines sync.Pool
}

func newAccessLog(out io.Writer, log *slog.Logger) *accessLog {
	a := &accessLog{
		out:  out,
		log:  log,
		buf:  make([]byte, 0, accessKickAt*2),
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	a.lines.New = func() any { b := make([]byte, 0, 512); return &b }
	go a.run()
	return a
}

func (a *accessLog) run() {
	defer close(a.done)
	tick := time.NewTicker(accessFlushEvery)
	defer tick.Stop()
	spare := make([]byte, 0, accessKickAt*2)
	failed := false
	for {
		var stopping bool
		select {
		case <-tick.C:
		case <-a.kick:
		case <-a.stop:
			stopping = true
		}
		a.mu.Lock()
		a.buf, spare = spare[:0], a.buf
		dropped := a.dropped
		a.dropped = 0
		a.mu.Unlock()
		if len(spare) > 0 {
			if _, err := a.out.Write(spare); err != nil && !failed {
				failed = true // once: a broken sink would otherwise flood the daemon log
				a.log.Warn("access log write failed", "err", err)
			}
		}
		if dropped > 0 {
			a.log.Warn("access log lines dropped: the log sink is not keeping up", "dropped", dropped)
		}
		if stopping {
			return
		}
	}
}

// close flushes what is pending and stops the flusher.
func (a *accessLog) close() {
	a.closeOnce.Do(func() { close(a.stop) })
	<-a.done
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, replacing invalid UTF-8 so the
// line stays parseable whatever a client puts in its request line.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\t':
				b = append(b, '\\', 't')
			case '\r':
				b = append(b, '\\', 'r')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// logEntry is one proxied request as the access log records it.
type logEntry struct {
	start              time.Time
	method, path, host []byte
	status             int
	bytes              int64
	entry              *routeEntry
	target             *target // the one of entry's targets that served
	remote             string
	err                error
	logged             bool
}

// logRequest appends lg's line once.
func (s *Server) logRequest(lg *logEntry) {
	if s.alog == nil || lg.logged {
		return
	}
	lg.logged = true
	s.alog.append(lg)
}

func (a *accessLog) append(lg *logEntry) {
	bp := a.lines.Get().(*[]byte)
	line := lg.appendJSON((*bp)[:0], time.Since(lg.start))
	a.mu.Lock()
	if len(a.buf)+len(line) > accessMaxPending {
		a.dropped++
	} else {
		a.buf = append(a.buf, line...)
	}
	full := len(a.buf) >= accessKickAt
	a.mu.Unlock()
	if full {
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
	*bp = line
	a.lines.Put(bp)
}

func (lg *logEntry) appendJSON(b []byte, d time.Duration) []byte {
	b = append(b, `{"time":"`...)
	b = lg.start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","host":`...)
	b = appendJSONBytes(b, lg.host)
	b = append(b, `,"method":`...)
	b = appendJSONBytes(b, lg.method)
	b = append(b, `,"path":`...)
	b = appendJSONBytes(b, lg.path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(lg.status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, lg.bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', 3, 64)
	b = append(b, `,"target":`...)
	if lg.entry != nil {
		name := lg.entry.route.Target
		if lg.target != nil {
			name = lg.target.name
		}
		b = appendJSONString(b, name)
		b = append(b, `,"route":`...)
		b = appendJSONString(b, lg.entry.route.Key)
	} else {
		b = append(b, `"","route":""`...)
	}
	b = append(b, `,"remote":`...)
	b = appendJSONString(b, lg.remote)
	if lg.err != nil {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, lg.err.Error())
	}
	return append(b, "}\n"...)
}

// appendJSONBytes is appendJSONString for a byte slice of the request head;
// the conversion does not allocate when passed straight through.
func appendJSONBytes(b, s []byte) []byte { return appendJSONString(b, string(s)) }
