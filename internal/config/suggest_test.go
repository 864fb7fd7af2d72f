package config

import "testing"

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"hosts", "hosts", 0},
		{"hots", "hosts", 1},
		{"hsots", "hosts", 1}, // transposition is one edit
		{"acessory", "accessory", 1},
		{"kitten", "sitting", 3},
		{"", "abc", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d; want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestUnknownName(t *testing.T) {
	valid := []string{"route", "hosts", "deploy", "accessory"}
	tests := []struct {
		name string
		want string
	}{
		{"rout", `unknown key "rout"; did you mean "route"?`},
		{"Hosts", `unknown key "Hosts"; did you mean "hosts"?`},
		{"deplyo", `unknown key "deplyo"; did you mean "deploy"?`},
		{"replicas", `unknown key "replicas" (valid: accessory, deploy, hosts, route)`},
		{"x", `unknown key "x" (valid: accessory, deploy, hosts, route)`},
	}
	for _, tt := range tests {
		if got := unknownName("key", tt.name, valid); got != tt.want {
			t.Errorf("unknownName(%q) = %q; want %q", tt.name, got, tt.want)
		}
	}
	if got, want := unknownName("host", "web", nil), `unknown host "web"`; got != want {
		t.Errorf("unknownName with no candidates = %q; want %q", got, want)
	}
}
