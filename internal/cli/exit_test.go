package cli

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/deploy"
	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/release"
)

func TestExitCode(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("deploying: %w", err) }
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitError},
		{&UsageError{Msg: "bad flag"}, ExitConfig},
		{fmt.Errorf("validate: %w", config.ErrorList{{File: "compose.yaml", Line: 1, Msg: "bad"}}), ExitConfig},
		{config.ErrorList{{File: "berth.yaml", Line: 1, Msg: "bad"}}, ExitConfig},
		{wrap(&engine.UnreachableError{Host: "h", Endpoint: "tcp://x:1", Err: errors.New("refused")}), ExitUnreachable},
		{errors.Join(&engine.UnreachableError{Host: "a"}, &engine.UnreachableError{Host: "b"}), ExitUnreachable},
		{wrap(&release.HeldError{}), ExitLocked},
		{wrap(&deploy.HealthError{}), ExitUnhealthy},
		{wrap(&deploy.PortTakenError{}), ExitConflict},
		{&deploy.NameTakenError{}, ExitConflict},
		{wrap(context.Canceled), ExitInterrupted},
	} {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}
