package config

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "berth.yaml", Line: 3, Column: 5, Path: "services.web", Msg: "bad", Fix: "fix it"},
			"berth.yaml:3:5: services.web: bad (fix: fix it)"},
		{Error{File: "berth.yaml", Line: 3, Msg: "bad"}, "berth.yaml:3: bad"},
		{Error{File: "berth.yaml", Path: "app", Msg: "missing"}, "berth.yaml: app: missing"},
		{Error{Path: "DOCKER_HOST", Msg: "bad", Fix: "unset it"}, "DOCKER_HOST: bad (fix: unset it)"},
		{Error{Msg: "bad"}, "bad"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestErrorListUnwrap(t *testing.T) {
	first := &Error{File: "a.yaml", Line: 1, Msg: "one"}
	var err error = ErrorList{first, {File: "a.yaml", Line: 2, Msg: "two"}}
	if got, want := err.Error(), "a.yaml:1: one\na.yaml:2: two"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
	wrapped := fmt.Errorf("validate: %w", err)
	var e *Error
	if !errors.As(wrapped, &e) || e != first {
		t.Errorf("errors.As found %v; want the first item", e)
	}
	var list ErrorList
	if !errors.As(wrapped, &list) || len(list) != 2 {
		t.Errorf("errors.As(ErrorList) = %v", list)
	}
	if !IsConfigError(wrapped) {
		t.Error("IsConfigError(wrapped list) = false")
	}
	if IsConfigError(errors.New("connection refused")) || IsConfigError(nil) {
		t.Error("IsConfigError is true for a non-config error")
	}
}

func TestErrsSortsByFileThenPosition(t *testing.T) {
	var c errs
	c.add(&Error{File: "berth.yaml", Line: 9, Msg: "b9"})
	c.add(&Error{File: "compose.yaml", Line: 1, Msg: "c1"})
	c.add(&Error{File: "berth.yaml", Line: 2, Column: 7, Msg: "b2:7"})
	c.add(&Error{File: "berth.yaml", Line: 2, Column: 3, Msg: "b2:3"})
	want := "berth.yaml:2:3: b2:3\nberth.yaml:2:7: b2:7\nberth.yaml:9: b9\ncompose.yaml:1: c1"
	if got := c.result().Error(); got != want {
		t.Errorf("result() =\n%s\nwant\n%s", got, want)
	}
	var empty errs
	if empty.result() != nil {
		t.Error("result() of no errors is not nil")
	}
}
