package release

import (
	"slices"
	"strconv"
	"testing"

	"github.com/berthhq/berth/internal/engine"
)

func replicaLabels(svc string, n, i, of int) map[string]string {
	l := AppLabels("shop", svc, n, "v"+strconv.Itoa(n), "h")
	l[LabelReplica], l[LabelReplicas] = strconv.Itoa(i), strconv.Itoa(of)
	return l
}

func TestReplicaNames(t *testing.T) {
	tests := []struct {
		svc     string
		n, i    int
		want    string
		comment string
	}{
		{"web", 4, 1, "shop-web-4", "replica 1 keeps the name releases had before replicas"},
		{"web", 4, 2, "shop-web-4-r2", ""},
		{"web", 1, 3, "shop-web-1-r3", "not shop-web-1-3, which is release 3 of service web-1"},
		{"web-1", 3, 1, "shop-web-1-3", ""},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		if got := ReplicaName("shop", tc.svc, tc.n, tc.i); got != tc.want {
			t.Errorf("ReplicaName(%s, %d, %d) = %s, want %s %s", tc.svc, tc.n, tc.i, got, tc.want, tc.comment)
		}
		if seen[tc.want] {
			t.Errorf("%s names two containers", tc.want)
		}
		seen[tc.want] = true
	}
}

func TestReleasesGroupReplicas(t *testing.T) {
	cs := []engine.ContainerSummary{
		// Release 1 from before replicas: no replica labels.
		{Name: "shop-web-1", ID: "a", Labels: AppLabels("shop", "web", 1, "v1", "h"), State: "exited"},
		{Name: "shop-web-2-r3", ID: "d", Labels: replicaLabels("web", 2, 3, 3), State: "running"},
		{Name: "shop-web-2", ID: "b", Labels: replicaLabels("web", 2, 1, 3), State: "running"},
		{Name: "shop-web-2-r2", ID: "c", Labels: replicaLabels("web", 2, 2, 3), State: "exited"},
		// Release 3 lost its second replica.
		{Name: "shop-web-3", ID: "e", Labels: replicaLabels("web", 3, 1, 2), State: "exited"},
	}
	h := FromContainers(cs)["web"]
	if len(h) != 3 || Next(h) != 4 {
		t.Fatalf("history = %+v, want 3 releases (replicas are not releases)", h)
	}
	old, two, three := h[0], h[1], h[2]
	if old.Replicas != 1 || !old.Complete() || old.Container != "shop-web-1" || old.Running() {
		t.Errorf("release from before replicas: %+v", old)
	}
	var names []string
	for _, c := range two.Containers {
		names = append(names, c.Container)
	}
	if !slices.Equal(names, []string{"shop-web-2", "shop-web-2-r2", "shop-web-2-r3"}) || two.Container != "shop-web-2" || two.ContainerID != "b" {
		t.Errorf("release 2 containers %v, first %s", names, two.Container)
	}
	if two.Replicas != 3 || !two.Running() || two.AllRunning() || two.State != "2 running, 1 exited" {
		t.Errorf("release 2: replicas %d running %v all %v state %q; want 3, true, false, \"2 running, 1 exited\"", two.Replicas, two.Running(), two.AllRunning(), two.State)
	}
	if three.Complete() || !slices.Equal(three.Missing(), []int{2}) {
		t.Errorf("release 3 lost replica 2: complete %v missing %v", three.Complete(), three.Missing())
	}
}
