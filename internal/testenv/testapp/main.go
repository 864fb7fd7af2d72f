// Command testapp is the app berth's tests deploy: it serves its version, a
// health path, and can be told to start slowly, fail its health check, or
// hold requests open (for a time, or until released: hold.go). It is built
// static and imported FROM scratch.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func main() {
	version := env("VERSION", "dev")
	if len(os.Args) > 1 && os.Args[1] == "health" {
		// A HEALTHCHECK for images without a shell: healthy unless told not to.
		if os.Getenv("FAIL_HEALTH") != "" {
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 2 && os.Args[1] == "release" {
		os.Exit(releaseCmd(os.Args[2]))
	}
	if p := os.Getenv("ECHO_PORT"); p != "" {
		echo(":"+p, version)
	}
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		log.Printf("worker %s running", version)
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		<-ctx.Done()
		return
	}
	if d, err := time.ParseDuration(env("START_DELAY", "0s")); err == nil && d > 0 {
		log.Printf("starting slowly: %s", d)
		time.Sleep(d)
	}
	failHealth := os.Getenv("FAIL_HEALTH") != ""
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("/up", func(w http.ResponseWriter, r *http.Request) {
		if failHealth {
			log.Printf("health check failing on purpose (FAIL_HEALTH)")
			http.Error(w, "unhealthy on purpose", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if ms, _ := strconv.Atoi(r.URL.Query().Get("hold_ms")); ms > 0 {
			select {
			case <-time.After(time.Duration(ms) * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"version": version, "host": host})
	})
	new(holds).register(mux, version, host)
	// /env and /file let tests see what berth put in the container.
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, os.Getenv(r.URL.Query().Get("k")))
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Write(b)
	})
	mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %s %d\n\n", version, i)
			w.(http.Flusher).Flush()
			time.Sleep(200 * time.Millisecond)
		}
	})
	srv := &http.Server{Addr: ":" + env("PORT", "8080"), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		<-ctx.Done()
		log.Printf("stopping: finishing in-flight requests")
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Printf("testapp %s listening on %s", version, srv.Addr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// echo serves TCP and UDP on addr (ECHO_PORT): every line or datagram comes
// back prefixed with the version, so a test sees which release answered.
func echo(addr, version string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("testapp %s echoing on %s tcp and udp", version, addr)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					fmt.Fprintf(c, "%s %s\n", version, sc.Text())
				}
			}()
		}
	}()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(version+" "+string(buf[:n])), from)
		}
	}()
}
