package proxy

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

func TestCheck(t *testing.T) {
	p := startProxy(t, Options{})
	var calls atomic.Int32
	warming := newBackend(t, "warming", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/up" {
			http.NotFound(w, r)
			return
		}
		if calls.Add(1) <= 3 {
			http.Error(w, "booting", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	broken := newBackend(t, "broken", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "db down", http.StatusServiceUnavailable)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nothing := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name     string
		req      CheckRequest
		healthy  bool
		attempts func(int) bool
		status   int
		errText  string
	}{
		{"healthy after a few 503s", CheckRequest{Target: warming, Path: "/up", IntervalMS: 20, TimeoutMS: 1000, DeadlineMS: 5000},
			true, func(n int) bool { return n == 4 }, 200, ""},
		{"unhealthy at deadline with last status", CheckRequest{Target: broken, Path: "/up", IntervalMS: 50, TimeoutMS: 1000, DeadlineMS: 300},
			false, func(n int) bool { return n >= 3 && n <= 8 }, 503, "503"},
		{"nothing listening", CheckRequest{Target: nothing, IntervalMS: 50, DeadlineMS: 200},
			false, func(n int) bool { return n >= 2 }, 0, "refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := p.admin.Check(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Healthy != tc.healthy || !tc.attempts(res.Attempts) || res.Status != tc.status || !strings.Contains(res.Error, tc.errText) {
				t.Fatalf("got %+v", res)
			}
			if !res.Healthy && res.ElapsedMS < tc.req.DeadlineMS-50 {
				t.Fatalf("gave up after %d ms, before the %d ms deadline", res.ElapsedMS, tc.req.DeadlineMS)
			}
		})
	}

	t.Run("invalid request", func(t *testing.T) {
		_, err := p.admin.Check(context.Background(), CheckRequest{Target: "http://x:80", Path: "/up"})
		if err == nil || !strings.Contains(err.Error(), "without a scheme") {
			t.Fatalf("got %v", err)
		}
	})
}
