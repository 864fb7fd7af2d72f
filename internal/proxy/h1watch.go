package proxy

import (
	"errors"
	"time"
)

// A client that leaves while the app has not answered yet (a long-poll,
// a slow handler) should not keep the app working, nor keep a drain waiting
// on a request nobody will read. net/http learns of it with a background
// read on every request; that read is a good part of the cost this engine
// avoids. Here one sweeper looks at the exchanges that have waited on their
// app for a while and only those get a watcher on their client connection.

// watchAfter is how long an exchange waits for its app before its client
// connection is watched for a disconnect.
const watchAfter = 500 * time.Millisecond

var errClientGone = errors.New("client disconnected before the app answered")

// beginWait marks the exchange as waiting for the app's answer.
func (hc *h1conn) beginWait(bodyless bool) {
	hc.wmu.Lock()
	hc.waiting, hc.waitStart, hc.watchable = true, time.Now(), bodyless
	hc.wmu.Unlock()
}

// endWait ends the wait and, if a watcher was started, stops it and takes
// the client connection back from it.
func (hc *h1conn) endWait() {
	hc.wmu.Lock()
	hc.waiting = false
	w := hc.watcher
	hc.watcher = nil
	hc.wmu.Unlock()
	if w != nil {
		hc.c.SetReadDeadline(time.Unix(1, 0)) // wakes the watcher's read
		<-w
		hc.c.SetReadDeadline(time.Time{})
	}
}

// watch starts a watcher on hc if it has waited long enough.
func (hc *h1conn) watch(now time.Time) {
	hc.wmu.Lock()
	defer hc.wmu.Unlock()
	if !hc.waiting || !hc.watchable || hc.watcher != nil || now.Sub(hc.waitStart) < watchAfter || hc.up == nil {
		return
	}
	w := make(chan struct{})
	hc.watcher = w
	up := hc.up.c
	go func() {
		defer close(w)
		// The exchange does not read the client while it waits: the
		// watcher may. Bytes (a pipelined request) stay buffered for it.
		if _, err := hc.br.Peek(1); err != nil && !isTimeout(err) {
			hc.clientGone.Store(true)
			up.Close() // the app's read of the answer ends; the exchange with it
		}
	}()
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// sweep starts watchers for long waits until stop is closed.
func (h *h1server) sweep(stop <-chan struct{}) {
	t := time.NewTicker(watchAfter / 2)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			h.mu.Lock()
			for c := range h.conns {
				c.watch(now)
			}
			h.mu.Unlock()
		}
	}
}
