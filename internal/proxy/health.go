package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// CheckRequest asks the proxy to health-check a target from inside the Docker
// network. Durations are integer milliseconds (as on the wire) rather than
// time.Duration, so the struct needs no custom JSON code; zero means default.
type CheckRequest struct {
	Target     string `json:"target"`         // "container:port"
	Path       string `json:"path,omitempty"` // default "/"
	Host       string `json:"host,omitempty"` // Host header; default the target
	IntervalMS int64  `json:"interval_ms,omitempty"`
	TimeoutMS  int64  `json:"timeout_ms,omitempty"`
	DeadlineMS int64  `json:"deadline_ms,omitempty"`
}

// CheckResult is the outcome of a check. Status is the last HTTP status
// received (0 if no attempt got a response); Error describes the last failed
// attempt.
type CheckResult struct {
	Healthy   bool   `json:"healthy"`
	Attempts  int    `json:"attempts"`
	Status    int    `json:"status"`
	Error     string `json:"error,omitempty"`
	ElapsedMS int64  `json:"elapsed_ms"`
}

const (
	defaultCheckInterval = time.Second
	defaultCheckTimeout  = 2 * time.Second
	defaultCheckDeadline = 30 * time.Second
	maxCheckDeadline     = time.Hour
	minCheckInterval     = 10 * time.Millisecond
)

func msOr(ms int64, def time.Duration) time.Duration {
	if ms == 0 {
		return def
	}
	return time.Duration(ms) * time.Millisecond
}

// normalize fills defaults and rejects requests that could not mean anything.
func (c CheckRequest) normalize() (CheckRequest, error) {
	if c.Target == "" {
		return c, errors.New("check: target is required")
	}
	if err := validTarget(c.Target); err != nil {
		return c, fmt.Errorf("check: target: %w", err)
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if !strings.HasPrefix(c.Path, "/") {
		return c, fmt.Errorf("check: path %q must start with /", c.Path)
	}
	if c.IntervalMS < 0 || c.TimeoutMS < 0 || c.DeadlineMS < 0 {
		return c, errors.New("check: durations must not be negative")
	}
	if msOr(c.DeadlineMS, defaultCheckDeadline) > maxCheckDeadline {
		return c, fmt.Errorf("check: deadline_ms must be at most %d", maxCheckDeadline.Milliseconds())
	}
	if msOr(c.IntervalMS, defaultCheckInterval) < minCheckInterval {
		return c, fmt.Errorf("check: interval_ms must be at least %d", minCheckInterval.Milliseconds())
	}
	return c, nil
}

// checker runs health checks on its own transport, without keep-alives: each
// attempt must prove that a new connection to the target works, and checks must
// not disturb the proxy's connection pools or drain bookkeeping.
type checker struct {
	client *http.Client
}

func newChecker() *checker {
	tr := &http.Transport{
		Proxy:              nil,
		DialContext:        (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		DisableKeepAlives:  true,
		DisableCompression: true,
	}
	return &checker{client: &http.Client{
		Transport: tr,
		// A redirect is not health: an app answering /up with a redirect to a
		// login page is not ready to serve.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Check GETs http://target+path every interval until a 2xx or the deadline.
func (s *Server) Check(ctx context.Context, req CheckRequest) (CheckResult, error) {
	req, err := req.normalize()
	if err != nil {
		return CheckResult{}, err
	}
	res := s.checker.run(ctx, req)
	s.log.Info("health check", "target", req.Target, "path", req.Path, "healthy", res.Healthy,
		"attempts", res.Attempts, "status", res.Status, "err", res.Error, "elapsed_ms", res.ElapsedMS)
	return res, nil
}

func (c *checker) run(ctx context.Context, req CheckRequest) CheckResult {
	interval := msOr(req.IntervalMS, defaultCheckInterval)
	timeout := msOr(req.TimeoutMS, defaultCheckTimeout)
	start := time.Now()
	ctx, cancel := context.WithDeadline(ctx, start.Add(msOr(req.DeadlineMS, defaultCheckDeadline)))
	defer cancel()
	url := "http://" + req.Target + req.Path

	var res CheckResult
	for {
		attemptStart := time.Now()
		res.Attempts++
		status, err := c.attempt(ctx, url, req.Host, timeout)
		if err != nil && ctx.Err() != nil && res.Attempts > 1 {
			// The deadline cut this attempt short: that says nothing about
			// the app, and the attempt before it does (its 500 is what a
			// failed deploy must show, not "no answer").
			res.Attempts--
			break
		}
		if status != 0 {
			res.Status = status
		}
		if err == nil {
			res.Healthy, res.Error = true, ""
			break
		}
		res.Error = err.Error()
		wait := time.NewTimer(interval - time.Since(attemptStart))
		select {
		case <-wait.C:
			continue
		case <-ctx.Done():
			wait.Stop()
		}
		break
	}
	res.ElapsedMS = time.Since(start).Milliseconds()
	return res
}

// attempt makes one request; err is nil only for a 2xx.
func (c *checker) attempt(ctx context.Context, url, host string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if host != "" {
		r.Host = host
	}
	r.Header.Set("User-Agent", "berth-proxy/health")
	resp, err := c.client.Do(r)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Errorf("no answer within %v", timeout)
		}
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("unhealthy status %s", resp.Status)
	}
	return resp.StatusCode, nil
}
