package audit

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The documents under testdata/images were recorded from Docker Engine
// 20.10.24 (API 1.41); testdata/images/README.md says how, and which are
// hand-edited variants.

// The images were built on 2026-12-01.
var imageNow = time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)

const (
	testappV1ID = "sha256:59423426dd4ab09ddd41a6413cbf736b024433c78fdf30268a7a50441d9287c0"
	goodID      = "sha256:0ba94689181f8eba0da5f7903486546227109d419939eed25957f2a5d7dd61cf"
	badID       = "sha256:69cc605a511b2b58e76ef9e60fece48cd68cac2137b1a13c957c4a8db4d7f47e"
)

func readImageDoc(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "images", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// imageFacts reads an image's recorded documents: "testapp-v1" is
// testapp-v1.inspect.json and testapp-v1.history.json.
func imageFacts(t *testing.T, inspect, history string) ImageFacts {
	t.Helper()
	return ImageFacts{Inspect: readImageDoc(t, inspect+".inspect.json"), History: readImageDoc(t, history+".history.json")}
}

// tarFiles yields the headers of recorded layer tars, in order, as a
// caller reading GET /images/{id}/get would.
func tarFiles(t *testing.T, layers ...string) func(yield func(string, fs.FileMode) bool) error {
	t.Helper()
	return func(yield func(string, fs.FileMode) bool) error {
		for _, l := range layers {
			f, err := os.Open(filepath.Join("testdata", "images", l))
			if err != nil {
				return err
			}
			defer f.Close()
			tr := tar.NewReader(f)
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
				if !yield(h.Name, h.FileInfo().Mode()) {
					return nil
				}
			}
		}
		return nil
	}
}

// auditImage runs the checks on one image of the recorded list and
// returns its results by check ID.
func auditImage(t *testing.T, id string, f ImageFacts, now time.Time) map[string]Result {
	t.Helper()
	rs := AuditImages("h1", readImageDoc(t, "list.json"), map[string]ImageFacts{id: f}, now)
	out := map[string]Result{}
	for _, r := range rs {
		if r.Target == "" {
			continue
		}
		if _, dup := out[r.ID]; dup {
			t.Fatalf("two results of %s: %+v", r.ID, rs)
		}
		out[r.ID] = r
	}
	return out
}

func TestImageChecks(t *testing.T) {
	withFiles := func(f ImageFacts, files func(func(string, fs.FileMode) bool) error) ImageFacts {
		f.Files = files
		return f
	}
	tests := []struct {
		name   string
		check  string
		id     string
		facts  ImageFacts
		now    time.Time
		status Status
		text   string // in the evidence, or for skipped the reason
		not    string // never in it
	}{
		{"user set", "image-root-user", goodID, imageFacts(t, "fixture-good", "fixture-good"), imageNow, Pass, "runs as user 10001:10001", ""},
		{"no USER", "image-root-user", testappV1ID, imageFacts(t, "testapp-v1", "testapp-v1"), imageNow, Warn, "no USER: runs as root", ""},
		{"USER 0:0", "image-root-user", testappV1ID, imageFacts(t, "edited-user-0", "testapp-v1"), imageNow, Warn, "USER 0:0 is root", ""},

		{"healthcheck", "image-no-healthcheck", goodID, imageFacts(t, "fixture-good", "fixture-good"), imageNow, Pass, "HEALTHCHECK CMD", "/app"},
		{"no healthcheck", "image-no-healthcheck", testappV1ID, imageFacts(t, "testapp-v1", "testapp-v1"), imageNow, Warn, "no HEALTHCHECK", ""},
		{"HEALTHCHECK NONE", "image-no-healthcheck", goodID, imageFacts(t, "edited-healthcheck-none", "fixture-good"), imageNow, Warn, "HEALTHCHECK NONE turns the check off", ""},

		{"version tag", "image-mutable-tag", testappV1ID, imageFacts(t, "testapp-v1", "testapp-v1"), imageNow, Pass, "tagged berth-testapp:v1", ""},
		{"latest", "image-mutable-tag", goodID, imageFacts(t, "edited-latest", "fixture-good"), imageNow, Warn, "only mutable tags: berth-testapp:latest", ""},
		{"latest with a digest", "image-mutable-tag", goodID, imageFacts(t, "edited-latest-digest", "fixture-good"), imageNow, Pass,
			"known by its digest registry.example.com/berth-testapp@sha256:3e1f", ""},
		{"no tag, used", "image-mutable-tag", goodID, withUsers(imageFacts(t, "edited-untagged", "fixture-good"), "shop-web-1"), imageNow, Warn,
			"no tag and no digest, used by shop-web-1", ""},

		{"new", "image-age", testappV1ID, imageFacts(t, "testapp-v1", "testapp-v1"), imageNow, Pass, "built 13 days ago (2026-12-01)", ""},
		{"over 90 days", "image-age", testappV1ID, imageFacts(t, "testapp-v1", "testapp-v1"), imageNow.AddDate(0, 3, 0), Warn,
			"built 103 days ago (2026-12-01): rebuild to pick up security fixes", ""},
		{"over a year", "image-age", testappV1ID, imageFacts(t, "testapp-v1", "testapp-v1"), imageNow.AddDate(1, 0, 0), Fail,
			"built 378 days ago (2026-12-01): rebuild to pick up security fixes", ""},
		{"reproducible build date", "image-age", goodID, imageFacts(t, "edited-created-epoch", "fixture-good"), imageNow, Skipped,
			"created 1970-01-01: the build set a fixed date", ""},

		{"plain env", "image-secret-env", testappV1ID, imageFacts(t, "testapp-v1", "testapp-v1"), imageNow, Pass, "1 environment variable, none looks like a secret", ""},
		{"password and a random value", "image-secret-env", badID, imageFacts(t, "fixture-bad", "fixture-bad"), imageNow, Fail,
			"ENV DB_PASSWORD, SESSION_SEED look like secrets", "LOG_LEVEL"},

		{"clean history", "image-secret-history", goodID, imageFacts(t, "fixture-good", "fixture-good"), imageNow, Pass, "3 build steps, none shows a secret", ""},
		// The ENV step of DB_PASSWORD is image-secret-env's: reported once.
		{"classic build argument", "image-secret-history", badID, imageFacts(t, "fixture-bad", "fixture-bad"), imageNow, Fail,
			"step 6/6 (RUN): build argument API_TOKEN", "DB_PASSWORD"},
		{"BuildKit history", "image-secret-history", goodID, imageFacts(t, "fixture-good", "edited-buildkit"), imageNow, Fail,
			"step 2/13 (ENV): sets AWS_SECRET_ACCESS_KEY; step 5/13 (ADD): a URL's token= parameter; step 7/13 (RUN): build argument NPM_TOKEN; " +
				"step 8/13 (RUN): writes $GITHUB_TOKEN to a file; step 9/13 (RUN): a login's -p password; step 10/13 (RUN): a password in a URL",
			"API_TOKEN"}, // a secret mount used in a header, as meant

		// Secrets given the right way, and look-alikes: -p "$VAR", a
		// secret mount's value in a header, mkdir -p, hex checksums.
		{"secrets handled right", "image-secret-history", goodID, imageFacts(t, "fixture-good", "edited-buildkit-safe"), imageNow, Pass,
			"11 build steps, none shows a secret", ""},

		{"update with install", "image-update-alone", badID, imageFacts(t, "fixture-bad", "fixture-bad"), imageNow, Pass, "6 build steps, no package index update alone", ""},
		{"update alone", "image-update-alone", goodID, imageFacts(t, "fixture-good", "edited-buildkit"), imageNow, Warn, "step 3/13 (RUN): apt-get update alone", "step 4/"},

		{"update with install, BuildKit", "image-update-alone", goodID, imageFacts(t, "fixture-good", "edited-buildkit-safe"), imageNow, Pass, "no package index update alone", ""},

		{"local ADD", "image-remote-add", goodID, imageFacts(t, "fixture-good", "edited-buildkit-safe"), imageNow, Pass, "11 build steps, no ADD of a URL", ""},
		{"no ADD", "image-remote-add", goodID, imageFacts(t, "fixture-good", "fixture-good"), imageNow, Pass, "3 build steps, no ADD of a URL", ""},
		{"classic ADD of a URL", "image-remote-add", badID, imageFacts(t, "fixture-bad", "fixture-bad"), imageNow, Warn,
			"step 4/6 (ADD): a download to /payload.txt (the builder kept only its checksum)", "COPY"},
		{"BuildKit ADD of a URL", "image-remote-add", goodID, imageFacts(t, "fixture-good", "edited-buildkit"), imageNow, Warn,
			"step 5/13 (ADD): https://downloads.example.com/...", "step 6/"}, // step 6 has --checksum

		{"no filesystem", "image-setuid", badID, imageFacts(t, "fixture-bad", "fixture-bad"), imageNow, Skipped, "needs the image's filesystem; run with --deep", ""},
		{"no setuid", "image-setuid", badID, withFiles(imageFacts(t, "fixture-bad", "fixture-bad"), tarFiles(t, "fixture-bad.copy-layer.tar")), imageNow, Pass,
			"none among 4 paths", ""},
		{"setuid and setgid", "image-setuid", badID, withFiles(imageFacts(t, "fixture-suid", "fixture-suid"), tarFiles(t, "fixture-suid.layer.tar")), imageNow, Warn,
			"2 files: /usr/bin/helper (setuid), /usr/bin/wallish (setgid)", "/var/mail"},
		{"filesystem unreadable", "image-setuid", badID, withFiles(imageFacts(t, "fixture-suid", "fixture-suid"), func(func(string, fs.FileMode) bool) error {
			return errors.New("unexpected EOF")
		}), imageNow, Skipped, "reading the image's filesystem: unexpected EOF", ""},

		{"small", "image-size", testappV1ID, imageFacts(t, "testapp-v1", "testapp-v1"), imageNow, Pass, "8.3 MiB", ""},
		{"over 1 GiB", "image-size", goodID, imageFacts(t, "edited-size-2gib", "fixture-good"), imageNow, Warn, "2.0 GiB", ""},
	}
	for _, tt := range tests {
		t.Run(tt.check+"/"+tt.name, func(t *testing.T) {
			r, ok := auditImage(t, tt.id, tt.facts, tt.now)[tt.check]
			if !ok {
				t.Fatalf("no result of %s", tt.check)
			}
			text := r.Evidence
			if r.Status == Skipped {
				text = r.Reason
			}
			if r.Status != tt.status || !strings.Contains(text, tt.text) || tt.not != "" && strings.Contains(text, tt.not) {
				t.Errorf("%s: %s %q (%q), want %s with %q", tt.check, r.Status, r.Evidence, r.Reason, tt.status, tt.text)
			}
			if r.Host != "h1" || r.Area != AreaImages || r.Target == "" {
				t.Errorf("result not placed: %+v", r)
			}
		})
	}
}

func TestImageSetuidLaterLayers(t *testing.T) {
	suid := tarFiles(t, "fixture-suid.layer.tar")
	tests := []struct {
		name  string
		later []string // entries of a later layer: name, or name=mode
		want  string
	}{
		{"whiteout removes it", []string{"usr/bin/.wh.helper"}, "1 file: /usr/bin/wallish (setgid)"},
		{"directory whiteout", []string{"usr/.wh.bin"}, "none among"},
		{"bit dropped", []string{"usr/bin/wallish=0755"}, "1 file: /usr/bin/helper (setuid)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := func(yield func(string, fs.FileMode) bool) error {
				if err := suid(yield); err != nil {
					return err
				}
				for _, e := range tt.later {
					name, _, _ := strings.Cut(e, "=")
					if !yield("./"+name, 0o755) {
						return nil
					}
				}
				return nil
			}
			f := imageFacts(t, "fixture-suid", "fixture-suid")
			f.Files = files
			r := auditImage(t, badID, f, imageNow)["image-setuid"]
			if !strings.Contains(r.Evidence, tt.want) {
				t.Errorf("%s %q, want %q", r.Status, r.Evidence, tt.want)
			}
		})
	}

	many := func(yield func(string, fs.FileMode) bool) error {
		for i := range 12 {
			yield("bin/tool"+string(rune('a'+i)), 0o755|fs.ModeSetuid)
		}
		return nil
	}
	f := imageFacts(t, "fixture-suid", "fixture-suid")
	f.Files = many
	if r := auditImage(t, badID, f, imageNow)["image-setuid"]; !strings.HasPrefix(r.Evidence, "12 files: /bin/toola (setuid), ") || !strings.HasSuffix(r.Evidence, "/bin/toolj (setuid) and 2 more") {
		t.Errorf("12 setuid files: %q", r.Evidence)
	}
}

// A secret's value never reaches the report, whatever the check and
// whatever the document.
func TestImageSecretsNeverShown(t *testing.T) {
	images := map[string]ImageFacts{
		badID:       imageFacts(t, "fixture-bad", "fixture-bad"),
		goodID:      imageFacts(t, "fixture-good", "edited-buildkit"),
		testappV1ID: imageFacts(t, "fixture-bad", "edited-truncated"), // the truncated history holds a build argument's value
	}
	out, err := json.Marshal(AuditImages("h1", readImageDoc(t, "list.json"), images, imageNow))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"not-real", "NotReal", "Zx8Qp2Lr7Vt4Kw9Hm3Nc6Bd1Fg5Js0Ya"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("the report shows a secret (%s): %s", secret, out)
		}
	}
}

func TestImageBrokenDocuments(t *testing.T) {
	history := map[string]bool{"image-secret-history": true, "image-update-alone": true, "image-remote-add": true}
	t.Run("history not JSON", func(t *testing.T) {
		rs := auditImage(t, badID, imageFacts(t, "fixture-bad", "edited-truncated"), imageNow)
		for id, r := range rs {
			switch {
			case history[id] && (r.Status != Skipped || !strings.Contains(r.Reason, "its history (GET /images/{id}/history) is not valid JSON")):
				t.Errorf("%s: %s %q, want skipped for the history", id, r.Status, r.Reason)
			case !history[id] && r.Status == Skipped && id != "image-setuid":
				t.Errorf("%s skipped (%s): it does not read the history", id, r.Reason)
			}
		}
		if rs["image-secret-env"].Status != Fail {
			t.Errorf("the inspect document is still judged: %+v", rs["image-secret-env"])
		}
	})
	t.Run("history not read", func(t *testing.T) {
		f := imageFacts(t, "fixture-bad", "fixture-bad")
		f.History = nil
		r := auditImage(t, badID, f, imageNow)["image-remote-add"]
		if r.Status != Skipped || r.Reason != "its history was not read (GET /images/{id}/history)" {
			t.Errorf("%s %q", r.Status, r.Reason)
		}
	})
	t.Run("inspect not JSON", func(t *testing.T) {
		f := imageFacts(t, "fixture-bad", "fixture-bad")
		f.Inspect = []byte("<html>502 Bad Gateway</html>")
		rs := auditImage(t, badID, f, imageNow)
		if r := rs["image-root-user"]; r.Status != Skipped || !strings.Contains(r.Reason, "its inspect document (GET /images/{id}/json) is not valid JSON") {
			t.Errorf("%s %q", r.Status, r.Reason)
		}
		if r := rs["image-root-user"]; r.Target != "berth-audit-fixture:bad" {
			t.Errorf("target %q: the list still names it", r.Target)
		}
		if r := rs["image-secret-history"]; r.Status != Fail {
			t.Errorf("the history is still judged: %+v", r)
		}
	})
}

func TestImageSprawl(t *testing.T) {
	t.Run("recorded engine", func(t *testing.T) {
		images := map[string]ImageFacts{
			testappV1ID: withUsers(imageFacts(t, "testapp-v1", "testapp-v1"), "shop-web-1"),
			goodID:      imageFacts(t, "fixture-good", "fixture-good"),
			// An intermediate layer of fixture-bad's build and a dangling
			// image, as the caller inspects every image of the list.
			"sha256:727c210d842f5e97e0938c2089fe0a1d1b10a2a9fbfc7a5cb04b3298279308a4": {Inspect: []byte(`{"Id":"sha256:727c210d842f5e97e0938c2089fe0a1d1b10a2a9fbfc7a5cb04b3298279308a4","RepoTags":[],"RepoDigests":[]}`)},
			"sha256:2b1738a6561b23f774de17575439602e4c15ec2b3b5705ac20677691f5ed024e": {Inspect: []byte(`{"Id":"sha256:2b1738a6561b23f774de17575439602e4c15ec2b3b5705ac20677691f5ed024e","RepoTags":[],"RepoDigests":[]}`)},
		}
		rs := AuditImages("h1", readImageDoc(t, "list.json"), images, imageNow)
		var targets []string
		for _, r := range rs {
			if r.Target != "" && !slices.Contains(targets, r.Target) {
				targets = append(targets, r.Target)
			}
		}
		if want := []string{"berth-audit-fixture:good", "berth-testapp:v1"}; !slices.Equal(targets, want) {
			t.Errorf("per-image results for %v, want %v (intermediate and dangling images are sprawl)", targets, want)
		}
		want := []Result{
			imageDangling.Result("h1", Warn, "51 dangling images (no tag, no container), up to 422.5 MiB reclaimable"),
			imageUnused.Result("h1", Info, "10 images no container uses, up to 179.4 MiB: berth-audit-fixture:bad, berth-audit-fixture:good, "+
				"berth-audit-fixture:suid, berth-testapp:policy, berth-testapp:slow and 5 more"),
			imageTotal.Result("h1", Info, "62 images, up to 610.2 MiB (and 5 intermediate build layers)"),
		}
		if got := rs[len(rs)-3:]; !slices.Equal(got, want) {
			t.Errorf("host-wide results\n got %+v\nwant %+v", got, want)
		}
	})
	t.Run("empty list", func(t *testing.T) {
		rs := AuditImages("h1", []byte("[]"), nil, imageNow)
		want := []Result{
			imageDangling.Result("h1", Pass, "no dangling images"),
			imageUnused.Result("h1", Info, "every tagged image is used by a container"),
			imageTotal.Result("h1", Info, "0 images, 0 B"),
		}
		if !slices.Equal(rs, want) {
			t.Errorf("got %+v", rs)
		}
	})
	t.Run("shared sizes known", func(t *testing.T) {
		list := `[{"Id":"sha256:aa","RepoTags":["<none>:<none>"],"Size":3145728,"SharedSize":1048576,"Containers":0},
			{"Id":"sha256:bb","RepoTags":["shop:1.2"],"Size":1048576,"SharedSize":1048576,"Containers":1}]`
		rs := AuditImages("h1", []byte(list), nil, imageNow)
		if rs[0].Evidence != "1 dangling image (no tag, no container), 2.0 MiB reclaimable" || rs[1].Evidence != "every tagged image is used by a container" {
			t.Errorf("got %+v", rs)
		}
	})
	t.Run("list not JSON", func(t *testing.T) {
		rs := AuditImages("h1", []byte("{"), map[string]ImageFacts{goodID: imageFacts(t, "fixture-good", "fixture-good")}, imageNow)
		if len(rs) != len(ImageChecks()) {
			t.Fatalf("%d results, want one per check", len(rs))
		}
		for _, r := range rs[len(rs)-3:] {
			if r.Status != Skipped || !strings.Contains(r.Reason, "the image list (GET /images/json) is not valid JSON") {
				t.Errorf("%s: %s %q", r.ID, r.Status, r.Reason)
			}
		}
		if rs[0].Target != "berth-audit-fixture:good" || rs[0].Status != Pass {
			t.Errorf("the image is still judged from its inspect document: %+v", rs[0])
		}
	})
}

func withUsers(f ImageFacts, users ...string) ImageFacts {
	f.UsedBy = users
	return f
}

func TestImageCatalogue(t *testing.T) {
	cs := ImageChecks()
	var ids []string
	for _, c := range cs {
		if !strings.HasPrefix(c.ID, "image-") || c.Area != AreaImages || c.Title == "" || c.Severity == 0 || slices.Contains(ids, c.ID) {
			t.Errorf("check %+v", c)
		}
		if c.Fix == "" && c.ID != "image-total" {
			t.Errorf("%s has no fix", c.ID)
		}
		ids = append(ids, c.ID)
	}
	// The results come in catalogue order: each image's, then the host's.
	rs := AuditImages("h1", readImageDoc(t, "list.json"), map[string]ImageFacts{badID: imageFacts(t, "fixture-bad", "fixture-bad")}, imageNow)
	var got []string
	for _, r := range rs {
		got = append(got, r.ID)
	}
	if !slices.Equal(got, ids) {
		t.Errorf("results %v, want %v", got, ids)
	}
}
