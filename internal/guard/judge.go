package guard

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/berthhq/berth/internal/policy"
)

// Judge decides authorization requests with a policy.
type Judge struct {
	Policy policy.Policy
}

// Decision is a verdict with what it was about, for the audit log.
type Decision struct {
	Response
	Action string // container-create, exec-create, or "" for requests not judged
	Rules  []string
}

var (
	versionPrefix = regexp.MustCompile(`^/v[0-9]+(\.[0-9]+)?`)
	execCreate    = regexp.MustCompile(`^/containers/[^/]+/exec$`)
)

// Decide judges one request. Requests that cannot create privilege are
// allowed; the ones that can are judged, and denied when their body cannot
// be read.
func (j Judge) Decide(req Request) Decision {
	u, err := url.Parse(req.RequestURI)
	if err != nil {
		return deny("", "berth guard: the request URI cannot be read, so it is denied")
	}
	p := versionPrefix.ReplaceAllString(u.Path, "")
	if req.RequestMethod != "POST" {
		return Decision{Response: Response{Allow: true}}
	}
	switch {
	case p == "/containers/create":
		body, d, ok := readable(req, "container-create")
		if !ok {
			return d
		}
		spec, err := policy.FromDockerJSON(body, u.Query().Get("name"))
		if err != nil {
			return deny("container-create", "berth guard: the container create request cannot be read, so it is denied")
		}
		return j.verdict("container-create", spec)
	case execCreate.MatchString(p):
		body, d, ok := readable(req, "exec-create")
		if !ok {
			return d
		}
		var ex struct {
			Privileged bool
			User       string
		}
		if err := json.Unmarshal(body, &ex); err != nil {
			return deny("exec-create", "berth guard: the exec request cannot be read, so it is denied")
		}
		user, _, _ := strings.Cut(ex.User, ":")
		switch {
		case ex.Privileged:
			return deny("exec-create", "berth guard: privileged exec is denied by rule privileged (fix: run the command without --privileged)", "privileged")
		case user == "0" || user == "root":
			return deny("exec-create", "berth guard: exec as root is denied by rule root-user (fix: exec as the container's own user, without --user root)", "root-user")
		}
		return Decision{Response: Response{Allow: true}, Action: "exec-create"}
	case p == "/services/create" || strings.HasPrefix(p, "/services/") && strings.HasSuffix(p, "/update") || p == "/plugins/pull":
		// Not judged yet: denying is the safe side for an authorization
		// plugin that cannot tell.
		return deny(strings.TrimPrefix(p, "/"), "berth guard cannot judge this request yet, so it is denied (fix: stop the guard for this operation, or deploy through berth)")
	}
	return Decision{Response: Response{Allow: true}}
}

// readable returns the body of a judged request, or the denial when the
// plugin cannot see it: no body, an empty one, not JSON, or over the size
// the engine forwards.
func readable(req Request, action string) ([]byte, Decision, bool) {
	ct := ""
	for k, v := range req.RequestHeaders {
		if strings.EqualFold(k, "Content-Type") {
			ct = v
		}
	}
	switch {
	case len(req.RequestBody) == 0:
		return nil, deny(action, "berth guard: the request body is not visible to the plugin (empty, or over the engine's 1 MiB forwarding limit), so it is denied"), false
	case len(req.RequestBody) > maxForwardedBody:
		return nil, deny(action, "berth guard: the request body is over 1 MiB, so it is denied"), false
	case !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/json"):
		return nil, deny(action, fmt.Sprintf("berth guard: the request body is %q, not JSON, so it is denied", ct)), false
	}
	return req.RequestBody, Decision{}, true
}

func (j Judge) verdict(action string, spec policy.Spec) Decision {
	blocking := policy.Blocking(j.Policy.Evaluate(&spec))
	if len(blocking) == 0 {
		return Decision{Response: Response{Allow: true}, Action: action}
	}
	var msgs, rules []string
	for _, f := range blocking {
		msgs = append(msgs, fmt.Sprintf("%s by rule %s (fix: %s)", f.Message, f.Rule, f.Fix))
		rules = append(rules, f.Rule)
	}
	return deny(action, "berth guard: denied: "+strings.Join(msgs, "; "), rules...)
}

func deny(action, msg string, rules ...string) Decision {
	return Decision{Response: Response{Allow: false, Msg: msg}, Action: action, Rules: rules}
}
