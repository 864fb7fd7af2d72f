package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthhq/berth/internal/config"
)

// ServiceError places a problem with a service's planned container (a
// secret berth cannot mount, a volume type it does not support) at the
// service's key in its compose file, as a configuration error: the input
// named, exit code 2, never a bare message with no position.
func ServiceError(svc *config.Service, err error) *config.Error {
	var ce *config.Error
	if errors.As(err, &ce) {
		return ce
	}
	msg := strings.TrimPrefix(err.Error(), "service "+svc.Name+": ")
	return &config.Error{File: shownPath(svc.Source.File), Line: svc.Source.Line, Column: svc.Source.Column,
		Path: "services." + svc.Name, Msg: msg}
}

// shownPath is a path relative to the working directory when it is below
// it, as the user would type it.
func shownPath(p string) string {
	if wd, err := os.Getwd(); err == nil && p != "" {
		if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return p
}
