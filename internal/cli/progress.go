package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/berthhq/berth/internal/deploy"
)

// progress prints one line per step per service: live (the waiting line
// ticks) on a terminal, plain lines when piped, JSON lines with --format
// json. It writes to stderr so stdout carries only the result.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	json  bool
	live  bool
	start time.Time
	last  string // the line being ticked on a terminal
	stop  chan struct{}
}

func newProgress(g *Globals) *progress {
	p := &progress{w: g.Stderr, json: g.json(), start: time.Now()}
	if f, ok := g.Stderr.(*os.File); ok && !p.json {
		p.live = term.IsTerminal(int(f.Fd()))
	}
	return p
}

func (p *progress) Step(ev deploy.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		b, _ := json.Marshal(struct {
			Time string `json:"time"`
			deploy.Event
		}{time.Now().UTC().Format(time.RFC3339Nano), ev})
		fmt.Fprintln(p.w, string(b))
		return
	}
	svc := ev.Service
	if svc == "" {
		svc = "-"
	}
	line := fmt.Sprintf("%-10s %-12s %-9s %s", ev.Host, svc, ev.Step, ev.Detail)
	if !p.live {
		fmt.Fprintf(p.w, "%6.1fs %s\n", time.Since(p.start).Seconds(), line)
		return
	}
	p.endLive()
	p.last = line
	fmt.Fprintf(p.w, "%6.1fs %s", time.Since(p.start).Seconds(), line)
	if ev.Step == "health" || ev.Step == "drain" || ev.Step == "lock" {
		p.stop = make(chan struct{})
		go p.tick(p.stop, time.Now())
		return
	}
	fmt.Fprintln(p.w)
	p.last = ""
}

// tick rewrites the waiting line with the time spent waiting so far.
func (p *progress) tick(stop chan struct{}, since time.Time) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.mu.Lock()
			if p.last != "" {
				fmt.Fprintf(p.w, "\r\x1b[K%6.1fs %s (%.0fs)", time.Since(p.start).Seconds(), p.last, time.Since(since).Seconds())
			}
			p.mu.Unlock()
		}
	}
}

func (p *progress) endLive() {
	if p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
	if p.last != "" {
		fmt.Fprintln(p.w)
		p.last = ""
	}
}

// Close ends a ticking line.
func (p *progress) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLive()
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
