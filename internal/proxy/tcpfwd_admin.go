package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"time"
)

// The forwarder's admin API has the shape of berth-proxy's: HTTP+JSON on a
// unix socket, reached through `docker exec ... berth proxy admin`, errors
// carried in the body.
//
//	GET  /healthz
//	GET  /forward            {targets, listeners, open}
//	PUT  /forward            {targets} -> {previous}
//	POST /drain              {targets, timeout_ms} -> DrainResult
//	POST /check              {target, deadline_ms} -> PortCheckResult

// ForwardState is the answer of GET /forward.
type ForwardState struct {
	Targets   []string       `json:"targets"`
	Listeners []Listener     `json:"listeners"`
	Open      map[string]int `json:"open"` // open connections and UDP sessions per target
}

type setForwardRequest struct {
	Targets []string `json:"targets"`
}

type setForwardResponse struct {
	Previous []string `json:"previous"`
}

// PortCheckRequest is the body of POST /check on a forwarder.
type PortCheckRequest struct {
	Target     string `json:"target"`
	DeadlineMS int64  `json:"deadline_ms"`
}

// AdminHandler is the forwarder's admin API.
func (f *Forwarder) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("GET /forward", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, ForwardState{Targets: f.Targets(), Listeners: f.opts.Listeners, Open: f.Open()})
	})
	mux.HandleFunc("PUT /forward", func(w http.ResponseWriter, r *http.Request) {
		var req setForwardRequest
		if err := decodeJSON(w, r, &req); err != nil {
			writeError(w, err)
			return
		}
		prev, err := f.SetTargets(req.Targets)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, setForwardResponse{Previous: prev})
	})
	mux.HandleFunc("POST /drain", func(w http.ResponseWriter, r *http.Request) {
		names, timeout, ok := readDrainRequest(w, r)
		if !ok {
			return
		}
		res, err := f.Drain(r.Context(), names, timeout)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("POST /check", func(w http.ResponseWriter, r *http.Request) {
		var req PortCheckRequest
		if err := decodeJSON(w, r, &req); err != nil {
			writeError(w, err)
			return
		}
		if err := validTargetHost(req.Target); err != nil || req.DeadlineMS <= 0 || req.DeadlineMS > maxDrainTimeout.Milliseconds() {
			writeError(w, &InvalidError{fmt.Errorf("check: want a target and deadline_ms 1..%d", maxDrainTimeout.Milliseconds())})
			return
		}
		writeJSON(w, http.StatusOK, f.CheckPorts(r.Context(), req.Target, time.Duration(req.DeadlineMS)*time.Millisecond))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, fmt.Sprintf("no forwarder endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func newAdminServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn)}
}

// ForwardClient drives a forwarder's admin API.
type ForwardClient struct{ c *Client }

// NewForwardClient returns a client that sends its requests through c.
func NewForwardClient(c Caller) *ForwardClient { return &ForwardClient{c: NewClient(c)} }

// Healthz returns nil when the forwarder answers.
func (fc *ForwardClient) Healthz(ctx context.Context) error { return fc.c.Healthz(ctx) }

// State reads the current target, listeners and open relays.
func (fc *ForwardClient) State(ctx context.Context) (ForwardState, error) {
	var out ForwardState
	err := fc.c.call(ctx, http.MethodGet, "/forward", nil, &out)
	return out, err
}

// SetTargets switches new connections to targets; it returns the previous
// targets once the switch is persisted and live.
func (fc *ForwardClient) SetTargets(ctx context.Context, targets []string) ([]string, error) {
	var out setForwardResponse
	err := fc.c.call(ctx, http.MethodPut, "/forward", setForwardRequest{Targets: targets}, &out)
	return out.Previous, err
}

// Drain waits up to timeout for the targets' connections, then cuts the rest.
func (fc *ForwardClient) Drain(ctx context.Context, targets []string, timeout time.Duration) (DrainResult, error) {
	return fc.c.DrainTargets(ctx, targets, timeout)
}

// CheckPorts waits up to deadline until target accepts on every TCP port.
func (fc *ForwardClient) CheckPorts(ctx context.Context, target string, deadline time.Duration) (PortCheckResult, error) {
	var out PortCheckResult
	err := fc.c.call(ctx, http.MethodPost, "/check", PortCheckRequest{Target: target, DeadlineMS: deadline.Milliseconds()}, &out)
	return out, err
}

const forwardStateVersion = 1

type forwardStateDoc struct {
	Version int      `json:"version"`
	Targets []string `json:"targets"`
}

// loadForwardState reads the persisted targets; a missing file is a first
// start. A corrupt one is an error: relaying to a guessed release is worse
// than not starting.
func loadForwardState(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading forwarder state %s: %w", path, err)
	}
	var doc forwardStateDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("forwarder state %s is corrupt: %w (move it aside; the next deploy sets the targets again)", path, err)
	}
	if doc.Version != forwardStateVersion {
		return nil, fmt.Errorf("forwarder state %s: version %d is not supported (want %d)", path, doc.Version, forwardStateVersion)
	}
	for _, t := range doc.Targets {
		if err := validTargetHost(t); err != nil {
			return nil, fmt.Errorf("forwarder state %s: %w", path, err)
		}
	}
	return doc.Targets, nil
}

func saveForwardState(path string, targets []string) error {
	data, err := json.Marshal(forwardStateDoc{Version: forwardStateVersion, Targets: targets})
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'), 0o600)
}
