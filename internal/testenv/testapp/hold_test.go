package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHoldUntilReleased(t *testing.T) {
	mux := http.NewServeMux()
	new(holds).register(mux, "v1", "box")
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}

	if code, _ := get("/release?id=a"); code != http.StatusNotFound {
		t.Errorf("releasing what nobody holds: %d, want 404", code)
	}
	held := make(chan map[string]any)
	go func() {
		_, v := get("/hold?id=a")
		held <- v
	}()
	for {
		if _, v := get("/holding?id=a"); v["holding"] == true {
			break
		}
	}
	select {
	case v := <-held:
		t.Fatalf("the hold ended before its release: %v", v)
	default:
	}
	if code, _ := get("/hold?id=a"); code != http.StatusConflict {
		t.Errorf("a second hold with the same id: %d, want 409", code)
	}
	if code, _ := get("/release?id=a"); code != http.StatusOK {
		t.Errorf("release: %d, want 200", code)
	}
	if v := <-held; v["version"] != "v1" || v["held"] != "a" || v["released"] != true {
		t.Errorf("the held request answered %v", v)
	}
	if _, v := get("/holding?id=a"); v["holding"] != false {
		t.Errorf("still holding after the answer: %v", v)
	}
}
