package config

import (
	"math"
	"net"
	"strconv"
	"strings"
)

const (
	defaultProxyHTTP = "0.0.0.0:80"
	defaultMaxBody   = 100 << 20 // 100 MiB: large uploads pass, runaway ones do not
)

func defaultProxy() Proxy {
	return Proxy{HTTP: defaultProxyHTTP, MaxBody: defaultMaxBody}
}

func (r *reader) proxy(f field) Proxy {
	p := defaultProxy()
	for _, kf := range r.fields(f.val, f.path, []string{"http", "max_body"}) {
		switch kf.key.Value {
		case "http":
			if s, ok := r.str(kf); ok {
				if addr, msg := listenAddr(s); msg != "" {
					r.errorf(kf.val, kf.path, "write host:port, such as 0.0.0.0:80 or :8080", "%s", msg)
				} else {
					p.HTTP = addr
				}
			}
		case "max_body":
			if s, ok := r.str(kf); ok {
				if n, err := parseSize(s); err != "" {
					r.errorf(kf.val, kf.path, "write a byte count or a size such as 10MB, 100MiB or 1GiB", "%s", err)
				} else {
					p.MaxBody = n
				}
			}
		}
	}
	return p
}

// listenAddr validates host:port for a published port. The host must be an
// IP literal because Docker binds published ports to addresses, not names.
func listenAddr(s string) (string, string) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", strconv.Quote(s) + " is not host:port"
	}
	if host == "" {
		host = "0.0.0.0"
	}
	if net.ParseIP(host) == nil {
		return "", "host " + strconv.Quote(host) + " is not an IP address"
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", "port " + strconv.Quote(port) + " is not 1-65535"
	}
	return net.JoinHostPort(host, port), ""
}

// sizeUnits covers both conventions: KB/MB/GB are powers of 1000, as on
// disk labels; KiB/MiB/GiB are powers of 1024, as in Docker's memory flags.
var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
	"ki": 1 << 10, "kib": 1 << 10, "mi": 1 << 20, "mib": 1 << 20,
	"gi": 1 << 30, "gib": 1 << 30, "ti": 1 << 40, "tib": 1 << 40,
}

// parseSize reads a positive byte size such as 1048576, 10MB or 1.5GiB.
func parseSize(s string) (int64, string) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	if num == "" || !ok {
		return 0, strconv.Quote(s) + " is not a size"
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, strconv.Quote(s) + " is not a size"
	}
	bytes := v * mult
	if bytes < 1 {
		return 0, "must be at least 1 byte"
	}
	if bytes >= math.MaxInt64 {
		return 0, strconv.Quote(s) + " is too large"
	}
	return int64(bytes), ""
}
