package config

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadLimited: what may be read as configuration, and what is refused
// before a read that would block or never end.
func TestReadLimited(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, size int64) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tests := []struct {
		path string
		want string // "" for success
	}{
		{write("small.yaml", 10), ""},
		{write("limit.yaml", maxFileSize), ""},
		{write("over.yaml", maxFileSize+1), "is 4194305 bytes, larger than the 4 MiB berth reads"},
		{fifo, "is a FIFO (named pipe), not a regular file"},
		{"/dev/zero", "is a device, not a regular file"},
		{"/dev/null", "is a device, not a regular file"},
		{sock, "is a socket, not a regular file"},
		{dir, "is a directory, not a file"},
		{filepath.Join(dir, "missing"), "file does not exist"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			_, err := readFile(tt.path)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("readFile: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("readFile = %v; want %q", err, tt.want)
			}
		})
	}
}

func TestUsesPlain(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"${TAG}", true},
		{"$TAG", true},
		{"shop:$TAG-x", true},
		{"${TAG:-1}", false},
		{"${TAG-1}", false},
		{"${TAG:?need it}", false},
		{"${TAG:+set}", false},
		{"$$TAG", false},
		{"$${TAG}", false},
		{"${TAGS}", false},
		{"$TAGS", false},
		{"${OTHER:-${TAG}}", true},
		{"no variable", false},
		{"$", false},
	}
	for _, tt := range tests {
		if got := usesPlain(tt.s, "TAG"); got != tt.want {
			t.Errorf("usesPlain(%q, TAG) = %v; want %v", tt.s, got, tt.want)
		}
	}
}
