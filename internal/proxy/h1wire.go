package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sync"
)

// readHead reads and checks a request head. It refuses what request
// smuggling relies on: both Content-Length and Transfer-Encoding, several
// differing lengths, an encoding other than chunked, folded or nameless
// header lines, bare LF line ends.
func (hc *h1conn) readHead() (reqInfo, error) {
	ri := reqInfo{cl: -1}
	hc.head = hc.head[:0]
	hc.lines = hc.lines[:0]
	for {
		line, err := hc.br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return ri, errHeadTooBig
			}
			if len(hc.head) > 0 || len(line) > 0 {
				return ri, errBadRequest
			}
			return ri, err
		}
		if len(hc.head)+len(line) > maxHeadBytes {
			return ri, errHeadTooBig
		}
		n := len(line)
		// CRLF ends every line and a CR appears nowhere else: a bare CR
		// is read as a line break by some servers and not by others.
		if n < 2 || line[n-2] != '\r' || bytes.IndexByte(line[:n-2], '\r') >= 0 {
			return ri, errBadRequest
		}
		if n == 2 {
			if len(hc.head) == 0 {
				continue // a stray CRLF between requests is tolerated (RFC 9112 2.2)
			}
			break
		}
		hc.lines = append(hc.lines, len(hc.head))
		hc.head = append(hc.head, line...)
	}
	if len(hc.lines) == 0 {
		return ri, errBadRequest
	}
	// Request line: METHOD SP target SP HTTP/1.x
	rl := hc.head[:lineEnd(hc.head, 0)]
	sp1 := bytes.IndexByte(rl, ' ')
	sp2 := bytes.LastIndexByte(rl, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 {
		return ri, errBadRequest
	}
	ri.method, ri.target = rl[:sp1], rl[sp1+1:sp2]
	switch string(rl[sp2+1:]) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		ri.http10, ri.close = true, true
	default:
		return ri, errBadRequest
	}
	if !isToken(ri.method) || !validRequestTarget(ri.target) {
		return ri, errBadRequest
	}
	var connUpgrade, keepAlive bool
	var connTokens [][]byte
	var upgrade []byte
	hosts := 0
	for _, off := range hc.lines[1:] {
		name, value, ok := splitHeader(hc.head[off:lineEnd(hc.head, off)])
		if !ok {
			return ri, errBadRequest
		}
		switch {
		case eq(name, "host"):
			hosts++
			ri.host = value
		case eq(name, "content-length"):
			n, ok := parseLength(value)
			if !ok || ri.cl >= 0 && ri.cl != n {
				return ri, errBadRequest
			}
			ri.cl = n
		case eq(name, "transfer-encoding"):
			if !eqFold(value, "chunked") || ri.chunked {
				return ri, errBadRequest
			}
			ri.chunked = true
		case eq(name, "connection"):
			connTokens = append(connTokens, value)
			for _, tok := range bytes.Split(value, []byte(",")) {
				tok = bytes.TrimSpace(tok)
				switch {
				case eqFold(tok, "close"):
					ri.close = true
				case eqFold(tok, "keep-alive"):
					keepAlive = true
				case eqFold(tok, "upgrade"):
					connUpgrade = true
				}
			}
		case eq(name, "upgrade"):
			upgrade = value
		case eq(name, "expect"):
			ri.expect100 = eqFold(value, "100-continue")
		}
	}
	if ri.chunked && (ri.cl >= 0 || ri.http10) || hosts > 1 || hosts == 0 && !ri.http10 {
		return ri, errBadRequest
	}
	ri.conn = connTokens
	if ri.http10 && keepAlive && !ri.chunked {
		ri.close = false
	}
	if connUpgrade && len(upgrade) > 0 {
		ri.upgrade = upgrade
	}
	return ri, nil
}

// validRequestTarget refuses spaces and control characters in the request
// target, as nginx does: an app in C may end the path at a NUL the proxy
// routed past. Bytes above 0x7f pass (raw UTF-8 paths are common).
func validRequestTarget(t []byte) bool {
	for _, c := range t {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// parseLength accepts a Content-Length of digits only: "+5" or " 5" are
// numbers to some parsers and errors to others.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// namedByConnection reports whether name is listed in a Connection header:
// such a header describes this hop only (RFC 9110 7.6.1).
func namedByConnection(conn [][]byte, name []byte) bool {
	for _, v := range conn {
		for _, tok := range bytes.Split(v, []byte(",")) {
			if tok = bytes.TrimSpace(tok); len(tok) == len(name) && bytes.EqualFold(tok, name) {
				return true
			}
		}
	}
	return false
}

func lineEnd(b []byte, off int) int {
	return off + bytes.IndexByte(b[off:], '\r')
}

// splitHeader splits "Name: value" and rejects what a strict HTTP/1.1
// parser must: no colon, whitespace before it (RFC 9112 5.1), obs-fold,
// control characters.
func splitHeader(line []byte) (name, value []byte, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 || !isToken(line[:i]) {
		return nil, nil, false
	}
	value = bytes.Trim(line[i+1:], " \t")
	for _, c := range value {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return nil, nil, false
		}
	}
	return line[:i], value, true
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte(`"(),/:;<=>?@[\]{}`), c) >= 0 {
			return false
		}
	}
	return true
}

// eq compares a header name with a lower-case name, ignoring case.
func eq(name []byte, lower string) bool { return eqFold(name, lower) }

func eqFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hopByHop are the headers that describe one connection, not the message;
// they are not forwarded (RFC 9110 7.6.1). X-Forwarded-* are berth's to set.
func hopByHop(name []byte) bool {
	switch len(name) {
	case 2:
		return eqFold(name, "te")
	case 7:
		return eqFold(name, "trailer") || eqFold(name, "upgrade")
	case 10:
		return eqFold(name, "connection") || eqFold(name, "keep-alive")
	case 9:
		return eqFold(name, "forwarded") || eqFold(name, "x-real-ip")
	case 15:
		return eqFold(name, "x-forwarded-for")
	case 16:
		return eqFold(name, "proxy-connection") || eqFold(name, "x-forwarded-host")
	case 17:
		return eqFold(name, "x-forwarded-proto")
	}
	return false
}

// mustForward are the headers forwarded even when the client's Connection
// header names them. Content-Length and Transfer-Encoding say where the body
// the proxy forwards ends: without them the app would read that body as the
// next request on the connection (smuggling). Host is what the proxy routed by.
func mustForward(name []byte) bool {
	return eq(name, "content-length") || eq(name, "transfer-encoding") || eq(name, "host")
}

// spoofable headers are those a client could use to pass for one of the
// proxy's own: WSGI, CGI and Rack read "X_Forwarded_For" as
// "X-Forwarded-For". Like nginx, names with an underscore are dropped.
func spoofable(name []byte) bool { return bytes.IndexByte(name, '_') >= 0 }

// sendRequest writes the request head, rewritten for the app, and streams
// the body.
func (hc *h1conn) sendRequest(ri *reqInfo) error {
	up := hc.up
	b := hc.out[:0]
	b = append(b, ri.method...)
	b = append(b, ' ')
	b = append(b, ri.target...)
	b = append(b, " HTTP/1.1\r\n"...)
	for _, off := range hc.lines[1:] {
		end := lineEnd(hc.head, off)
		name, _, _ := splitHeader(hc.head[off:end])
		if hopByHop(name) || spoofable(name) || eq(name, "expect") && ri.expect100 ||
			namedByConnection(ri.conn, name) && !mustForward(name) ||
			ri.http10 && len(ri.host) == 0 && eq(name, "host") {
			continue
		}
		b = append(b, hc.head[off:end+2]...)
	}
	if ri.http10 && len(ri.host) == 0 {
		b = append(b, "Host: "...)
		b = append(b, up.t.name...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "X-Forwarded-For: "...)
	b = append(b, hc.remote...)
	b = append(b, "\r\nX-Real-IP: "...)
	b = append(b, hc.remote...)
	b = append(b, "\r\nX-Forwarded-Proto: http\r\n"...)
	if len(ri.host) > 0 {
		b = append(b, "X-Forwarded-Host: "...)
		b = append(b, ri.host...)
		b = append(b, "\r\n"...)
	}
	if ri.upgrade != nil {
		b = append(b, "Connection: Upgrade\r\nUpgrade: "...)
		b = append(b, ri.upgrade...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	hc.out = b
	if _, err := up.bw.Write(b); err != nil {
		return upstreamWriteErr(err)
	}
	if ri.cl <= 0 && !ri.chunked {
		return upstreamWriteErr(up.bw.Flush())
	}
	// The head goes out at once and the body as it arrives, so an app
	// sees an upload start and a streamed request streams.
	flush := func() error { return upstreamWriteErr(up.bw.Flush()) }
	switch {
	case ri.cl > 0:
		if err := copyBody(up.bw, hc.br, ri.cl, flush); err != nil {
			return requestCopyErr(err)
		}
	case ri.chunked:
		if err := copyChunked(up.bw, hc.br, hc.s.maxBody, false, flush); err != nil {
			if errors.Is(err, errBadRequest) {
				return asClient(err)
			}
			return requestCopyErr(err)
		}
	}
	return upstreamWriteErr(up.bw.Flush())
}

func upstreamWriteErr(err error) error {
	if err != nil && closedErr(err) {
		return errStale
	}
	return err
}

// copyChunked copies a chunked body from r to w, verbatim unless dechunk,
// enforcing limit (> 0) on the data. flush, when set, is called whenever r
// has nothing buffered, so streams (server-sent events) pass unbuffered.
func copyChunked(w *bufio.Writer, r *bufio.Reader, limit int64, dechunk bool, flush func() error) error {
	var total int64
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return srcErr{readErr(err)}
		}
		size, ok := chunkSize(line)
		if !ok {
			return errBadRequest
		}
		if !dechunk {
			if _, err := w.Write(line); err != nil {
				return dstErr{err}
			}
		}
		if size == 0 {
			// Trailers, then the final CRLF, exactly: anything looser lets
			// the two sides disagree on where the message ends.
			trailer := 0
			for {
				tl, err := r.ReadSlice('\n')
				if err != nil {
					return srcErr{readErr(err)}
				}
				n := len(tl)
				trailer += n
				if n < 2 || tl[n-2] != '\r' || bytes.IndexByte(tl[:n-2], '\r') >= 0 || trailer > maxHeadBytes {
					return errBadRequest
				}
				if n > 2 {
					if _, _, ok := splitHeader(tl[:n-2]); !ok {
						return errBadRequest
					}
				}
				if !dechunk {
					if _, err := w.Write(tl); err != nil {
						return dstErr{err}
					}
				}
				if n == 2 {
					if flush != nil {
						if err := flush(); err != nil {
							return dstErr{err}
						}
					}
					return nil
				}
			}
		}
		total += size
		if limit > 0 && total > limit {
			return errTooLarge
		}
		if err := copyBody(w, r, size, flush); err != nil {
			return err
		}
		crlf, err := r.ReadSlice('\n')
		if err != nil {
			return srcErr{readErr(err)}
		}
		if len(crlf) != 2 || crlf[0] != '\r' {
			return errBadRequest
		}
		if !dechunk {
			if _, err := w.Write(crlf); err != nil {
				return dstErr{err}
			}
		}
		if flush != nil && r.Buffered() == 0 {
			if err := flush(); err != nil {
				return dstErr{err}
			}
		}
	}
}

func readErr(err error) error {
	if errors.Is(err, bufio.ErrBufferFull) {
		return errBadRequest
	}
	return err
}

// chunkSize parses "1a;ext=x\r\n".
func chunkSize(line []byte) (int64, bool) {
	n := len(line)
	if n < 3 || line[n-2] != '\r' {
		return 0, false
	}
	hex := line[:n-2]
	// No CR but the last, no control characters in extensions: a bare CR
	// ends the line for some apps and not for others.
	for _, c := range hex {
		if c < ' ' && c != '\t' || c == 0x7f {
			return 0, false
		}
	}
	if i := bytes.IndexByte(hex, ';'); i >= 0 {
		hex = hex[:i]
	}
	hex = bytes.TrimRight(hex, " \t")
	if len(hex) == 0 || len(hex) > 15 {
		return 0, false
	}
	var size int64
	for _, c := range hex {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		size = size<<4 | int64(d)
	}
	return size, true
}

var copyBufs = sync.Pool{New: func() any { return new([32 << 10]byte) }}

// copyBody copies n bytes (n < 0: until EOF) from r to w, calling flush
// before it would wait for more input.
func copyBody(w *bufio.Writer, r *bufio.Reader, n int64, flush func() error) error {
	buf := copyBufs.Get().(*[32 << 10]byte)
	defer copyBufs.Put(buf)
	for n != 0 {
		if flush != nil && r.Buffered() == 0 {
			if err := flush(); err != nil {
				return dstErr{err}
			}
		}
		chunk := buf[:]
		if n > 0 && int64(len(chunk)) > n {
			chunk = chunk[:n]
		}
		k, err := r.Read(chunk)
		if k > 0 {
			if _, werr := w.Write(chunk[:k]); werr != nil {
				return dstErr{werr}
			}
			if n > 0 {
				n -= int64(k)
			}
		}
		if err != nil {
			if n < 0 && errors.Is(err, io.EOF) {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return srcErr{io.ErrUnexpectedEOF}
			}
			return srcErr{err}
		}
	}
	return nil
}

// srcErr and dstErr say which side of a copy failed: the caller knows
// whether that side is the client or the app.
type srcErr struct{ error }
type dstErr struct{ error }

func (e srcErr) Unwrap() error { return e.error }
func (e dstErr) Unwrap() error { return e.error }

// onClientSide maps a copy error from client (src) to app (dst) so that a
// client failure is told apart from an app failure.
func requestCopyErr(err error) error {
	var se srcErr
	if errors.As(err, &se) {
		return asClient(se.error)
	}
	return err
}
