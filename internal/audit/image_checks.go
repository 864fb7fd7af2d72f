package audit

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/berthhq/berth/internal/policy"
)

// The image checks judge each image on a host from its inspect and history
// documents, as the Engine API sends them, and the host's images as a
// whole from the image list: what `berth audit images` reports.

// ImageFacts is one image as the engine describes it.
type ImageFacts struct {
	Inspect []byte   // GET /images/{id}/json
	History []byte   // GET /images/{id}/history
	UsedBy  []string // names of containers (any state) using it
	// Files, when set, yields the tar headers of the image's filesystem
	// (e.g. from GET /images/{id}/get), layer by layer, for the
	// setuid/setgid check; nil: that check is skipped with the reason.
	Files func(yield func(name string, mode fs.FileMode) bool) error
}

var (
	imageRootUser = Check{ID: "image-root-user", Area: AreaImages, CIS: "4.1", Severity: policy.Medium,
		Title: "Image runs as root",
		Fix:   "create a user in the Dockerfile and end it with USER 10001 (or set user: in the compose file)"}
	imageNoHealthcheck = Check{ID: "image-no-healthcheck", Area: AreaImages, CIS: "4.6", Severity: policy.Low,
		Title: "Image has no HEALTHCHECK",
		Fix:   "add a HEALTHCHECK to the Dockerfile (or a healthcheck: in the compose file)"}
	imageMutableTag = Check{ID: "image-mutable-tag", Area: AreaImages, Severity: policy.Medium,
		Title: "Image known only by a mutable tag",
		Fix:   "tag every build with an immutable version (a release number or the git commit) and deploy that tag or the digest"}
	imageAge = Check{ID: "image-age", Area: AreaImages, CIS: "4.4", Severity: policy.Medium,
		Title: "Image not rebuilt for a long time",
		Fix:   "rebuild on a freshly pulled base (docker build --pull) to pick up security fixes, and redeploy"}
	imageSecretEnv = Check{ID: "image-secret-env", Area: AreaImages, CIS: "4.10", Severity: policy.High,
		Title: "Secret in the image's environment",
		Fix:   "rotate the secret; remove the ENV from the Dockerfile and rebuild; give the value at run time as a secrets: file"}
	imageSecretHistory = Check{ID: "image-secret-history", Area: AreaImages, CIS: "4.10", Severity: policy.High,
		Title: "Secret in the image's build history",
		Fix:   "rotate the secret; rebuild passing it as a BuildKit secret (RUN --mount=type=secret), never as ARG, ENV or on the command line"}
	imageUpdateAlone = Check{ID: "image-update-alone", Area: AreaImages, CIS: "4.7", Severity: policy.Low,
		Title: "Package index updated in a step of its own",
		Fix:   "update and install in one RUN (apt-get update && apt-get install ...), so a cached, stale index is never used"}
	imageRemoteAdd = Check{ID: "image-remote-add", Area: AreaImages, CIS: "4.9", Severity: policy.Medium,
		Title: "ADD downloads a remote file",
		Fix:   "download with RUN curl and verify its checksum, or use ADD --checksum=sha256:...; COPY local files"}
	imageSetuid = Check{ID: "image-setuid", Area: AreaImages, CIS: "4.8", Severity: policy.Medium,
		Title: "Setuid or setgid files in the image",
		Fix:   "drop the bits the app does not need, late in the Dockerfile: RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} +"}
	imageSize = Check{ID: "image-size", Area: AreaImages, Severity: policy.Low,
		Title: "Image over 1 GiB",
		Fix:   "start from a slim base and use a multi-stage build that copies only the app into the final stage"}
	imageDangling = Check{ID: "image-dangling", Area: AreaImages, Severity: policy.Low,
		Title: "Dangling images",
		Fix:   "remove them on the host with docker image prune"}
	imageUnused = Check{ID: "image-unused", Area: AreaImages, Severity: policy.Low,
		Title: "Images no container uses",
		Fix:   "remove the images no release needs (docker image rm), keeping those a rollback may need"}
	imageTotal = Check{ID: "image-total", Area: AreaImages, Severity: policy.Low,
		Title: "Images on the host"}
)

// imageRule is a per-image check: judge returns the status and the
// evidence, or, with Skipped, the reason.
type imageRule struct {
	Check
	reads imageDoc
	judge func(c Check, v *imageView, now time.Time) (Status, string)
}

type imageDoc int

const (
	readsInspect imageDoc = iota
	readsHistory
	readsFiles
)

var imageRules = []imageRule{
	{imageRootUser, readsInspect, judgeImageUser},
	{imageNoHealthcheck, readsInspect, judgeImageHealthcheck},
	{imageMutableTag, readsInspect, judgeImageTag},
	{imageAge, readsInspect, judgeImageAge},
	{imageSecretEnv, readsInspect, judgeImageSecretEnv},
	{imageSecretHistory, readsHistory, judgeImageSecretHistory},
	{imageUpdateAlone, readsHistory, judgeImageUpdateAlone},
	{imageRemoteAdd, readsHistory, judgeImageRemoteAdd},
	{imageSetuid, readsFiles, judgeImageSetuid},
	{imageSize, readsInspect, judgeImageSize},
}

// ImageChecks is the catalogue, in report order.
func ImageChecks() []Check {
	var out []Check
	for _, r := range imageRules {
		out = append(out, r.Check)
	}
	return append(out, imageDangling, imageUnused, imageTotal)
}

// imageFinding is the status of a check that found something: warn below
// high severity, fail from high.
func imageFinding(c Check) Status {
	if c.Severity >= policy.High {
		return Fail
	}
	return Warn
}

// The Engine API documents, the fields the checks read.
type (
	imageListEntry struct {
		ID          string `json:"Id"`
		ParentID    string `json:"ParentId"`
		RepoTags    []string
		RepoDigests []string
		Size        int64
		SharedSize  int64 // -1: not computed
		Containers  int64 // -1: not computed
	}
	imageInspect struct {
		ID          string `json:"Id"`
		RepoTags    []string
		RepoDigests []string
		Created     string
		Size        int64
		Os          string
		Config      struct {
			User        string
			Env         []string
			Healthcheck *struct{ Test []string }
		}
	}
	imageHistoryEntry struct{ CreatedBy string }
)

// imageView is one image being judged.
type imageView struct {
	id, target    string
	tags, digests []string // real ones: no <none>:<none>
	usedBy        []string
	inspect       *imageInspect
	inspectErr    string
	history       []imageHistoryEntry
	historyErr    string
	files         func(yield func(name string, mode fs.FileMode) bool) error
}

// AuditImages runs the image checks over one host's images: per-image
// results (Target = the image's first repo tag, or its short ID) and
// host-wide sprawl results. list is GET /images/json?all=1; images is keyed
// by the list's image IDs. Intermediate build layers and dangling images no
// container uses get no per-image results: they are counted as sprawl.
func AuditImages(host string, list []byte, images map[string]ImageFacts, now time.Time) []Result {
	var entries []imageListEntry
	listErr := json.Unmarshal(list, &entries)
	byID := map[string]*imageListEntry{}
	parents := map[string]bool{}
	for i := range entries {
		byID[imageHex(entries[i].ID)] = &entries[i]
		if entries[i].ParentID != "" {
			parents[imageHex(entries[i].ParentID)] = true
		}
	}
	facts := map[string]ImageFacts{}
	for k, f := range images {
		facts[imageHex(k)] = f
	}

	var views []*imageView
	seen := map[string]bool{}
	for key, f := range images {
		v := newImageView(key, f, byID[imageHex(key)])
		if seen[imageHex(v.id)] {
			continue
		}
		seen[imageHex(v.id)] = true
		known := v.inspect != nil || byID[imageHex(v.id)] != nil
		if known && len(v.tags) == 0 && len(v.digests) == 0 && len(v.usedBy) == 0 {
			continue // an intermediate layer or a dangling image: sprawl
		}
		views = append(views, v)
	}
	slices.SortFunc(views, func(a, b *imageView) int {
		return strings.Compare(a.target+"\x00"+a.id, b.target+"\x00"+b.id)
	})

	var out []Result
	for _, v := range views {
		for _, r := range imageRules {
			var res Result
			switch reason := v.missing(r.reads); {
			case reason != "":
				res = r.Skip(host, reason)
			default:
				st, text := r.judge(r.Check, v, now)
				if st == Skipped {
					res = r.Skip(host, text)
				} else {
					res = r.Result(host, st, text)
				}
			}
			res.Target = v.target
			out = append(out, res)
		}
	}
	if listErr != nil {
		reason := fmt.Sprintf("the image list (GET /images/json) is not valid JSON: %v", listErr)
		return append(out, imageDangling.Skip(host, reason), imageUnused.Skip(host, reason), imageTotal.Skip(host, reason))
	}
	return append(out, imageSprawl(host, entries, parents, facts)...)
}

func newImageView(key string, f ImageFacts, entry *imageListEntry) *imageView {
	v := &imageView{id: key, usedBy: f.UsedBy, files: f.Files}
	var ins imageInspect
	switch err := json.Unmarshal(f.Inspect, &ins); {
	case len(f.Inspect) == 0:
		v.inspectErr = "the image was not inspected"
	case err != nil:
		v.inspectErr = fmt.Sprintf("its inspect document (GET /images/{id}/json) is not valid JSON: %v", err)
	default:
		v.inspect = &ins
		if ins.ID != "" {
			v.id = ins.ID
		}
	}
	var hist []imageHistoryEntry
	switch err := json.Unmarshal(f.History, &hist); {
	case len(f.History) == 0:
		v.historyErr = "its history was not read (GET /images/{id}/history)"
	case err != nil:
		v.historyErr = fmt.Sprintf("its history (GET /images/{id}/history) is not valid JSON: %v", err)
	default:
		v.history = hist
	}
	switch {
	case v.inspect != nil:
		v.tags, v.digests = imageRefs(ins.RepoTags, ins.RepoDigests)
	case entry != nil:
		v.tags, v.digests = imageRefs(entry.RepoTags, entry.RepoDigests)
	}
	if len(v.usedBy) == 0 && entry != nil && entry.Containers > 0 {
		v.usedBy = []string{fmt.Sprintf("%d containers", entry.Containers)}
	}
	v.target = imageShortID(v.id)
	if len(v.tags) > 0 {
		v.target = v.tags[0]
	}
	return v
}

// missing says why a document a check reads is not there.
func (v *imageView) missing(d imageDoc) string {
	switch d {
	case readsInspect:
		return v.inspectErr
	case readsHistory:
		return v.historyErr
	}
	return ""
}

// imageRefs drops the engine's placeholders for an untagged image.
func imageRefs(tags, digests []string) (t, d []string) {
	for _, s := range tags {
		if s != "<none>:<none>" && s != "" {
			t = append(t, s)
		}
	}
	for _, s := range digests {
		if s != "<none>@<none>" && s != "" {
			d = append(d, s)
		}
	}
	return t, d
}

func imageHex(id string) string { return strings.TrimPrefix(id, "sha256:") }

func imageShortID(id string) string {
	h := imageHex(id)
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

func judgeImageUser(c Check, v *imageView, _ time.Time) (Status, string) {
	if v.inspect.Os == "windows" {
		return Skipped, "a Windows image: its users are not judged"
	}
	u := strings.TrimSpace(v.inspect.Config.User)
	name, _, _ := strings.Cut(u, ":")
	switch name {
	case "":
		return imageFinding(c), "no USER: runs as root"
	case "root", "0":
		return imageFinding(c), "USER " + u + " is root"
	}
	return Pass, "runs as user " + u
}

func judgeImageHealthcheck(c Check, v *imageView, _ time.Time) (Status, string) {
	hc := v.inspect.Config.Healthcheck
	switch {
	case hc == nil || len(hc.Test) == 0:
		return imageFinding(c), "no HEALTHCHECK"
	case hc.Test[0] == "NONE":
		return imageFinding(c), "HEALTHCHECK NONE turns the check off"
	}
	return Pass, "HEALTHCHECK " + hc.Test[0] // not the command: it may carry a password
}

func judgeImageTag(c Check, v *imageView, _ time.Time) (Status, string) {
	var fixed []string
	for _, t := range v.tags {
		tag := "latest"
		if i := strings.LastIndexByte(t, ':'); i > strings.LastIndexByte(t, '/') {
			tag = t[i+1:]
		}
		if !policy.MovingTag(tag) { // a channel, not a build
			fixed = append(fixed, t)
		}
	}
	switch {
	case len(fixed) > 0:
		return Pass, "tagged " + imageList(fixed, 3)
	case len(v.digests) > 0:
		return Pass, "known by its digest " + v.digests[0]
	case len(v.tags) > 0:
		return imageFinding(c), "only mutable tags: " + imageList(v.tags, 3)
	}
	return imageFinding(c), "no tag and no digest, used by " + imageList(v.usedBy, 3)
}

func judgeImageAge(c Check, v *imageView, now time.Time) (Status, string) {
	created, err := time.Parse(time.RFC3339Nano, v.inspect.Created)
	switch {
	case err != nil:
		return Skipped, fmt.Sprintf("the engine gives no creation time (%q)", v.inspect.Created)
	case created.Before(time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)):
		return Skipped, "created " + created.Format(time.DateOnly) + ": the build set a fixed date (reproducible builds do, e.g. ko or distroless), so its age is unknown"
	}
	days := max(int(now.Sub(created).Hours()/24), 0)
	ev := fmt.Sprintf("built %d days ago (%s)", days, created.Format(time.DateOnly))
	switch {
	case days > 365:
		return Fail, ev + ": rebuild to pick up security fixes"
	case days > 90:
		return Warn, ev + ": rebuild to pick up security fixes"
	}
	return Pass, ev
}

func judgeImageSecretEnv(c Check, v *imageView, _ time.Time) (Status, string) {
	var names []string
	for _, kv := range v.inspect.Config.Env {
		k, val, _ := strings.Cut(kv, "=")
		if policy.LooksSecret(k, val) {
			names = append(names, k) // the name, never the value
		}
	}
	if len(names) == 0 {
		return Pass, imageCount(len(v.inspect.Config.Env), "environment variable") + ", none looks like a secret"
	}
	return imageFinding(c), "ENV " + imageList(names, 10) + " look like secrets"
}

func judgeImageSize(c Check, v *imageView, _ time.Time) (Status, string) {
	if v.inspect.Size > 1<<30 {
		return imageFinding(c), imageBytes(v.inspect.Size)
	}
	return Pass, imageBytes(v.inspect.Size)
}

func judgeImageSetuid(c Check, v *imageView, _ time.Time) (Status, string) {
	if v.files == nil {
		return Skipped, "needs the image's filesystem; run with --deep"
	}
	found := map[string]fs.FileMode{}
	n := 0
	err := v.files(func(name string, mode fs.FileMode) bool {
		p := path.Clean("/" + name)
		dir, base := path.Split(p)
		if strings.HasPrefix(base, ".wh.") { // a later layer deletes it
			if base != ".wh..wh..opq" {
				gone := path.Join(dir, strings.TrimPrefix(base, ".wh."))
				for f := range found {
					if f == gone || strings.HasPrefix(f, gone+"/") {
						delete(found, f)
					}
				}
			}
			return true
		}
		n++
		// Setgid directories (/var/mail) only pass their group on.
		if mode.IsRegular() && mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			found[p] = mode
		} else {
			delete(found, p) // a later layer may have dropped the bit
		}
		return true
	})
	if err != nil {
		return Skipped, fmt.Sprintf("reading the image's filesystem: %v", err)
	}
	if len(found) == 0 {
		return Pass, "none among " + imageCount(n, "path")
	}
	var paths []string
	for p, m := range found {
		switch {
		case m&fs.ModeSetuid != 0 && m&fs.ModeSetgid != 0:
			p += " (setuid, setgid)"
		case m&fs.ModeSetuid != 0:
			p += " (setuid)"
		default:
			p += " (setgid)"
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return imageFinding(c), imageCount(len(paths), "file") + ": " + imageList(paths, 10)
}

// imageSprawl is the host-wide results: dangling images, unused ones, and
// the total.
func imageSprawl(host string, entries []imageListEntry, parents map[string]bool, facts map[string]ImageFacts) []Result {
	var dangling, unused, total imageTally
	intermediate := 0
	for _, e := range entries {
		tags, digests := imageRefs(e.RepoTags, e.RepoDigests)
		used := len(facts[imageHex(e.ID)].UsedBy) > 0 || e.Containers > 0
		named := len(tags) > 0 || len(digests) > 0
		switch {
		case !named && !used && parents[imageHex(e.ID)]:
			intermediate++ // goes with the image built on it
			continue
		case !named && !used:
			dangling.add(e, imageShortID(e.ID))
		case !used:
			name := imageShortID(e.ID)
			if len(tags) > 0 {
				name = tags[0]
			} else if len(digests) > 0 {
				name = digests[0]
			}
			unused.add(e, name)
		}
		total.add(e, "")
	}
	var out []Result
	if dangling.n == 0 {
		out = append(out, imageDangling.Result(host, Pass, "no dangling images"))
	} else {
		out = append(out, imageDangling.Result(host, imageFinding(imageDangling),
			imageCount(dangling.n, "dangling image")+" (no tag, no container), "+dangling.size()+" reclaimable"))
	}
	if unused.n == 0 {
		out = append(out, imageUnused.Result(host, Info, "every tagged image is used by a container"))
	} else {
		slices.Sort(unused.names)
		out = append(out, imageUnused.Result(host, Info,
			imageCount(unused.n, "image")+" no container uses, "+unused.size()+": "+imageList(unused.names, 5)))
	}
	ev := imageCount(total.n, "image") + ", " + total.size()
	if intermediate > 0 {
		ev += " (and " + imageCount(intermediate, "intermediate build layer") + ")"
	}
	return append(out, imageTotal.Result(host, Info, ev))
}

// imageTally adds up images' sizes. The list gives each image's size with
// the layers it shares with others; only when the engine computed
// SharedSize is the unshared part, what removing it frees, known.
type imageTally struct {
	n, bytes int64
	shared   bool // some sizes include shared layers: an upper bound
	names    []string
}

func (t *imageTally) add(e imageListEntry, name string) {
	t.n++
	if e.SharedSize >= 0 {
		t.bytes += e.Size - e.SharedSize
	} else {
		t.bytes += e.Size
		t.shared = true
	}
	if name != "" {
		t.names = append(t.names, name)
	}
}

func (t *imageTally) size() string {
	if t.shared {
		return "up to " + imageBytes(t.bytes)
	}
	return imageBytes(t.bytes)
}

func imageBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[i])
}

// imageList joins the first limit items, saying how many more there are.
func imageList(items []string, limit int) string {
	if len(items) <= limit {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:limit], ", ") + fmt.Sprintf(" and %d more", len(items)-limit)
}

// imageStepList joins findings of build steps, which hold commas.
func imageStepList(items []string) string {
	if len(items) <= 10 {
		return strings.Join(items, "; ")
	}
	return strings.Join(items[:10], "; ") + fmt.Sprintf("; and %d more", len(items)-10)
}

// imageCount is "1 file", "2 files".
func imageCount[N int | int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
