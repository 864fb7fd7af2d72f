package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/deploy"
	"github.com/berthhq/berth/internal/engine"
)

// loadConfig loads berth.yaml and its compose files and prints the
// warnings (unset variables...) on stderr, where they cannot corrupt
// --format json output.
func loadConfig(ctx context.Context, g *Globals) (*config.Config, error) {
	cfg, err := config.Load(ctx, g.File, config.LoadOptions{Profiles: g.Profiles})
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(g.Stderr, "berth: "+w.Error())
	}
	return cfg, nil
}

// composeFilesLine says which compose files were read, as docker compose
// users need to know once overrides and COMPOSE_FILE are in play.
func composeFilesLine(cfg *config.Config) string {
	names := make([]string, len(cfg.ComposeFiles))
	for i, f := range cfg.ComposeFiles {
		names[i] = relPath(f)
	}
	return "compose files: " + strings.Join(names, ", ")
}

// connectAll connects to every host of cfg at once, so an unreachable one is
// reported within the connect timeout rather than after the others.
func connectAll(ctx context.Context, cfg *config.Config) (map[string]deploy.Engine, func(), error) {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		errs  []error
		conns = map[string]*engine.Client{}
	)
	for _, h := range cfg.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ep := engine.Endpoint{Host: h.Name, URL: h.Endpoint}
			if h.TLS != nil {
				ep.TLSCert, ep.TLSVerify = h.TLS.CertPath, h.TLS.Verify
			}
			c, err := engine.Connect(ctx, ep)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			conns[h.Name] = c
		}()
	}
	wg.Wait()
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	if len(errs) > 0 {
		closeAll()
		return nil, nil, errors.Join(errs...)
	}
	out := map[string]deploy.Engine{}
	for k, v := range conns {
		out[k] = v
	}
	return out, closeAll, nil
}

// newDeployer loads the config and connects its hosts.
func newDeployer(ctx context.Context, g *Globals) (*deploy.Deployer, func(), error) {
	cfg, err := loadConfig(ctx, g)
	if err != nil {
		return nil, nil, err
	}
	hosts, closeAll, err := connectAll(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return &deploy.Deployer{Cfg: cfg, Hosts: hosts, Progress: newProgress(g)}, closeAll, nil
}
