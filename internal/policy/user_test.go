package policy

import (
	"strings"
	"testing"
)

// TestRootUser: without an engine, a container that sets no user runs as
// its image's USER, which is unknown and said so (before: "runs as root"
// for every service, even those whose image sets a user); with the image's
// USER read (deploy, audit), it is judged.
func TestRootUser(t *testing.T) {
	for _, c := range []struct {
		name      string
		user      string
		imageUser *string // nil: the image was not read
		want      string  // "" for no finding
	}{
		{"no user, image not read", "", nil, "unknown"},
		{"no user, image sets 10001", "", ptr("10001"), ""},
		{"no user, image sets app:app", "", ptr("app:app"), ""},
		{"no user, image sets none", "", ptr(""), "the image sets no USER"},
		{"no user, image sets root", "", ptr("root"), "runs as root"},
		{"user 10001, image sets root", "10001", ptr("root"), ""},
		{"user 0:0", "0:0", nil, "runs as root"},
		{"user root", "root", ptr("10001"), "runs as root"},
		{"user 00", "00", nil, "runs as root"},
	} {
		t.Run(c.name, func(t *testing.T) {
			es := hardened()
			es.User = c.user
			s := FromEngine(es, "web")
			if c.imageUser != nil {
				s.SetImageUser(*c.imageUser)
			}
			var msg string
			for _, f := range Default().Evaluate(&s) {
				if f.Rule == "root-user" {
					msg = f.Message
				}
			}
			switch {
			case c.want == "" && msg != "":
				t.Errorf("finding %q, want none", msg)
			case c.want != "" && !strings.Contains(msg, c.want):
				t.Errorf("finding %q, want one saying %q", msg, c.want)
			case c.want == "unknown" && strings.Contains(msg, "runs as root"):
				t.Errorf("an unknown user is reported as root: %q", msg)
			}
		})
	}
	// A running container's inspect carries the user the engine merged in
	// from the image: audit judges that.
	s, err := FromInspect([]byte(`{"Name":"/shop-web-1","Config":{"Image":"shop:1.4","User":"10001"},"HostConfig":{}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range Default().Evaluate(&s) {
		if f.Rule == "root-user" {
			t.Errorf("inspect with the image's user 10001: %s", f.Message)
		}
	}
}

func ptr(s string) *string { return &s }
