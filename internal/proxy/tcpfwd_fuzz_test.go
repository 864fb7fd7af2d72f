package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// FuzzForwardRelay: whatever a client sends through the forwarder, in
// whatever pieces, reaches the serving release byte for byte, and what the
// release answers reaches the client byte for byte; a half-close goes
// through as a half-close. The forwarder never reads the stream, so any
// change at all is a bug.
//
//	go test -run XXX -fuzz FuzzForwardRelay -fuzztime 2m ./internal/proxy/
func FuzzForwardRelay(f *testing.F) {
	for _, seed := range [][]byte{
		nil,
		[]byte("\x00"),
		[]byte("PING\r\n"),
		[]byte("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
		bytes.Repeat([]byte{0xff, 0x00, '\n'}, 40000), // larger than one relay buffer
	} {
		f.Add(seed, uint16(1))
		f.Add(seed, uint16(7))
	}
	backend := halfCloseEcho(f)
	var fw *Forwarder
	var tcpAddr net.Addr
	f.Fuzz(func(t *testing.T, data []byte, piece uint16) {
		if fw == nil {
			fw, tcpAddr, _ = startForwarder(t, filepath.Join(t.TempDir(), "state.json"), map[string]net.Addr{"rel": backend}, map[string]net.Addr{})
			if _, err := fw.SetTargets([]string{"rel"}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { fw = nil })
		}
		c, err := net.Dial("tcp", tcpAddr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		got := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(c)
			got <- b
		}()
		n := int(piece%4096) + 1
		for rest := data; len(rest) > 0; {
			k := min(n, len(rest))
			if _, err := c.Write(rest[:k]); err != nil {
				t.Fatalf("write: %v", err)
			}
			rest = rest[k:]
		}
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		if b := <-got; !bytes.Equal(b, data) {
			t.Fatalf("sent %d bytes, the echo through the forwarder returned %d that differ", len(data), len(b))
		}
	})
}

// halfCloseEcho is a release that echoes every connection until the client
// half-closes, then half-closes too.
func halfCloseEcho(tb testing.TB) net.Addr {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
				_ = c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return ln.Addr()
}

// FuzzForwardState: a state file the forwarder accepts names only targets
// it can dial (a name or address, no port, no path), and writing them back
// reads back the same; anything else is refused with the file named.
func FuzzForwardState(f *testing.F) {
	for _, seed := range []string{
		`{"version":1,"targets":["shop-web-1"]}`,
		`{"version":1,"targets":["shop-web-1","shop-web-1-r2"]}`,
		`{"version":1,"targets":[]}`,
		`{"version":2,"targets":["a"]}`,
		`{"version":1,"targets":["a:80"]}`,
		`{"version":1,"targets":[""]}`,
		`{"version":1,"targets":"a"}`,
		`not json`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		targets, err := loadForwardState(path)
		if err != nil {
			if !bytes.Contains([]byte(err.Error()), []byte(path)) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, tg := range targets {
			if _, _, err := net.SplitHostPort(tg); err == nil {
				t.Fatalf("accepted a target with a port: %q", tg)
			}
			if err := validTargetHost(tg); err != nil {
				t.Fatalf("accepted an invalid target %q: %v", tg, err)
			}
		}
		if err := saveForwardState(path, targets); err != nil {
			t.Fatal(err)
		}
		again, err := loadForwardState(path)
		if err != nil || !slices.Equal(again, targets) {
			t.Fatalf("round trip: %q, %v; want %q", again, err, targets)
		}
	})
}

// FuzzParseListener: a listener the forwarder accepts has ports in range
// and prints as a spec that parses back to the same listener.
func FuzzParseListener(f *testing.F) {
	for _, seed := range []string{"tcp/5432", "udp/5353:53", "tcp/0", "tcp/65536", "sctp/1", "tcp/+80", "tcp/80:", "udp/1:65535", "tcp/08"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseListener(s)
		if err != nil {
			return
		}
		if l.Port < 1 || l.Port > 65535 || l.TargetPort < 1 || l.TargetPort > 65535 || (l.Proto != "tcp" && l.Proto != "udp") {
			t.Fatalf("accepted %q as %+v", s, l)
		}
		again, err := ParseListener(fmt.Sprintf("%s/%d:%d", l.Proto, l.Port, l.TargetPort))
		if err != nil || again != l {
			t.Fatalf("%q -> %+v prints back as %+v, %v", s, l, again, err)
		}
		if _, err := json.Marshal(l); err != nil {
			t.Fatal(err)
		}
	})
}
