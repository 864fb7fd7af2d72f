package config

import "testing"

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"1048576", 1 << 20, false},
		{"10MB", 10_000_000, false},
		{"100MiB", 100 << 20, false},
		{"1GiB", 1 << 30, false},
		{"1.5 KiB", 1536, false},
		{"512k", 512_000, false},
		{"2gb", 2_000_000_000, false},
		{"0", 0, true},
		{"", 0, true},
		{"MB", 0, true},
		{"10 parsecs", 0, true},
		{"-5MB", 0, true},
		{"99999999999TiB", 0, true},
	}
	for _, tt := range tests {
		got, msg := parseSize(tt.in)
		if (msg != "") != tt.wantErr || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %q; want %d, error %v", tt.in, got, msg, tt.want, tt.wantErr)
		}
	}
}

func TestListenAddr(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"0.0.0.0:80", "0.0.0.0:80"},
		{":8080", "0.0.0.0:8080"},
		{"127.0.0.1:443", "127.0.0.1:443"},
		{"[::]:80", "[::]:80"},
		{"80", ""},
		{"localhost:80", ""},
		{"0.0.0.0:0", ""},
		{"0.0.0.0:http", ""},
	}
	for _, tt := range tests {
		got, msg := listenAddr(tt.in)
		if got != tt.want || (tt.want == "") != (msg != "") {
			t.Errorf("listenAddr(%q) = %q, %q; want %q", tt.in, got, msg, tt.want)
		}
	}
}
