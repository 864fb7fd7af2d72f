package release

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/berthhq/berth/internal/engine"
)

func TestFromContainersAndNext(t *testing.T) {
	cs := []engine.ContainerSummary{
		{Name: "shop-web-3", Labels: AppLabels("shop", "web", 3, "v3", "h3"), State: "running"},
		{Name: "shop-web-1", Labels: AppLabels("shop", "web", 1, "v1", "h1"), State: "exited"},
		{Name: "shop-worker-7", Labels: AppLabels("shop", "worker", 7, "v7", "h7"), State: "running"},
		{Name: "berth-lock-shop", Labels: map[string]string{LabelApp: "shop", LabelRole: RoleLock}},
		{Name: "weird", Labels: map[string]string{LabelApp: "shop", LabelRole: RoleApp, LabelService: "web", LabelRelease: "x"}},
	}
	h := FromContainers(cs)
	if len(h["web"]) != 2 || h["web"][0].Number != 1 || h["web"][1].Number != 3 {
		t.Fatalf("web history = %+v, want releases 1 and 3 oldest first", h["web"])
	}
	if !h["web"][1].Running() || h["web"][0].Running() {
		t.Errorf("running flags wrong: %+v", h["web"])
	}
	if got := Next(h["web"]); got != 4 {
		t.Errorf("Next = %d, want 4", got)
	}
	if got := Next(nil); got != 1 {
		t.Errorf("Next(empty) = %d, want 1", got)
	}
	if _, ok := Find(h["web"], 2); ok {
		t.Errorf("found release 2, which does not exist")
	}
	if ContainerName("shop", "web", 4) != "shop-web-4" || AccessoryName("shop", "db") != "shop-db" {
		t.Errorf("names changed")
	}
}

// fakeEngine holds containers by name with the engine's create semantics:
// a taken name is a conflict.
type fakeEngine struct {
	mu         sync.Mutex
	containers map[string]engine.ContainerSpec
}

func (f *fakeEngine) Host() string { return "h1" }

func (f *fakeEngine) CreateContainer(_ context.Context, spec engine.ContainerSpec) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.containers[spec.Name]; ok {
		return "", cerrdefs.ErrConflict.WithMessage("name in use")
	}
	f.containers[spec.Name] = spec
	return spec.Name, nil
}

func (f *fakeEngine) InspectContainer(_ context.Context, name string) (engine.ContainerInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.containers[name]
	if !ok {
		return engine.ContainerInfo{}, cerrdefs.ErrNotFound.WithMessage("no such container")
	}
	return engine.ContainerInfo{Name: name, Labels: s.Labels}, nil
}

func (f *fakeEngine) RemoveContainer(_ context.Context, name string, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.containers[name]; !ok {
		return cerrdefs.ErrNotFound.WithMessage("no such container")
	}
	delete(f.containers, name)
	return nil
}

func TestLock(t *testing.T) {
	ctx := context.Background()
	eng := &fakeEngine{containers: map[string]engine.ContainerSpec{}}
	if l, err := Status(ctx, eng, "shop"); err != nil || l != nil {
		t.Fatalf("unlocked app: %v %v", l, err)
	}
	if _, err := Acquire(ctx, eng, "shop", "berth:x", "deploy web", 0); err != nil {
		t.Fatal(err)
	}
	_, err := Acquire(ctx, eng, "shop", "berth:x", "second", 0)
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second acquire: %v, want HeldError", err)
	}
	for _, want := range []string{"deploy web", "berth lock release", "--lock-wait", "h1", Holder()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("lock error lacks %q: %s", want, err)
		}
	}
	// A waiter gets the lock once the holder lets go.
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = Unlock(ctx, eng, "shop")
	}()
	if _, err := Acquire(ctx, eng, "shop", "berth:x", "waiter", 5*time.Second); err != nil {
		t.Fatalf("waiting acquire: %v", err)
	}
	l, _ := Status(ctx, eng, "shop")
	if l == nil || l.Reason != "waiter" {
		t.Errorf("lock after wait: %+v", l)
	}
	if err := Unlock(ctx, eng, "shop"); err != nil {
		t.Fatal(err)
	}
	if err := Unlock(ctx, eng, "shop"); err != nil {
		t.Errorf("unlocking twice should be harmless: %v", err)
	}
}

func TestLockRace(t *testing.T) {
	eng := &fakeEngine{containers: map[string]engine.ContainerSpec{}}
	var wg sync.WaitGroup
	wins := make(chan int, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := Acquire(context.Background(), eng, "shop", "img", "racer", 0); err == nil {
				wins <- i
			}
		}()
	}
	wg.Wait()
	close(wins)
	if n := len(wins); n != 1 {
		t.Errorf("%d racers got the lock, want exactly 1", n)
	}
}
