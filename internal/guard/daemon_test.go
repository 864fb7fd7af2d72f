package guard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/policy"
)

// syncBuffer is a log sink the daemon writes from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func socketClient(sock string) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
}

func authz(t *testing.T, c *http.Client, req Request) (Response, error) {
	t.Helper()
	b, _ := json.Marshal(req)
	resp, err := c.Post("http://plugin/AuthZPlugin.AuthZReq", "application/json", bytes.NewReader(b))
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	var r Response
	err = json.NewDecoder(resp.Body).Decode(&r)
	return r, err
}

type runningGuard struct {
	sock   string
	reload chan os.Signal
	log    *syncBuffer
	done   chan error
	cancel context.CancelFunc
}

func startGuard(t *testing.T, load func() (policy.Policy, error)) *runningGuard {
	t.Helper()
	dir, err := os.MkdirTemp("", "bg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	g := &runningGuard{sock: filepath.Join(dir, "berth.sock"), reload: make(chan os.Signal, 1), log: &syncBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	go func() {
		g.done <- Run(ctx, Options{Socket: g.sock, Load: load, Reload: g.reload, Log: slog.New(slog.NewJSONHandler(g.log, nil)), WatchEvery: 50 * time.Millisecond})
	}()
	waitFor(t, func() bool { _, err := os.Stat(g.sock); return err == nil })
	t.Cleanup(func() {
		cancel()
		<-g.done
	})
	return g
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var privilegedReq = createReq(`{"Image":"x:1","HostConfig":{"Privileged":true}}`)

// SIGHUP swaps the policy while requests keep flowing: none fails, and each
// is judged by the old policy or the new one, never by none.
func TestRunReloadWithoutDroppingRequests(t *testing.T) {
	var mode atomic.Value
	mode.Store(policy.Enforce)
	var broken atomic.Bool
	g := startGuard(t, func() (policy.Policy, error) {
		if broken.Load() {
			return policy.Policy{}, errors.New("policy.yaml:3:7: bad")
		}
		p := policy.Default()
		p.Mode = mode.Load().(policy.Mode)
		return p, nil
	})
	c := socketClient(g.sock)
	if r, err := authz(t, c, privilegedReq); err != nil || r.Allow {
		t.Fatalf("before reload: %+v %v", r, err)
	}
	stop := make(chan struct{})
	var failures, allowed, denied atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := authz(t, c, privilegedReq)
				switch {
				case err != nil:
					failures.Add(1)
				case r.Allow:
					allowed.Add(1)
				default:
					denied.Add(1)
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	mode.Store(policy.Warn)
	g.reload <- nil
	waitFor(t, func() bool { return strings.Contains(g.log.String(), "policy reloaded") })
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failures.Load() != 0 || allowed.Load() == 0 || denied.Load() == 0 {
		t.Fatalf("failures=%d allowed=%d denied=%d", failures.Load(), allowed.Load(), denied.Load())
	}
	// A policy that fails to load leaves the last good one in force.
	broken.Store(true)
	mode.Store(policy.Enforce)
	g.reload <- nil
	waitFor(t, func() bool { return strings.Contains(g.log.String(), "previous policy stays in force") })
	if r, err := authz(t, c, privilegedReq); err != nil || !r.Allow {
		t.Fatalf("after a failed reload the warn policy should still apply: %+v %v", r, err)
	}
}

// The socket disappearing (rm -rf /run/docker/plugins, say) is noticed and
// the guard listens again.
func TestRunSocketDisappears(t *testing.T) {
	g := startGuard(t, func() (policy.Policy, error) { return policy.Default(), nil })
	if err := os.Remove(g.sock); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(g.log.String(), "socket disappeared") })
	var r Response
	var err error
	waitFor(t, func() bool {
		r, err = authz(t, socketClient(g.sock), privilegedReq)
		return err == nil
	})
	if r.Allow {
		t.Fatal("privileged allowed after the socket came back")
	}
}

func TestRunRefusesASecondGuardAndClaimsAStaleSocket(t *testing.T) {
	g := startGuard(t, func() (policy.Policy, error) { return policy.Default(), nil })
	err := Run(context.Background(), Options{Socket: g.sock, Load: func() (policy.Policy, error) { return policy.Default(), nil }, Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "already serves") {
		t.Fatalf("second guard on the same socket: %v", err)
	}
	// A stale socket file (a guard that was killed) is taken over.
	dir := t.TempDir()
	stale := filepath.Join(dir, "s.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if err := claimSocket(stale); err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	// A regular file is not ours to remove.
	plain := filepath.Join(dir, "file.sock")
	os.WriteFile(plain, nil, 0o600)
	if err := claimSocket(plain); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("regular file: %v", err)
	}
	// A policy that does not load stops the guard before it listens.
	err = Run(context.Background(), Options{Socket: filepath.Join(dir, "x.sock"), Load: func() (policy.Policy, error) { return policy.Policy{}, fmt.Errorf("policy.yaml:1:1: bad") }, Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "policy.yaml:1:1") {
		t.Fatalf("bad policy: %v", err)
	}
}
