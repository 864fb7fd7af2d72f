package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// DrainRequest is the body of POST /drain: one target (Target) or several
// (Targets, drained together within one timeout). TimeoutMS 0 cancels
// whatever is in flight without waiting.
type DrainRequest struct {
	Target    string   `json:"target,omitempty"`
	Targets   []string `json:"targets,omitempty"`
	TimeoutMS int64    `json:"timeout_ms"`
}

const (
	maxAdminBody    = 1 << 20
	maxDrainTimeout = time.Hour
)

// AdminHandler returns the admin API. It is served on a unix socket only; it
// has no authentication of its own.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("GET /routes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, routesResponse{Routes: s.Routes()})
	})
	mux.HandleFunc("PUT /routes", func(w http.ResponseWriter, r *http.Request) {
		var route Route
		if err := decodeJSON(w, r, &route); err != nil {
			writeError(w, err)
			return
		}
		prev, err := s.SwitchRoute(route)
		if err != nil {
			writeError(w, err)
			return
		}
		resp := setRouteResponse{PreviousTargets: prev}
		if len(prev) > 0 {
			resp.Previous = prev[0]
		}
		writeJSON(w, http.StatusOK, resp)
	})
	mux.HandleFunc("DELETE /routes", func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Query().Get("key")
		if key == "" {
			writeError(w, &InvalidError{errors.New("missing ?key=app/service")})
			return
		}
		if err := s.DeleteRoute(key); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"deleted": key})
	})
	mux.HandleFunc("POST /check", func(w http.ResponseWriter, r *http.Request) {
		var req CheckRequest
		if err := decodeJSON(w, r, &req); err != nil {
			writeError(w, err)
			return
		}
		res, err := s.Check(r.Context(), req)
		if err != nil {
			writeError(w, &InvalidError{err})
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("POST /drain", func(w http.ResponseWriter, r *http.Request) {
		names, timeout, ok := readDrainRequest(w, r)
		if !ok {
			return
		}
		res, err := s.DrainAll(r.Context(), names, timeout)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, fmt.Sprintf("no admin endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

type routesResponse struct {
	Routes []Route `json:"routes"`
}

// setRouteResponse names the replaced targets twice: Previous (the first)
// for clients from before replicas, PreviousTargets (all) for the rest.
type setRouteResponse struct {
	Previous        string   `json:"previous"`
	PreviousTargets []string `json:"previous_targets,omitempty"`
}

// errorResponse carries the status in the body too, because across `docker
// exec` only the body survives.
type errorResponse struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// decodeJSON is strict: a misspelt field such as "timout_ms" would otherwise
// silently become a default.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &InvalidError{fmt.Errorf("request body: %w", err)}
	}
	return nil
}

func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var invalid *InvalidError
	var routed *RoutedError
	switch {
	case errors.As(err, &invalid):
		code = http.StatusBadRequest
	case errors.Is(err, ErrNoRoute):
		code = http.StatusNotFound
	case errors.As(err, &routed):
		code = http.StatusConflict
	}
	writeJSONError(w, code, err.Error())
}

func writeJSONError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorResponse{Error: msg, Status: code})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		code, data = http.StatusInternalServerError, []byte(`{"error":"encoding response","status":500}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(data, '\n'))
}

// readDrainRequest decodes and checks a POST /drain body, shared by
// berth-proxy and the port forwarder; on a bad body it has answered already.
func readDrainRequest(w http.ResponseWriter, r *http.Request) (names []string, timeout time.Duration, ok bool) {
	var req DrainRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, err)
		return nil, 0, false
	}
	timeout = time.Duration(req.TimeoutMS) * time.Millisecond
	names = req.Targets
	if req.Target != "" {
		names = append([]string{req.Target}, names...)
	}
	switch {
	case len(names) == 0:
		writeError(w, &InvalidError{errors.New("drain: target is required")})
		return nil, 0, false
	case req.TimeoutMS < 0 || timeout > maxDrainTimeout:
		writeError(w, &InvalidError{fmt.Errorf("drain: timeout_ms must be 0..%d", maxDrainTimeout.Milliseconds())})
		return nil, 0, false
	}
	return names, timeout, true
}
