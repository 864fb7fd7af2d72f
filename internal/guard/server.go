package guard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
)

// maxRequest bounds what the plugin reads of one engine request: the
// forwarded body (1 MiB) in base64 plus headers.
const maxRequest = 4 << 20

// Handler serves Docker's authorization plugin protocol with judge. Every
// decision is one JSON log line (who, what, verdict, rules). A panic while
// judging denies that request and leaves the plugin running.
func Handler(judge func() Judge, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /Plugin.Activate", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string][]string{"Implements": {"authz"}})
	})
	mux.HandleFunc("POST /AuthZPlugin.AuthZReq", func(w http.ResponseWriter, r *http.Request) {
		var req Request
		raw, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
		if err == nil && len(raw) > maxRequest {
			err = errors.New("too large")
		}
		if err == nil {
			err = json.Unmarshal(raw, &req)
		}
		if err != nil {
			writeJSON(w, Response{Allow: false, Msg: "berth guard: the authorization request cannot be read, so it is denied"})
			return
		}
		d := decide(judge(), req)
		if d.Allow && d.Action == "" {
			// Not judged (a GET, a start, ...): allowed without a log line,
			// which would cost every API call a write and bury decisions.
			writeJSON(w, d.Response)
			return
		}
		// Lists are never null: a reader tells "no rule fired" from a
		// line that forgot to say.
		log.Info("authz", "user", req.User, "method", req.RequestMethod, "uri", logURI(req.RequestURI),
			"action", d.Action, "allow", d.Allow, "rules", orEmpty(d.Rules), "blocking", orEmpty(d.Blocking), "waived", orEmpty(d.Waived))
		writeJSON(w, d.Response)
	})
	mux.HandleFunc("POST /AuthZPlugin.AuthZRes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, Response{Allow: true}) // requests were judged on the way in
	})
	return mux
}

func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// decide runs the judge and turns a panic into a denial.
func decide(j Judge, req Request) (d Decision) {
	defer func() {
		if p := recover(); p != nil {
			d = Decision{Response: Response{Allow: false, Msg: "berth guard: internal error, request denied", Err: fmt.Sprint(p)}}
		}
	}()
	return j.Decide(req)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1+json")
	_ = json.NewEncoder(w).Encode(v)
}

// loggedParams are the query parameters a decision log line keeps: the
// ones judged. Others (build args, say) may carry secrets.
var loggedParams = []string{"name", "fromImage", "tag", "remote", "networkmode", "rollback", "version"}

func logURI(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unreadable)"
	}
	q := u.Query()
	kept := url.Values{}
	for _, k := range loggedParams {
		if v, ok := q[k]; ok {
			kept[k] = v
		}
	}
	u.RawQuery = kept.Encode()
	return u.String()
}
