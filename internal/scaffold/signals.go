package scaffold

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// appServers are HTTP servers that apps are started with, and the port
// each listens on when the command names none.
var appServers = []struct {
	name    string
	pattern *regexp.Regexp
	port    int
}{
	{"gunicorn", regexp.MustCompile(`\bgunicorn\b`), 8000},
	{"uvicorn", regexp.MustCompile(`\buvicorn\b`), 8000},
	{"hypercorn", regexp.MustCompile(`\bhypercorn\b`), 8000},
	{"daphne", regexp.MustCompile(`\bdaphne\b`), 8000},
	{"waitress", regexp.MustCompile(`\bwaitress-serve\b`), 8080},
	{"Django's runserver", regexp.MustCompile(`\bmanage\.py\s+runserver\b`), 8000},
	{"flask run", regexp.MustCompile(`\bflask\s+run\b`), 5000},
	{"rails server", regexp.MustCompile(`\brails\s+(server|s)\b`), 3000},
	{"puma", regexp.MustCompile(`\bpuma\b`), 9292},
}

// The port a server command names: --bind/-b ADDR:PORT, a bare ADDR:PORT
// argument (runserver 0.0.0.0:8000), or --port/-p PORT.
var (
	bindPort = regexp.MustCompile(`(?:^|\s)(?:--bind[= ]|-b\s*|--listen[= ]|)(?:[0-9.]+|localhost|\[::\]|\*)?:(\d{2,5})(?:\s|$)`)
	portFlag = regexp.MustCompile(`(?:^|\s)(?:--port[= ]|-p\s*)(\d{2,5})(?:\s|$)`)
)

// appServer finds an HTTP server the service is started with, from its
// command or its PORT variable (the convention Heroku made common for
// "the port to serve HTTP on"), and the port it listens on.
func appServer(s types.ServiceConfig) (int, string, bool) {
	cmd := strings.Join(append(append([]string(nil), s.Entrypoint...), s.Command...), " ")
	for _, srv := range appServers {
		if !srv.pattern.MatchString(cmd) {
			continue
		}
		port := srv.port
		if m := bindPort.FindStringSubmatch(cmd); m != nil {
			port, _ = strconv.Atoi(m[1])
		} else if m := portFlag.FindStringSubmatch(cmd); m != nil {
			port, _ = strconv.Atoi(m[1])
		}
		return port, fmt.Sprintf("command runs %s (an HTTP server) on port %d", srv.name, port), true
	}
	if v, ok := s.Environment["PORT"]; ok && v != nil {
		if n, err := strconv.Atoi(*v); err == nil && n > 0 && n < 65536 {
			return n, fmt.Sprintf("environment PORT=%d", n), true
		}
	}
	return 0, "", false
}
