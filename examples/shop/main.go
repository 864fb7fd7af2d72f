// Command shop is the program behind berth's second example, a project
// shaped like a real one: a web front end, a small database with its data
// on a named volume, a worker that writes to it, and a plain TCP service.
// One static binary plays every part (the first argument says which), so
// the example builds FROM scratch with no registry and no internet.
package main

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: shop web|db|worker|quote")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var err error
	switch os.Args[1] {
	case "web":
		err = web(ctx)
	case "db":
		err = db(ctx)
	case "worker":
		err = worker(ctx)
	case "quote":
		err = quote(ctx)
	case "healthcheck": // for HEALTHCHECK in an image with no shell
		err = healthcheck(os.Args[2:])
	default:
		err = fmt.Errorf("unknown part %q", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// dbCall sends one command line to the database and returns its answer.
func dbCall(cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", env("DB_ADDR", "db:7000"), 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintln(c, cmd); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func web(ctx context.Context) error {
	version := env("VERSION", "dev")
	mux := http.NewServeMux()
	mux.HandleFunc("/up", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		orders, err := dbCall("GET orders")
		if err != nil {
			orders = "unknown (" + err.Error() + ")"
		}
		fmt.Fprintf(w, "shop %s: %s orders processed\n", version, orders)
	})
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Printf("web %s listening on :8080", version)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

// db is a tiny counter store: "GET k", "INCR k"; every write is saved to
// /data so the named volume is what keeps it across restarts.
func db(ctx context.Context) error {
	dir := env("DATA_DIR", "/data")
	var mu sync.Mutex
	load := func(k string) int {
		b, _ := os.ReadFile(filepath.Join(dir, k))
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	ln, err := net.Listen("tcp", ":7000")
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); ln.Close() }()
	log.Printf("db listening on :7000, data in %s", dir)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go func() {
			defer c.Close()
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				op, key, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
				if key == "" || strings.ContainsAny(key, "/.") {
					fmt.Fprintln(c, "ERR bad key")
					continue
				}
				mu.Lock()
				n := load(key)
				if strings.EqualFold(op, "INCR") {
					n++
					tmp := filepath.Join(dir, "."+key)
					if err := os.WriteFile(tmp, []byte(strconv.Itoa(n)), 0o600); err == nil {
						err = os.Rename(tmp, filepath.Join(dir, key))
					}
				}
				mu.Unlock()
				fmt.Fprintln(c, n)
			}
		}()
	}
}

func worker(ctx context.Context) error {
	every, err := time.ParseDuration(env("EVERY", "2s"))
	if err != nil {
		return err
	}
	log.Printf("worker processing an order every %s", every)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := dbCall("INCR orders"); err != nil {
				log.Printf("db: %v", err)
			}
		}
	}
}

// quote is a plain TCP service: one line per connection, naming its version.
func quote(ctx context.Context) error {
	version := env("VERSION", "dev")
	ln, err := net.Listen("tcp", ":7007")
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); ln.Close() }()
	log.Printf("quote %s listening on :7007", version)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		fmt.Fprintf(c, "quote %s: ship small, ship often\n", version)
		c.Close()
	}
}

// healthcheck dials addr (tcp) or GETs a URL; exit status is the verdict.
func healthcheck(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: shop healthcheck URL|HOST:PORT")
	}
	if strings.HasPrefix(args[0], "http://") {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get(args[0])
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	c, err := net.DialTimeout("tcp", args[0], 2*time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}
