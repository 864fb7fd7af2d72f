package config

import (
	"strings"
	"testing"
)

func TestCheckEndpoint(t *testing.T) {
	tests := []struct {
		in, defaultPort string
		want            string // normalized; "" when invalid
		msg             string // substring of the message when invalid
	}{
		{"unix:///var/run/docker.sock", "", "unix:///var/run/docker.sock", ""},
		{"unix:///run//docker.sock", "", "unix:///run/docker.sock", ""},
		{"tcp://10.0.0.2:2376", "", "tcp://10.0.0.2:2376", ""},
		{"TCP://Docker.example.com:2376", "", "tcp://Docker.example.com:2376", ""},
		{"tcp://[fd00::1]:2376", "", "tcp://[fd00::1]:2376", ""},
		{"tcp://10.0.0.2", "2375", "tcp://10.0.0.2:2375", ""},
		{"tcp://10.0.0.2", "", "", "no port"},
		{"tcp://10.0.0.2:0", "", "", "1-65535"},
		{"tcp://user:pw@10.0.0.2:2376", "", "", "tcp://host:port"},
		{"tcp://10.0.0.2:2376/path", "", "", "tcp://host:port"},
		{"unix://docker.sock", "", "", "absolute socket path"},
		{"ssh://deploy@10.0.0.11", "", "", "ssh:// hosts are not supported yet"},
		{"npipe:////./pipe/docker_engine", "", "", `unsupported endpoint scheme "npipe"`},
		{"10.0.0.2:2376", "", "", "no scheme"},
	}
	for _, tt := range tests {
		got, msg, _ := checkEndpoint(tt.in, tt.defaultPort)
		if got != tt.want || (tt.msg == "") != (msg == "") || !strings.Contains(msg, tt.msg) {
			t.Errorf("checkEndpoint(%q) = %q, %q; want %q, %q", tt.in, got, msg, tt.want, tt.msg)
		}
		if strings.Contains(msg, "pw@") || strings.Contains(msg, "deploy@") {
			t.Errorf("checkEndpoint(%q) echoes the endpoint: %q", tt.in, msg)
		}
	}
}
