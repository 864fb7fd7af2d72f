package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"testing"
)

// fuzzChunkedSeeds are the chunked bodies the proxy's tests send, good and
// bad, and the shapes that smuggling research plays with.
var fuzzChunkedSeeds = []string{
	"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n",
	"0\r\n\r\n",
	"0\r\n\r\nGET /second HTTP/1.1\r\nHost: shop.test\r\n\r\n",
	"zz\r\nabc\r\n0\r\n\r\n",
	"0\r\nx\nGET /second HTTP/1.1\r\nHost: shop.test\r\n\r\n",
	"1\r\na\r\n0\r\n\r\n",
	"A\r\n0123456789\r\n000\r\n\r\n",
	"5 \r\nabcde\r\n0\r\n\r\n",
	"5\t;a=b\r\nabcde\r\n0;last\r\n\r\n",
	"5\nabcde\r\n0\r\n\r\n",
	"5\r\nabcdeXX\r\n0\r\n\r\n",
	"0x5\r\nabcde\r\n0\r\n\r\n",
	"-1\r\na\r\n0\r\n\r\n",
	"fffffffffffffff\r\nabc",
	"10000000000000000\r\n",
	"0\r\nX-A: 1\r\n folded\r\n\r\n",
	"0\r\nBad Name: 1\r\n\r\n",
	"41\r\n" + "0123456789012345678901234567890123456789012345678901234567890123" + "4\r\n0\r\n\r\n",
	// Found by the fuzzers or while writing them (see h1_fuzz_regress_test.go).
	"1;a\rb\r\nx\r\n0\r\n\r\n",
	"1;a\x00\r\nx\r\n0\r\n\r\n",
}

// fuzzBodyLimit is a small limit so that the fuzzer reaches the refusal of
// a body too large.
const fuzzBodyLimit = 64

// FuzzChunkedBody compares copyChunked with refChunked, a decoder written
// from RFC 9112 7.1 for this test: on every input the same verdict; where
// both accept, verbatim mode passes exactly the message's bytes and leaves
// the rest unread, and dechunk mode yields exactly the data.
func FuzzChunkedBody(f *testing.F) {
	for _, s := range fuzzChunkedSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzMaxInput {
			return
		}
		for _, limit := range []int64{0, fuzzBodyLimit} {
			ref := refChunked(data, limit)
			for _, dechunk := range []bool{false, true} {
				var out bytes.Buffer
				w := bufio.NewWriter(&out)
				src := bytes.NewReader(data)
				r := bufio.NewReaderSize(src, bufSize)
				err := copyChunked(w, r, limit, dechunk, nil)
				w.Flush()
				switch ref.outcome {
				case refOK:
					if err != nil {
						t.Fatalf("limit %d dechunk %v: refused (%v) a body the reference accepts: %q", limit, dechunk, err, data)
					}
					want := data[:ref.n]
					if dechunk {
						want = ref.body
					}
					if !bytes.Equal(out.Bytes(), want) {
						t.Fatalf("limit %d dechunk %v: wrote %q, want %q, from %q", limit, dechunk, out.Bytes(), want, data)
					}
					if unread := src.Len() + r.Buffered(); unread != len(data)-ref.n {
						t.Fatalf("limit %d: %d bytes left unread after the body, want %d: %q", limit, unread, len(data)-ref.n, data)
					}
				case refTooLarge:
					if !errors.Is(err, errTooLarge) {
						t.Fatalf("limit %d dechunk %v: got %v for a body over the limit, want errTooLarge: %q", limit, dechunk, err, data)
					}
				default:
					if err == nil {
						t.Fatalf("limit %d dechunk %v: accepted a body the reference refuses: %q (wrote %q)", limit, dechunk, data, out.Bytes())
					}
				}
			}
		}
	})
}

const (
	refOK = iota
	refBad
	refTooLarge
)

type refResult struct {
	outcome int
	body    []byte // the data, de-chunked
	n       int    // bytes the message takes, trailers included
}

// refChunked decodes a chunked body from RFC 9112 7.1, in the proxy's
// strict reading: every line ends CRLF with no other CR, a chunk size is 1
// to 15 hex digits (optional whitespace, then optional ";" extensions with
// no control characters), trailers are header fields; a line is at most
// bufSize bytes and the trailers at most maxHeadBytes. limit > 0 bounds the
// data, checked at each chunk's size as the proxy does before reading it.
func refChunked(data []byte, limit int64) refResult {
	pos := 0
	line := func() ([]byte, bool) {
		i := bytes.IndexByte(data[pos:], '\n')
		if i < 0 || i+1 > bufSize || i == 0 || data[pos+i-1] != '\r' {
			return nil, false
		}
		l := data[pos : pos+i-1]
		if bytes.IndexByte(l, '\r') >= 0 {
			return nil, false
		}
		pos += i + 1
		return l, true
	}
	var body []byte
	var total int64
	for {
		l, ok := line()
		if !ok {
			return refResult{outcome: refBad}
		}
		size, ok := refChunkSize(l)
		if !ok {
			return refResult{outcome: refBad}
		}
		if size == 0 {
			trailers := 0
			for {
				start := pos
				l, ok := line()
				if !ok {
					return refResult{outcome: refBad}
				}
				if trailers += pos - start; trailers > maxHeadBytes {
					return refResult{outcome: refBad}
				}
				if len(l) == 0 {
					return refResult{outcome: refOK, body: body, n: pos}
				}
				if !refField(l) {
					return refResult{outcome: refBad}
				}
			}
		}
		total += size
		if limit > 0 && total > limit {
			return refResult{outcome: refTooLarge}
		}
		if int64(len(data)-pos) < size+2 || !bytes.Equal(data[pos+int(size):pos+int(size)+2], []byte("\r\n")) {
			return refResult{outcome: refBad}
		}
		body = append(body, data[pos:pos+int(size)]...)
		pos += int(size) + 2
	}
}

func refChunkSize(l []byte) (int64, bool) {
	digits := 0
	var size int64
	for digits < len(l) && isHex(l[digits]) {
		d, _ := hexVal(l[digits])
		size = size<<4 | int64(d)
		digits++
	}
	if digits == 0 || digits > 15 {
		return 0, false
	}
	rest := bytes.TrimLeft(l[digits:], " \t")
	if len(rest) > 0 && rest[0] != ';' {
		return 0, false
	}
	for _, c := range rest {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return 0, false
		}
	}
	return size, true
}

func isHex(c byte) bool { _, ok := hexVal(c); return ok }

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// refField: token ":" value, the value free of control characters but tab.
func refField(l []byte) bool {
	name, value, ok := bytes.Cut(l, []byte(":"))
	if !ok || len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte(`"(),/:;<=>?@[\]{}`), c) >= 0 {
			return false
		}
	}
	for _, c := range value {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
