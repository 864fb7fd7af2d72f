// Command tcpload measures a TCP path for berth's benchmarks: connections
// per second (connect, read the greeting, close), throughput (bytes echoed
// through one connection each), and failed connection attempts. It is also
// the echo server those runs go through, so a FROM scratch image of this one
// binary is the backend, with nothing pulled.
//
//	tcpload echo   -listen :9000
//	tcpload conns  -addr 127.0.0.1:9000 -c 32 -d 10s
//	tcpload stream -addr 127.0.0.1:9000 -c 4 -d 10s
//	tcpload watch  -addr 127.0.0.1:7007 -c 4 -until FILE   (counts failures until FILE exists)
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	Mode        string  `json:"mode"`
	Addr        string  `json:"addr"`
	Seconds     float64 `json:"seconds"`
	Conns       int64   `json:"conns"`
	Failed      int64   `json:"failed"`
	ConnsPerSec float64 `json:"conns_per_sec,omitempty"`
	MBPerSec    float64 `json:"mb_per_sec,omitempty"`
	FirstError  string  `json:"first_error,omitempty"`
}

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: tcpload echo|conns|stream|watch [flags]")
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	listen := fs.String("listen", ":9000", "echo: address to listen on")
	addr := fs.String("addr", "127.0.0.1:9000", "address to load")
	conc := fs.Int("c", 16, "concurrent clients")
	dur := fs.Duration("d", 10*time.Second, "duration (conns, stream)")
	until := fs.String("until", "", "watch: stop when this file exists")
	limit := fs.Duration("max", 5*time.Minute, "watch: stop after this long in any case")
	_ = fs.Parse(os.Args[2:])
	switch mode {
	case "echo":
		log.Fatal(echo(*listen))
	case "conns", "stream", "watch":
		r := run(mode, *addr, *conc, *dur, *until, *limit)
		_ = json.NewEncoder(os.Stdout).Encode(r)
	default:
		log.Fatalf("unknown mode %q", mode)
	}
}

// echo greets each connection with one line, then echoes what it reads.
func echo(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	greeting := fmt.Sprintf("tcpload %s\n", os.Getenv("VERSION"))
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			if _, err := io.WriteString(c, greeting); err != nil {
				return
			}
			_, _ = io.Copy(c, c)
		}()
	}
}

func run(mode, addr string, conc int, dur time.Duration, until string, limit time.Duration) result {
	var conns, failed, bytes atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		failed.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	stop := make(chan struct{})
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					fail(err)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				if _, err := br.ReadString('\n'); err != nil {
					fail(err)
					c.Close()
					continue
				}
				if mode == "stream" {
					_ = c.SetDeadline(time.Time{})
					streamOne(c, br, buf, stop, &bytes, fail)
				}
				c.Close()
				conns.Add(1)
			}
		}()
	}
	if mode == "watch" {
		deadline := time.Now().Add(limit)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(until); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	} else {
		time.Sleep(dur)
	}
	close(stop)
	wg.Wait()
	secs := time.Since(start).Seconds()
	r := result{Mode: mode, Addr: addr, Seconds: secs, Conns: conns.Load(), Failed: failed.Load()}
	if s, ok := firstErr.Load().(string); ok {
		r.FirstError = s
	}
	if mode == "stream" {
		r.MBPerSec = float64(bytes.Load()) / secs / 1e6
	} else {
		r.ConnsPerSec = float64(r.Conns) / secs
	}
	return r
}

// streamOne writes and reads back 64 KiB blocks until stopped, counting
// the bytes that made the round trip.
func streamOne(c net.Conn, br *bufio.Reader, buf []byte, stop chan struct{}, n *atomic.Int64, fail func(error)) {
	in := make([]byte, len(buf))
	for {
		select {
		case <-stop:
			return
		default:
		}
		if _, err := c.Write(buf); err != nil {
			fail(err)
			return
		}
		if _, err := io.ReadFull(br, in); err != nil {
			fail(err)
			return
		}
		n.Add(int64(len(buf)))
	}
}
