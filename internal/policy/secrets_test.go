package policy

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// TestSecretCorpus classifies every name and value of the labelled corpus
// with no error in either direction: a real project's settings pass, and
// what matters is still caught.
func TestSecretCorpus(t *testing.T) {
	f, err := os.Open("testdata/secrets.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n, secrets int
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		parts := strings.SplitN(text, "\t", 3)
		if len(parts) != 3 || parts[0] != "secret" && parts[0] != "not" {
			t.Fatalf("testdata/secrets.tsv:%d: want expected<TAB>name<TAB>value, got %q", line, text)
		}
		want, name, value := parts[0] == "secret", parts[1], strings.ReplaceAll(parts[2], `\n`, "\n")
		n++
		if want {
			secrets++
		}
		if got := LooksSecret(name, value); got != want {
			t.Errorf("testdata/secrets.tsv:%d: %s=%s: LooksSecret %v, labelled %s", line, name, parts[2], got, parts[0])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 150 || secrets < 50 || n-secrets < 50 {
		t.Errorf("the corpus has %d entries (%d secrets): want at least 150, with 50 of each kind", n, secrets)
	}
	t.Logf("corpus: %d entries, %d secrets, %d not", n, secrets, n-secrets)
}
