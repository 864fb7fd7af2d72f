package engine

import (
	"strings"

	cerrdefs "github.com/containerd/errdefs"
)

// IsNotFound reports whether err says the object does not exist.
func IsNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

// IsConflict reports whether err says the object already exists or is in a
// state that forbids the call (a name taken, a container in use).
func IsConflict(err error) bool { return cerrdefs.IsConflict(err) || cerrdefs.IsAlreadyExists(err) }

// IsPortTaken reports whether a container failed to start because a port it
// publishes is in use. The engine gives this failure no error class (it is a
// plain 500), so its two known wordings are matched here, in the one package
// that knows engine messages.
func IsPortTaken(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "port is already allocated") || strings.Contains(s, "address already in use")
}
