package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/berthhq/berth/internal/build"
	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/deploy"
	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/release"
)

// Exit codes, one table for every command (docs/exit-codes.md).
const (
	ExitOK          = 0
	ExitError       = 1   // anything not listed below
	ExitConfig      = 2   // bad flags, berth.yaml or compose file, from every command (validate too); nothing was changed
	ExitUnreachable = 3   // a Docker engine did not answer
	ExitLocked      = 4   // another deploy holds the app's lock
	ExitUnhealthy   = 5   // the new release failed its health gate; the previous one keeps serving
	ExitConflict    = 6   // a port or container name berth needs is taken by something else
	ExitPolicy      = 7   // policy refused the deploy, or `policy check --fail-on` found violations
	ExitBuild       = 8   // a service's image could not be built (or, with --no-build, found); nothing was deployed
	ExitInterrupted = 130 // Ctrl-C / SIGTERM
)

// IncompleteError says that part of a report could not be made (a host
// stopped answering): the rest was reported.
type IncompleteError struct{ Parts []string }

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("the report is incomplete: %d parts could not be checked (listed above)", len(e.Parts))
}

// NotReadyError is berth doctor's "not yet".
type NotReadyError struct{ NotYet, Answers int }

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("not ready for production: %d of %d answers are \"not yet\"", e.NotYet, e.Answers)
}

// UsageError is a mistake in the command line.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// ExitCode maps an error to the documented exit code.
func ExitCode(err error) int {
	var (
		usage       *UsageError
		unreachable *engine.UnreachableError
		held        *release.HeldError
		unhealthy   *deploy.HealthError
		portTaken   *deploy.PortTakenError
		nameTaken   *deploy.NameTakenError
		proxyConf   *deploy.ProxySettingsError
		refused     *deploy.PolicyError
		violations  *ViolationsError
		incomplete  *IncompleteError
		notReady    *NotReadyError
		buildFailed *build.Error
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.As(err, &usage), config.IsConfigError(err):
		return ExitConfig
	case errors.As(err, &violations), errors.As(err, &notReady):
		return ExitPolicy // failures found outrank parts not checked
	case errors.As(err, &unreachable), errors.As(err, &incomplete):
		return ExitUnreachable
	case errors.As(err, &held):
		return ExitLocked
	case errors.As(err, &unhealthy):
		return ExitUnhealthy
	case errors.As(err, &portTaken), errors.As(err, &nameTaken), errors.As(err, &proxyConf):
		return ExitConflict
	case errors.As(err, &refused), errors.As(err, &violations):
		return ExitPolicy
	case errors.As(err, &buildFailed):
		return ExitBuild
	}
	return ExitError
}
