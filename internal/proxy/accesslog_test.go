package proxy

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAccessLog(t *testing.T) {
	var buf syncBuffer
	p := startProxy(t, Options{AccessLog: &buf})
	shop := newBackend(t, "shop", nil)
	p.route(t, "shop/web", "shop.test", shop)
	c := newTestClient()
	do(c, "GET", p.url+"/cart?secret=1", "shop.test", nil)

	// Flushed on its own, without waiting for shutdown.
	waitFor(t, "the periodic flush", func() bool { return strings.Contains(buf.String(), "/cart") })

	do(c, "POST", p.url+"/x", "nope.test", strings.NewReader("hi"))
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", lines)
	}
	type entry struct {
		Time       string   `json:"time"`
		Host       string   `json:"host"`
		Method     string   `json:"method"`
		Path       string   `json:"path"`
		Status     int      `json:"status"`
		Bytes      int64    `json:"bytes"`
		DurationMS *float64 `json:"duration_ms"`
		Target     string   `json:"target"`
		Route      string   `json:"route"`
		Remote     string   `json:"remote"`
	}
	var got [2]entry
	for i, l := range lines {
		if err := json.Unmarshal([]byte(l), &got[i]); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i, err, l)
		}
	}
	if e := got[0]; e.Host != "shop.test" || e.Method != "GET" || e.Path != "/cart" || e.Status != 200 || e.Bytes != 4 ||
		e.Target != shop || e.Route != "shop/web" || !strings.HasPrefix(e.Remote, "127.0.0.1:") || e.DurationMS == nil || e.Time == "" {
		t.Errorf("proxied request logged as %+v", e)
	}
	if e := got[1]; e.Status != 404 || e.Route != "" || e.Method != "POST" {
		t.Errorf("unrouted request logged as %+v", e)
	}
}

func TestAppendJSONString(t *testing.T) {
	for in, want := range map[string]string{
		"plain":             "plain",
		`q"uo\te`:           `q"uo\te`,
		"ctl\x00\x1f\n\t":   "ctl\x00\x1f\n\t",
		"utf8 é ✓":          "utf8 é ✓",
		"bad \xff\xfe utf8": "bad \ufffd\ufffd utf8",
		"":                  "",
	} {
		var got string
		b := appendJSONString(nil, in)
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", in, b, err)
		}
		if got != want {
			t.Errorf("%q round-trips to %q, want %q", in, got, want)
		}
	}
}
