package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
)

// Fuzz targets for the HTTP/1.1 engine's parsing, where request smuggling
// lives. Each checks invariants, not only the absence of a panic: what the
// proxy accepts is framed unambiguously, means the same once re-serialised,
// and reaches the app (as net/http reads it) as exactly one request with the
// body the proxy read. `go test` runs the seeds and testdata/fuzz; see
// docs/testing.md for running them with -fuzz.

// fuzzMaxInput keeps each execution cheap: a head is at most maxHeadBytes.
const fuzzMaxInput = maxHeadBytes + 16<<10

// fuzzRequestSeeds are the heads the proxy's tests already send, refused
// (smuggling, bad syntax) and accepted (bodies, upgrades, HTTP/1.0).
var fuzzRequestSeeds = []string{
	// TestRequestSmugglingRefused
	"POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
	"POST / HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: gzip\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: shop.test\r\nContent-Length : 0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: shop.test\r\nX-A: 1\r\n  folded\r\n\r\n",
	"GET / HTTP/1.1\nHost: shop.test\n\n",
	"GET / HTTP/1.1\r\nHost: shop.test\r\nHost: evil.test\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
	// TestForwardingHardening
	"POST / HTTP/1.1\r\nHost: down.test\r\nContent-Length: 44\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: shop.test\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: shop.test\r\nFoo: a\rX\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nx\nGET /second HTTP/1.1\r\nHost: shop.test\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: +3\r\n\r\nabc",
	"POST / HTTP/1.0\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: shop.test:@evil.example\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: shop.test\r\nX_Forwarded_For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nX-Hop: 6.6.6.6\r\nConnection: close, X-Hop\r\n\r\n",
	"POST /charge HTTP/1.1\r\nHost: pay.test\r\nContent-Length: 0\r\n\r\n",
	// TestWireBehaviour and TestSlowAnswerKeepsConnection
	"GET /a HTTP/1.1\r\nHost: shop.test\r\n\r\nGET /b HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n",
	"POST /up HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: shop.test\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz",
	"GET / HTTP/1.1\r\nHost: shop.test\r\nX-Forwarded-For: 6.6.6.6\r\nConnection: close, X-Secret\r\nKeep-Alive: 5\r\n\r\n",
	"GET / HTTP/1.0\r\nHost: stream.test\r\n\r\n",
	"GET / HTTP/1.0\r\n\r\n",
	"HEAD / HTTP/1.1\r\nHost: nc.test\r\n\r\n",
	"\r\n\r\nGET /slow HTTP/1.1\r\nHost: shop.test\r\n\r\n",
	// stream_test.go
	"GET /ws HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
	// Several requests with bodies on one connection.
	"POST /a HTTP/1.0\r\nHost: shop.test\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabcPOST /b HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\nT: 1\r\n\r\nGET /c HTTP/1.1\r\nHost: shop.test\r\n\r\n",
	// Found by the fuzzers or while writing them (see h1_fuzz_regress_test.go).
	"POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 5\r\nConnection: Content-Length\r\n\r\nabcde",
	"POST / HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, transfer-encoding\r\n\r\n1\r\na\r\n0\r\n\r\n",
	"GET /a\x00b HTTP/1.1\r\nHost: shop.test\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n1;a\rb\r\nx\r\n0\r\n\r\n",
}

// fuzzConn is a client connection that delivers data.
func fuzzConn(data []byte) (*h1conn, *bytes.Reader) {
	src := bytes.NewReader(data)
	hc := &h1conn{s: &Server{maxBody: 1 << 20}, remote: "192.0.2.1"}
	hc.br = bufio.NewReaderSize(src, bufSize)
	return hc, src
}

// FuzzRequestHead feeds a client's bytes to readHead and, for what it
// accepts, checks the head against the raw bytes, re-serialises it, and
// forwards it as the app would receive it.
func FuzzRequestHead(f *testing.F) {
	for _, s := range fuzzRequestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzMaxInput {
			return
		}
		hc, src := fuzzConn(data)
		consumed := func() int { return len(data) - src.Len() - hc.br.Buffered() }
		// Several requests on one connection: the buffers readHead reuses
		// must not carry anything from one request to the next.
		for range 4 {
			start := consumed()
			ri, err := hc.readHead()
			if err != nil {
				if !errors.Is(err, errBadRequest) && !errors.Is(err, errHeadTooBig) && err != io.EOF {
					t.Fatalf("readHead: unexpected error %v", err)
				}
				return
			}
			headEnd := consumed()
			checkAcceptedHead(t, data[start:headEnd], &ri)

			// A head in canonical form reads back as the same request.
			canon := canonicalHead(hc, &ri)
			hc2, _ := fuzzConn(canon)
			ri2, err := hc2.readHead()
			if err != nil {
				t.Fatalf("the canonical form of an accepted head is refused (%v):\n%q\nfrom\n%q", err, canon, data[start:headEnd])
			}
			if d := diffReqInfo(&ri, &ri2, true); d != "" {
				t.Fatalf("the canonical form reads differently: %s\n%q\nfrom\n%q", d, canon, data[start:headEnd])
			}

			bodyLen, ok := checkForwarded(t, hc, &ri, data[headEnd:])
			if !ok {
				return
			}
			if got := consumed() - headEnd; got != bodyLen {
				t.Fatalf("the proxy read %d bytes of body, the message has %d: the next request would start in the wrong place\n%q", got, bodyLen, data[start:])
			}
		}
	})
}

// checkAcceptedHead re-derives, from the raw bytes and independently of
// readHead, what makes a head unambiguous, and compares it with ri.
func checkAcceptedHead(t *testing.T, head []byte, ri *reqInfo) {
	t.Helper()
	for len(head) >= 2 && head[0] == '\r' && head[1] == '\n' {
		head = head[2:]
	}
	if !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		t.Fatalf("accepted a head that does not end with an empty line: %q", head)
	}
	for i, c := range head {
		if c == '\n' && (i == 0 || head[i-1] != '\r') || c == '\r' && (i+1 == len(head) || head[i+1] != '\n') {
			t.Fatalf("accepted a bare CR or LF at byte %d: %q", i, head)
		}
	}
	lines := bytes.Split(head[:len(head)-4], []byte("\r\n"))
	parts := bytes.Split(lines[0], []byte(" "))
	if len(parts) != 3 {
		t.Fatalf("accepted a request line without exactly two spaces: %q", lines[0])
	}
	method, target, version := parts[0], parts[1], string(parts[2])
	if !bytes.Equal(method, ri.method) || !bytes.Equal(target, ri.target) || ri.http10 != (version == "HTTP/1.0") {
		t.Fatalf("request line %q read as method %q target %q http10 %v", lines[0], ri.method, ri.target, ri.http10)
	}
	if version != "HTTP/1.1" && version != "HTTP/1.0" {
		t.Fatalf("accepted version %q", version)
	}
	for _, c := range method {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte(`"(),/:;<=>?@[\]{}`), c) >= 0 {
			t.Fatalf("accepted method %q", method)
		}
	}
	if len(target) == 0 || bytes.ContainsFunc(target, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		t.Fatalf("accepted request target %q: empty or with a control character", target)
	}
	var lengths, encodings [][]byte
	hosts := 0
	for _, l := range lines[1:] {
		if len(l) == 0 || l[0] == ' ' || l[0] == '\t' {
			t.Fatalf("accepted an empty or folded header line %q", l)
		}
		name, value, ok := bytes.Cut(l, []byte(":"))
		if !ok || bytes.ContainsAny(name, " \t") {
			t.Fatalf("accepted header line %q", l)
		}
		value = bytes.Trim(value, " \t")
		switch string(bytes.ToLower(name)) {
		case "content-length":
			lengths = append(lengths, value)
		case "transfer-encoding":
			encodings = append(encodings, value)
		case "host":
			hosts++
		}
	}
	if len(encodings) > 0 {
		if len(lengths) > 0 || len(encodings) > 1 || !bytes.EqualFold(encodings[0], []byte("chunked")) || ri.http10 {
			t.Fatalf("accepted Transfer-Encoding %q with Content-Length %q on HTTP/1.0=%v", encodings, lengths, ri.http10)
		}
	}
	cl := int64(-1)
	for _, v := range lengths {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || v[0] < '0' || v[0] > '9' || cl >= 0 && n != cl {
			t.Fatalf("accepted Content-Length %q", lengths)
		}
		cl = n
	}
	if ri.cl != cl || ri.chunked != (len(encodings) == 1) {
		t.Fatalf("headers give length %d chunked %v; read as %d, %v", cl, len(encodings) == 1, ri.cl, ri.chunked)
	}
	if hosts > 1 || hosts == 0 && !ri.http10 {
		t.Fatalf("accepted %d Host headers on HTTP/1.0=%v", hosts, ri.http10)
	}
}

// canonicalHead writes ri's request line and hc's header lines in the
// plainest form: "Name: value", no optional whitespace, no leading CRLF.
func canonicalHead(hc *h1conn, ri *reqInfo) []byte {
	var b []byte
	b = append(b, ri.method...)
	b = append(b, ' ')
	b = append(b, ri.target...)
	if ri.http10 {
		b = append(b, " HTTP/1.0\r\n"...)
	} else {
		b = append(b, " HTTP/1.1\r\n"...)
	}
	for _, off := range hc.lines[1:] {
		name, value, _ := splitHeader(hc.head[off:lineEnd(hc.head, off)])
		b = append(b, name...)
		b = append(b, ": "...)
		b = append(b, value...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// diffReqInfo names the first field in which a and b differ; full compares
// the fields a re-serialisation must keep, not only the framing.
func diffReqInfo(a, b *reqInfo, full bool) string {
	switch {
	case !bytes.Equal(a.method, b.method):
		return "method"
	case !bytes.Equal(a.target, b.target):
		return "target"
	case a.cl != b.cl:
		return "Content-Length " + strconv.FormatInt(a.cl, 10) + " vs " + strconv.FormatInt(b.cl, 10)
	case a.chunked != b.chunked:
		return "chunked"
	case !full:
		return ""
	case a.http10 != b.http10:
		return "version"
	case !bytes.Equal(a.host, b.host):
		return "host"
	case a.close != b.close:
		return "close"
	case !bytes.Equal(a.upgrade, b.upgrade):
		return "upgrade"
	case a.expect100 != b.expect100:
		return "expect"
	}
	return ""
}

// checkForwarded sends the accepted request as the proxy would, then reads
// what the app receives with the proxy's parser and with net/http's: the
// same framing, the same body, and nothing after it that could pass for a
// second request. It returns the length of the body as the client sent it,
// and false when the proxy refused the body (the connection then ends).
func checkForwarded(t *testing.T, hc *h1conn, ri *reqInfo, rest []byte) (int, bool) {
	t.Helper()
	var sent bytes.Buffer
	hc.up = &upConn{t: &target{name: "app:8080"}, bw: bufio.NewWriter(&sent)}
	if err := hc.sendRequest(ri); err != nil {
		if !errors.Is(err, errClient) && !errors.Is(err, errTooLarge) {
			t.Fatalf("forwarding to a buffer failed on the app's side: %v", err)
		}
		return 0, false // a short or malformed body: the client gets 400 and the app a cut request
	}
	fwd := sent.Bytes()
	want, n := rest[:0:0], 0
	switch {
	case ri.chunked:
		ref := refChunked(rest, hc.s.maxBody)
		if ref.outcome != refOK {
			t.Fatalf("forwarded a chunked body the reference refuses: %q", rest)
		}
		want, n = ref.body, ref.n
	case ri.cl > 0:
		want, n = rest[:ri.cl], int(ri.cl)
	}

	hc2, _ := fuzzConn(fwd)
	ri2, err := hc2.readHead()
	if err != nil {
		t.Fatalf("the proxy refuses what it forwarded (%v):\n%q", err, fwd)
	}
	if d := diffReqInfo(ri, &ri2, false); d != "" {
		t.Fatalf("the forwarded head reads differently (%s):\n%q", d, fwd)
	}

	br := bufio.NewReader(bytes.NewReader(fwd))
	req, err := http.ReadRequest(br)
	if err != nil {
		return n, true // net/http refuses it: the app answers 400, nothing is smuggled
	}
	if chunked := len(req.TransferEncoding) > 0; chunked != ri.chunked || !chunked && req.ContentLength != max(ri.cl, 0) {
		t.Fatalf("net/http reads the forwarded request as length %d, encodings %q; the proxy read length %d, chunked %v:\n%q",
			req.ContentLength, req.TransferEncoding, ri.cl, ri.chunked, fwd)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatalf("net/http cannot read the body the proxy forwarded (%v):\n%q", err, fwd)
	}
	if !bytes.Equal(body, want) {
		t.Fatalf("the app reads body %q; the client sent %q:\n%q", body, want, fwd)
	}
	if br.Buffered() > 0 {
		left, _ := br.Peek(br.Buffered())
		t.Fatalf("after the forwarded request the app has %q left to read as another request:\n%q", left, fwd)
	}
	return n, true
}
