package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineBackend is a real TCP server that answers each line with its name,
// so a test sees which target a connection reached.
type lineBackend struct {
	name string
	ln   net.Listener
	wg   sync.WaitGroup
}

func newLineBackend(t *testing.T, name string) *lineBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &lineBackend{name: name, ln: ln}
	b.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.wg.Go(func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					fmt.Fprintf(c, "%s %s\n", b.name, sc.Text())
				}
			})
		}
	})
	t.Cleanup(func() { ln.Close() })
	return b
}

// udpEchoBackend answers each datagram with its name.
func udpEchoBackend(t *testing.T, name string) net.Addr {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(name+" "+string(buf[:n])), from)
		}
	}()
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr()
}

// startForwarder serves a forwarder whose targets are names resolved to
// the given addresses, one TCP and one UDP listener on loopback.
func startForwarder(t *testing.T, state string, tcp map[string]net.Addr, udp map[string]net.Addr) (*Forwarder, net.Addr, net.Addr) {
	t.Helper()
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		m := tcp
		if network == "udp" {
			m = udp
		}
		a, ok := m[host]
		if !ok {
			return nil, fmt.Errorf("dial %s %s: no such test target", network, addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, a.String())
	}
	f, err := NewForwarder(ForwardOptions{
		Listeners:  []Listener{{Proto: "tcp", TargetPort: 1}, {Proto: "udp", TargetPort: 1}},
		ListenHost: "127.0.0.1", StateFile: state, UDPIdle: time.Minute,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Dial: dial,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	admin, err := net.Listen("unix", filepath.Join(t.TempDir(), "a.sock"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Serve(ctx, admin) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	addrs := f.Addrs()
	return f, addrs[0], addrs[1]
}

// exchange sends a line on c and returns the answer.
func exchange(t *testing.T, c net.Conn, rd *bufio.Reader, msg string) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintln(c, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	line, err := rd.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return strings.TrimSpace(line)
}

func dialLine(t *testing.T, addr net.Addr) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatalf("dial forwarder: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// TestForwardSwitchDrain: a connection opened before the switch keeps
// talking to the old target through the switch and finishes there; every
// connection opened after it reaches the new target; the drain waits for
// the old connection and reports it drained.
func TestForwardSwitchDrain(t *testing.T) {
	oldB, newB := newLineBackend(t, "old"), newLineBackend(t, "new")
	f, tcpAddr, _ := startForwarder(t, filepath.Join(t.TempDir(), "state.json"),
		map[string]net.Addr{"old": oldB.ln.Addr(), "new": newB.ln.Addr()}, nil)

	// No target yet: the connection is refused (closed), not held.
	c0, rd0 := dialLine(t, tcpAddr)
	_ = c0.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintln(c0, "hello")
	if _, err := rd0.ReadString('\n'); err == nil {
		t.Fatal("a connection before any target got an answer")
	}

	if _, err := f.SetTargets([]string{"old"}); err != nil {
		t.Fatal(err)
	}
	held, heldRd := dialLine(t, tcpAddr)
	if got := exchange(t, held, heldRd, "a"); got != "old a" {
		t.Fatalf("before the switch: %q", got)
	}
	prev, err := f.SetTargets([]string{"new"})
	if err != nil || len(prev) != 1 || prev[0] != "old" {
		t.Fatalf("SetTarget: previous %q, %v", prev, err)
	}
	for i := range 5 {
		c, rd := dialLine(t, tcpAddr)
		if got := exchange(t, c, rd, fmt.Sprint(i)); got != fmt.Sprintf("new %d", i) {
			t.Fatalf("new connection after the switch reached %q", got)
		}
		c.Close()
	}
	if got := exchange(t, held, heldRd, "b"); got != "old b" {
		t.Fatalf("the connection open across the switch moved: %q", got)
	}

	drained := make(chan DrainResult, 1)
	go func() {
		res, err := f.Drain(context.Background(), []string{"old"}, 10*time.Second)
		if err != nil {
			t.Errorf("Drain: %v", err)
		}
		drained <- res
	}()
	// The drain waits for the open connection: it can still be used.
	if got := exchange(t, held, heldRd, "c"); got != "old c" {
		t.Fatalf("during the drain: %q", got)
	}
	select {
	case res := <-drained:
		t.Fatalf("drain returned while a connection was open: %+v", res)
	default:
	}
	held.Close()
	res := <-drained
	if !res.Drained || res.Cancelled != 0 {
		t.Fatalf("drain result: %+v", res)
	}
	if n := f.Open()["old"]; n != 0 {
		t.Fatalf("%d relays still open on the old target", n)
	}
}

// TestForwardDrainTimeoutCuts: a connection still open when the drain's
// time is up is closed and counted.
func TestForwardDrainTimeoutCuts(t *testing.T) {
	oldB, newB := newLineBackend(t, "old"), newLineBackend(t, "new")
	f, tcpAddr, _ := startForwarder(t, filepath.Join(t.TempDir(), "state.json"),
		map[string]net.Addr{"old": oldB.ln.Addr(), "new": newB.ln.Addr()}, nil)
	_, _ = f.SetTargets([]string{"old"})
	c, rd := dialLine(t, tcpAddr)
	exchange(t, c, rd, "x")
	if _, err := f.Drain(context.Background(), []string{"old"}, time.Second); err == nil {
		t.Fatal("draining the current target was allowed")
	}
	_, _ = f.SetTargets([]string{"new"})
	res, err := f.Drain(context.Background(), []string{"old"}, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Drained || res.Cancelled != 1 {
		t.Fatalf("drain result: %+v", res)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := rd.ReadString('\n'); err == nil {
		t.Fatal("the cut connection still reads")
	}
}

// TestForwardStatePersists: a restarted forwarder relays to the target the
// last switch set.
func TestForwardStatePersists(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	newB := newLineBackend(t, "new")
	targets := map[string]net.Addr{"new": newB.ln.Addr()}
	f1, _, _ := startForwarder(t, state, targets, nil)
	if _, err := f1.SetTargets([]string{"new"}); err != nil {
		t.Fatal(err)
	}
	f2, tcpAddr, _ := startForwarder(t, state, targets, nil)
	if got := f2.Targets(); len(got) != 1 || got[0] != "new" {
		t.Fatalf("restarted forwarder's targets: %q", got)
	}
	c, rd := dialLine(t, tcpAddr)
	if got := exchange(t, c, rd, "y"); got != "new y" {
		t.Fatalf("after restart: %q", got)
	}
	if _, err := f2.SetTargets([]string{"bad:target"}); err == nil {
		t.Fatal("a target with a port was accepted")
	}
}

// TestForwardUDPSessions: a UDP client's session stays on the target it
// began with until a drain ends it; its next datagram then reaches the new
// target, and a new client goes to the new target at once.
func TestForwardUDPSessions(t *testing.T) {
	udp := map[string]net.Addr{"old": udpEchoBackend(t, "old"), "new": udpEchoBackend(t, "new")}
	f, _, udpAddr := startForwarder(t, filepath.Join(t.TempDir(), "state.json"), nil, udp)
	_, _ = f.SetTargets([]string{"old"})
	ask := func(c net.Conn, msg string) string {
		t.Helper()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("udp read: %v", err)
		}
		return string(buf[:n])
	}
	a, err := net.Dial("udp", udpAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got := ask(a, "1"); got != "old 1" {
		t.Fatalf("first datagram: %q", got)
	}
	_, _ = f.SetTargets([]string{"new"})
	if got := ask(a, "2"); got != "old 2" {
		t.Fatalf("a session moved at the switch: %q", got)
	}
	b, _ := net.Dial("udp", udpAddr.String())
	defer b.Close()
	if got := ask(b, "3"); got != "new 3" {
		t.Fatalf("a new client after the switch: %q", got)
	}
	res, err := f.Drain(context.Background(), []string{"old"}, 5*time.Second)
	if err != nil || !res.Drained {
		t.Fatalf("drain: %+v %v", res, err)
	}
	if got := ask(a, "4"); got != "new 4" {
		t.Fatalf("after the drain the old client reached %q", got)
	}
}

// TestForwardCheckPorts: the readiness check fails while the target
// refuses and passes once it accepts.
func TestForwardCheckPorts(t *testing.T) {
	newB := newLineBackend(t, "new")
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr()
	closed.Close()
	f, _, _ := startForwarder(t, filepath.Join(t.TempDir(), "s.json"), map[string]net.Addr{"new": newB.ln.Addr(), "down": closedAddr}, nil)
	if r := f.CheckPorts(context.Background(), "new", 2*time.Second); !r.Ready {
		t.Fatalf("listening target: %+v", r)
	}
	if r := f.CheckPorts(context.Background(), "down", 300*time.Millisecond); r.Ready || r.Error == "" {
		t.Fatalf("refusing target: %+v", r)
	}
}

func TestParseListener(t *testing.T) {
	for in, want := range map[string]Listener{
		"tcp/5432":    {Proto: "tcp", Port: 5432, TargetPort: 5432},
		"udp/5353:53": {Proto: "udp", Port: 5353, TargetPort: 53},
		"tcp/8080:80": {Proto: "tcp", Port: 8080, TargetPort: 80},
	} {
		if got, err := ParseListener(in); err != nil || got != want {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
	for _, bad := range []string{"5432", "sctp/1", "tcp/0", "tcp/70000", "udp/53:x"} {
		if _, err := ParseListener(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestForwardReplicas: with several targets (the replicas of a release),
// new connections are spread over all of them, and a switch to another
// set moves new connections to that set only.
func TestForwardReplicas(t *testing.T) {
	a, b, c := newLineBackend(t, "a"), newLineBackend(t, "b"), newLineBackend(t, "c")
	f, tcpAddr, _ := startForwarder(t, filepath.Join(t.TempDir(), "state.json"),
		map[string]net.Addr{"a": a.ln.Addr(), "b": b.ln.Addr(), "c": c.ln.Addr()}, nil)
	if _, err := f.SetTargets([]string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for i := range 6 {
		conn, rd := dialLine(t, tcpAddr)
		got := exchange(t, conn, rd, fmt.Sprint(i))
		who, _, _ := strings.Cut(got, " ")
		seen[who]++ // connections stay open: the next goes to the emptier one
	}
	if seen["a"] != 3 || seen["b"] != 3 {
		t.Fatalf("6 open connections over 2 replicas: %v", seen)
	}
	prev, _ := f.SetTargets([]string{"c"})
	if strings.Join(prev, ",") != "a,b" {
		t.Fatalf("previous targets: %v", prev)
	}
	conn, rd := dialLine(t, tcpAddr)
	if got := exchange(t, conn, rd, "x"); got != "c x" {
		t.Fatalf("after the switch: %q", got)
	}
	if _, err := f.SetTargets(nil); err == nil {
		t.Fatal("an empty target set was accepted")
	}
}
