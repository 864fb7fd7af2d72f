package policy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// TestBuildUser: a service built from the project's Dockerfile has the
// final stage's USER, known without an engine; what the file does not
// settle stays unknown.
func TestBuildUser(t *testing.T) {
	for _, c := range []struct {
		name, dockerfile, target string
		user                     string
		known                    bool
	}{
		{"scratch with USER", "FROM scratch\nCOPY shop /shop\nUSER 65534:65534\nENTRYPOINT [\"/shop\"]\n", "", "65534:65534", true},
		{"scratch without USER is root", "FROM scratch\nCOPY app /app\n", "", "", true},
		{"base image without USER", "FROM alpine:3.20\nRUN apk add curl\n", "", "", false},
		{"base image with USER", "FROM node:20\nUSER node\n", "", "node", true},
		{"USER from a build argument", "FROM scratch\nARG UID=1000\nUSER $UID\n", "", "", false},
		{"multi-stage: the final stage counts", "FROM golang:1.22 AS build\nUSER root\nRUN go build\nFROM scratch\nCOPY --from=build /app /app\nUSER 10001\n", "", "10001", true},
		{"multi-stage: inherited from an earlier stage", "FROM alpine:3.20 AS base\nUSER app\nFROM base\nCOPY x /x\n", "", "app", true},
		{"target stage", "FROM scratch AS prod\nUSER 10001\nFROM scratch AS debug\n", "prod", "10001", true},
		{"comments and continuations", "# syntax=docker/dockerfile:1\nFROM --platform=$BUILDPLATFORM scratch\nCOPY a \\\n  /a\n# USER root\nuser 1000\n", "", "1000", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(c.dockerfile), 0o600); err != nil {
				t.Fatal(err)
			}
			u, ok := BuildUser(&types.BuildConfig{Context: dir, Target: c.target})
			if u != c.user || ok != c.known {
				t.Errorf("BuildUser = %q, %v; want %q, %v", u, ok, c.user, c.known)
			}
		})
	}
	if u, ok := BuildUser(&types.BuildConfig{DockerfileInline: "FROM scratch\nUSER 1\n"}); u != "1" || !ok {
		t.Errorf("inline Dockerfile: %q, %v", u, ok)
	}
	if _, ok := BuildUser(&types.BuildConfig{Context: "https://github.com/acme/app.git"}); ok {
		t.Errorf("a remote context was read")
	}
	if _, ok := BuildUser(nil); ok {
		t.Errorf("no build: known")
	}
}
