package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"
)

// respInfo is what the proxy needs to know about a response head.
type respInfo struct {
	status  int
	cl      int64 // -1: none
	chunked bool
	close   bool
	upgrade []byte
}

// readRespHead reads a response head from the app into buf and returns the
// header line offsets.
func readRespHead(r *bufio.Reader, buf []byte, lines []int) ([]byte, []int, respInfo, error) {
	ri := respInfo{cl: -1}
	buf, lines = buf[:0], lines[:0]
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				err = errors.New("response head too large")
			}
			return buf, lines, ri, err
		}
		if len(buf)+len(line) > maxHeadBytes {
			return buf, lines, ri, errors.New("response head too large")
		}
		n := len(line)
		if n < 2 || line[n-2] != '\r' || bytes.IndexByte(line[:n-2], '\r') >= 0 {
			return buf, lines, ri, errors.New("malformed response head")
		}
		if n == 2 && len(buf) > 0 {
			break
		}
		lines = append(lines, len(buf))
		buf = append(buf, line...)
	}
	sl := buf[:lineEnd(buf, 0)]
	if len(sl) < 12 || !bytes.HasPrefix(sl, []byte("HTTP/1.")) || sl[8] != ' ' {
		return buf, lines, ri, errors.New("malformed status line")
	}
	code, err := strconv.Atoi(string(sl[9:12]))
	if err != nil || code < 100 || code > 999 {
		return buf, lines, ri, errors.New("malformed status line")
	}
	ri.status = code
	te := false
	if sl[7] == '0' {
		ri.close = true
	}
	for _, off := range lines[1:] {
		name, value, ok := splitHeader(buf[off:lineEnd(buf, off)])
		if !ok {
			return buf, lines, ri, errors.New("malformed response header")
		}
		switch {
		case eq(name, "content-length"):
			n, ok := parseLength(value)
			if !ok || ri.cl >= 0 && ri.cl != n {
				return buf, lines, ri, errors.New("bad Content-Length in response")
			}
			ri.cl = n
		case eq(name, "transfer-encoding"):
			// Only a final "chunked" frames the body; any other coding
			// means the body runs until the connection closes.
			te = true
			ri.chunked = bytes.HasSuffix(bytes.ToLower(bytes.TrimSpace(value)), []byte("chunked"))
		case eq(name, "connection"):
			for _, tok := range bytes.Split(value, []byte(",")) {
				tok = bytes.TrimSpace(tok)
				if eqFold(tok, "close") {
					ri.close = true
				} else if eqFold(tok, "keep-alive") && sl[7] == '0' {
					ri.close = false
				}
			}
		case eq(name, "upgrade"):
			ri.upgrade = value
		}
	}
	if te {
		ri.cl = -1 // Transfer-Encoding wins over Content-Length (RFC 9112 6.3)
	}
	return buf, lines, ri, nil
}

// relayResponse reads the app's answer and sends it to the client.
// answered reports whether any of it reached the client, after which a
// failure can no longer become a 502 page.
func (hc *h1conn) relayResponse(lg *logEntry, rq *reqInfo) (keep, answered bool, err error) {
	up := hc.up
	var rs respInfo
	hc.beginWait(rq.cl <= 0 && !rq.chunked && rq.upgrade == nil)
	for {
		hc.rhead, hc.rlines, rs, err = readRespHead(up.br, hc.rhead, hc.rlines)
		if err != nil {
			hc.endWait()
			if hc.clientGone.Load() {
				return false, false, errClientGone
			}
			if len(hc.rhead) == 0 && up.br.Buffered() == 0 && closedErr(err) {
				return false, false, errStale
			}
			return false, false, err
		}
		if rs.status >= 200 || rs.status == 101 {
			hc.endWait()
			break
		}
		if rs.status == 100 {
			continue // the client got its 100 Continue from us, or never asked
		}
		// Other interim answers (103 Early Hints) go through at once, to
		// clients that understand them.
		if !rq.http10 {
			hc.bw.Write(hc.rhead)
			hc.bw.WriteString("\r\n")
			if err := hc.bw.Flush(); err != nil {
				return false, true, asClient(err)
			}
		}
	}
	noBody := rq.method != nil && string(rq.method) == "HEAD" || rs.status == 204 || rs.status == 304 || rs.status == 101
	closeDelimited := !noBody && !rs.chunked && rs.cl < 0
	dechunk := rs.chunked && rq.http10
	clientClose := rq.close || closeDelimited || dechunk || rs.status == 101 && rq.upgrade == nil

	b := hc.out[:0]
	b = append(b, "HTTP/1.1"...)
	b = append(b, hc.rhead[8:lineEnd(hc.rhead, 0)+2]...)
	for _, off := range hc.rlines[1:] {
		end := lineEnd(hc.rhead, off)
		name, _, _ := splitHeader(hc.rhead[off:end])
		if hopByHop(name) && !eq(name, "x-forwarded-for") && !eq(name, "x-forwarded-host") && !eq(name, "x-forwarded-proto") && !eq(name, "forwarded") && !eq(name, "x-real-ip") ||
			dechunk && eq(name, "transfer-encoding") {
			continue
		}
		b = append(b, hc.rhead[off:end+2]...)
	}
	switch {
	case rs.status == 101:
		b = append(b, "Connection: Upgrade\r\nUpgrade: "...)
		b = append(b, rs.upgrade...)
		b = append(b, "\r\n"...)
	case clientClose:
		b = append(b, "Connection: close\r\n"...)
	case rq.http10:
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	b = append(b, "\r\n"...)
	hc.out = b
	lg.status = rs.status
	if _, err := hc.bw.Write(b); err != nil {
		return false, true, asClient(err)
	}
	if rs.status == 101 {
		if err := hc.bw.Flush(); err != nil {
			return false, true, asClient(err)
		}
		hc.tunnel()
		return false, true, nil
	}
	before := hc.cw.n + int64(hc.bw.Buffered())
	flush := hc.bw.Flush
	switch {
	case noBody:
	case rs.chunked:
		err = copyChunked(hc.bw, up.br, 0, dechunk, flush)
	case rs.cl >= 0:
		err = copyBody(hc.bw, up.br, rs.cl, flush)
	default:
		err = copyBody(hc.bw, up.br, -1, flush)
	}
	if err == nil {
		err = hc.bw.Flush()
		if err != nil {
			err = dstErr{err}
		}
	}
	lg.bytes = hc.cw.n + int64(hc.bw.Buffered()) - before
	if err != nil {
		var de dstErr
		if errors.As(err, &de) {
			return false, true, asClient(de.error)
		}
		return false, true, err
	}
	if rs.close || closeDelimited {
		hc.dropUpstream()
	} else {
		up.idleSince = time.Now()
	}
	return !clientClose, true, nil
}

// tunnel joins the client and the app after a protocol switch (WebSocket)
// until either side is done. The request stays in flight meanwhile, so a
// drain waits for it and a drain's cancel ends it.
func (hc *h1conn) tunnel() {
	up := hc.up
	hc.up = nil
	// A tunnel is quiet as long as its peers are: no deadline from the
	// HTTP exchange may cut it.
	hc.c.SetDeadline(time.Time{})
	up.c.SetDeadline(time.Time{})
	defer func() {
		up.c.Close()
		up.br.Reset(nil)
		readers.Put(up.br)
		up.bw.Reset(nil)
		writers.Put(up.bw)
	}()
	done := make(chan struct{}, 2)
	go func() {
		// Bytes the client sent right after its request are in hc.br.
		io.Copy(up.c, hc.br)
		if cw, ok := up.c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else if tc, ok := up.c.(*trackedConn); ok {
			if cw, ok := tc.Conn.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
		}
		done <- struct{}{}
	}()
	go func() {
		io.Copy(hc.c, up.br)
		if tc, ok := hc.c.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}()
	<-done
	// One side ended: give the other a moment to finish its last bytes,
	// then close both so neither copy outlives the exchange.
	select {
	case <-done:
	case <-time.After(time.Second):
		hc.c.Close()
		up.c.Close()
		<-done
	}
}

// closedErr tells a connection the peer had closed (or reset) from other
// failures.
func closedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
