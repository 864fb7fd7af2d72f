package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"
)

// holdMax bounds a hold nobody releases, so a failed test cannot leave a
// container that never finishes its in-flight request.
const holdMax = 5 * time.Minute

// holds are the requests to /hold?id=X this process keeps open until
// /release?id=X. A test uses them to know, rather than guess from
// timestamps, that a request is in flight on one release while traffic
// switches to another: it asks /holding?id=X through the proxy before the
// switch, and releases X on the old container (docker exec `app release X`)
// after it.
type holds struct {
	mu   sync.Mutex
	open map[string]chan struct{}
}

func (h *holds) register(mux *http.ServeMux, version, host string) {
	h.open = map[string]chan struct{}{}
	answer := func(w http.ResponseWriter, v map[string]any) {
		v["version"], v["host"] = version, host
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		h.mu.Lock()
		if _, dup := h.open[id]; dup || id == "" {
			h.mu.Unlock()
			http.Error(w, "hold needs a unique id", http.StatusConflict)
			return
		}
		release := make(chan struct{})
		h.open[id] = release
		h.mu.Unlock()
		defer func() {
			h.mu.Lock()
			delete(h.open, id)
			h.mu.Unlock()
		}()
		select {
		case <-release:
			answer(w, map[string]any{"held": id, "released": true})
		case <-time.After(holdMax):
			answer(w, map[string]any{"held": id, "released": false})
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/holding", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		_, ok := h.open[r.URL.Query().Get("id")]
		h.mu.Unlock()
		answer(w, map[string]any{"holding": ok})
	})
	mux.HandleFunc("/release", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		h.mu.Lock()
		release, ok := h.open[id]
		if ok {
			close(release)
			delete(h.open, id)
		}
		h.mu.Unlock()
		if !ok {
			http.Error(w, "no request held as "+id, http.StatusNotFound)
			return
		}
		fmt.Fprintln(w, "released", id)
	})
}

// releaseCmd is `app release ID`: images FROM scratch have no curl, so a
// test releases a hold by running the app itself inside the container.
func releaseCmd(id string) int {
	resp, err := http.Get("http://127.0.0.1:" + env("PORT", "8080") + "/release?id=" + id)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(os.Stderr, "release %s: %s\n", id, resp.Status)
		return 1
	}
	return 0
}
