package proxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// UDP has no connections, so the forwarder makes sessions: the first
// datagram from a client address opens one, bound to the target current at
// that moment and to its own upstream socket (so replies find their way
// back to that client); it ends after UDPIdle without traffic, or when a
// drain of its target ends. A switch therefore moves each client at its next
// session, as TCP moves at the next connection.

type udpSession struct {
	client netip.AddrPort
	up     net.Conn
	last   atomic.Int64 // unix nanos of the last datagram either way
	once   sync.Once
	gone   chan struct{}
}

func (s *udpSession) touch() { s.last.Store(time.Now().UnixNano()) }

func (s *udpSession) idleFor() time.Duration {
	return time.Since(time.Unix(0, s.last.Load()))
}

func (s *udpSession) close() {
	s.once.Do(func() {
		close(s.gone)
		if s.up != nil {
			_ = s.up.Close()
		}
	})
}

func (s *udpSession) quiet(d time.Duration) bool { return s.idleFor() >= d }

// maxDatagram is the largest UDP payload.
const maxDatagram = 64 << 10

// serveUDP reads client datagrams and relays each to its session's target.
func (f *Forwarder) serveUDP(ctx context.Context, pc *net.UDPConn, l Listener) error {
	var mu sync.Mutex
	sessions := map[netip.AddrPort]*udpSession{}
	targets := map[*udpSession]string{}
	forget := func(s *udpSession) {
		mu.Lock()
		if sessions[s.client] == s {
			delete(sessions, s.client)
		}
		t := targets[s]
		delete(targets, s)
		mu.Unlock()
		f.done(t, s)
	}
	// The sweeper ends idle sessions; a session's own reader ends it when
	// its upstream fails or a drain closes it.
	go func() {
		tick := time.NewTicker(min(f.opts.UDPIdle/4, time.Second))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			mu.Lock()
			var idle []*udpSession
			for _, s := range sessions {
				if s.idleFor() >= f.opts.UDPIdle {
					idle = append(idle, s)
				}
			}
			mu.Unlock()
			for _, s := range idle {
				s.close()
			}
		}
	}()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			f.log.Warn("forward: udp read failed", "listener", l.String(), "err", err.Error())
			continue
		}
		mu.Lock()
		s := sessions[from]
		mu.Unlock()
		if s != nil {
			select {
			case <-s.gone:
				s = nil // cut by a drain: the next datagram starts afresh
			default:
			}
		}
		if s == nil {
			s = &udpSession{client: from, gone: make(chan struct{})}
			s.touch()
			target := f.open(s)
			if target == "" {
				continue // nothing serves yet: dropped, as UDP may be
			}
			up, err := f.opts.Dial(ctx, "udp", net.JoinHostPort(target, strconv.Itoa(l.TargetPort)))
			if err != nil {
				f.done(target, s)
				f.log.Warn("forward: udp dial failed", "listener", l.String(), "target", target, "err", err.Error())
				continue
			}
			s.up = up
			mu.Lock()
			if old := sessions[from]; old != nil {
				old.close()
			}
			sessions[from] = s
			targets[s] = target
			mu.Unlock()
			go func() {
				defer forget(s)
				f.udpReplies(pc, s)
			}()
		}
		s.touch()
		if _, err := s.up.Write(buf[:n]); err != nil {
			s.close()
		}
	}
}

// udpReplies sends the target's datagrams back to the session's client
// until the session ends.
func (f *Forwarder) udpReplies(pc *net.UDPConn, s *udpSession) {
	buf := make([]byte, maxDatagram)
	go func() {
		<-s.gone
		_ = s.up.Close()
	}()
	for {
		n, err := s.up.Read(buf)
		if err != nil {
			select {
			case <-s.gone:
				return
			default:
			}
			// ECONNREFUSED from an ICMP port-unreachable: the target
			// is not listening (yet); the session stays for the next
			// datagram rather than ending on one lost packet.
			var ne *net.OpError
			if errors.As(err, &ne) && !errors.Is(err, net.ErrClosed) {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			s.close()
			return
		}
		s.touch()
		if _, err := pc.WriteToUDPAddrPort(buf[:n], s.client); err != nil {
			s.close()
			return
		}
	}
}
