package engine

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// The streams in testdata/build were recorded from Docker 20.10 (API 1.41):
// POST /build of a FROM scratch context whose RUN prints a line to stdout,
// one to stderr, and exits 3 (e2e/testdata/buildfail), with version=1 and
// version=2; and a successful BuildKit build.
func readStream(t *testing.T, name string, b Builder) (string, []BuildEvent, error) {
	t.Helper()
	f, err := os.Open("testdata/build/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []BuildEvent
	id, err := newBuildReader("h1", b, func(ev BuildEvent) { events = append(events, ev) }).read(f)
	return id, events, err
}

func TestBuildStreamFailedStep(t *testing.T) {
	for _, tc := range []struct {
		file    string
		builder Builder
		step    string
		msg     string
	}{
		{"classic-fail.jsonl", BuilderClassic, `Step 3/3 : RUN ["/buildfail"]`, "returned a non-zero code: 3"},
		{"buildkit-fail.jsonl", BuilderKit, `[2/2] RUN ["/buildfail"]`, "exit code: 3"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, events, err := readStream(t, tc.file, tc.builder)
			var fe *BuildFailedError
			if !errors.As(err, &fe) {
				t.Fatalf("want a BuildFailedError, got %v", err)
			}
			if fe.Step != tc.step || !strings.Contains(fe.Msg, tc.msg) {
				t.Errorf("step %q msg %q; want step %q and a message with %q", fe.Step, fe.Msg, tc.step, tc.msg)
			}
			out := strings.Join(fe.Output, "\n")
			for _, want := range []string{"compiling assets", "error: asset pipeline exploded (on purpose)"} {
				if !strings.Contains(out, want) {
					t.Errorf("output of the failed step lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "\x1b") {
				t.Errorf("output keeps terminal escapes: %q", out)
			}
			var steps []string
			for _, ev := range events {
				if ev.Line == "" {
					steps = append(steps, ev.Step)
				}
			}
			if len(steps) == 0 || steps[len(steps)-1] != tc.step {
				t.Errorf("announced steps %q; want the last to be %q", steps, tc.step)
			}
			if !strings.Contains(fe.Error(), tc.step) {
				t.Errorf("the error does not name the step: %v", fe)
			}
		})
	}
}

func TestBuildStreamBuildKitOK(t *testing.T) {
	id, events, err := readStream(t, "buildkit-ok.jsonl", BuilderKit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "sha256:") {
		t.Errorf("image ID %q", id)
	}
	found := false
	for _, ev := range events {
		found = found || ev.Step == "[1/1] COPY hello.txt /hello.txt"
	}
	if !found {
		t.Errorf("the COPY step was not announced: %+v", events)
	}
}
