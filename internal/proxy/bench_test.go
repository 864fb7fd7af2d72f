package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkProxy measures a small proxied GET over keep-alive connections,
// with and without the access log; BenchmarkDirect is the same request
// without the proxy, for the overhead ratio.
func BenchmarkProxy(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"plain", Options{}},
		{"accesslog", Options{AccessLog: io.Discard}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "ok")
			}))
			defer backend.Close()
			p := startProxy(b, bc.opts)
			if _, err := p.srv.SetRoute(Route{Key: "b/web", Hosts: []string{"bench.test"}, Target: backend.Listener.Addr().String()}); err != nil {
				b.Fatal(err)
			}
			benchGet(b, p.url+"/", "bench.test")
		})
	}
}

func BenchmarkDirect(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	benchGet(b, backend.URL+"/", "bench.test")
}

func benchGet(b *testing.B, url, host string) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Host = host
		for pb.Next() {
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
