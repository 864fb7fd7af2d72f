package deploy

import (
	"reflect"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthhq/berth/internal/config"
)

// Services roll out side by side unless one depends on another deployed in
// the same run; a dependency left out of the run does not hold anyone back.
func TestWaves(t *testing.T) {
	svc := func(name string, deps ...string) *config.Service {
		s := &config.Service{Name: name, Compose: types.ServiceConfig{Name: name}}
		if len(deps) > 0 {
			s.Compose.DependsOn = types.DependsOnConfig{}
			for _, d := range deps {
				s.Compose.DependsOn[d] = types.ServiceDependency{Condition: types.ServiceConditionStarted}
			}
		}
		return s
	}
	names := func(ws [][]*config.Service) [][]string {
		var out [][]string
		for _, w := range ws {
			var n []string
			for _, s := range w {
				n = append(n, s.Name)
			}
			out = append(out, n)
		}
		return out
	}
	// The shop example: db and quote first, then web and worker (on db),
	// then an admin that needs web.
	got := names(waves([]*config.Service{svc("db"), svc("quote"), svc("web", "db"), svc("worker", "db"), svc("admin", "web", "quote")}))
	want := [][]string{{"db", "quote"}, {"web", "worker"}, {"admin"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("waves = %v, want %v", got, want)
	}
	// `berth deploy web worker`: db is not deployed, so both go at once.
	got = names(waves([]*config.Service{svc("web", "db"), svc("worker", "db")}))
	if want := [][]string{{"web", "worker"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("waves = %v, want %v", got, want)
	}
}
