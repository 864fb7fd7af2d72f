package policy

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode"
)

// One heuristic says what looks like a secret, for containers (policy) and
// images (audit) alike, so the two never disagree. It reads the name and
// the value: a name says a variable is meant to hold a secret (DB_PASSWORD,
// JWT_SIGNING_KEY) unless what follows the secret word says it describes
// one (PASSWORD_MIN_LENGTH, TOKEN_TTL, KEY_FILE); a value is a secret by
// its shape whatever the name (a password inside a URL, a PEM private key,
// a provider's token prefix). Values that hold nothing are never secrets:
// empty, a reference to another variable, a boolean, a placeholder, a path
// to a file. The labelled corpus in testdata/secrets.tsv keeps it honest in
// both directions.

// secretWords are the words that end a secret's name.
var secretWords = map[string]bool{
	"PASS": true, "PASSWD": true, "PASSWORD": true, "PASSWORDS": true, "PASSPHRASE": true, "PWD": true,
	"SECRET": true, "SECRETS": true, "TOKEN": true, "TOKENS": true, "KEY": true, "KEYS": true,
	"APIKEY": true, "CREDENTIAL": true, "CREDENTIALS": true, "CREDS": true,
}

// secretSuffixes catch the same words glued to another (DBPASSWORD,
// ACCESSTOKEN); "PASS" and "KEY" are left out, as BYPASS and MONKEY are not.
var secretSuffixes = []string{"PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "APIKEY", "SECRETKEY", "PRIVATEKEY", "ACCESSKEY"}

// describing words after the secret word make the name one about a secret,
// not one holding it: PASSWORD_MIN_LENGTH, TOKEN_TTL, KEY_ID, SECRET_NAME.
var describing = map[string]bool{
	"FILE": true, "FILES": true, "PATH": true, "DIR": true, "DIRECTORY": true, "LOCATION": true,
	"LENGTH": true, "LEN": true, "MIN": true, "MAX": true, "SIZE": true, "BITS": true, "COUNT": true, "LIMIT": true,
	"TTL": true, "EXPIRY": true, "EXPIRE": true, "EXPIRES": true, "EXPIRATION": true, "TIMEOUT": true, "LIFETIME": true,
	"AGE": true, "DURATION": true, "INTERVAL": true, "ROTATION": true, "DAYS": true, "HOURS": true, "MINUTES": true, "SECONDS": true,
	"ID": true, "IDS": true, "NAME": true, "NAMES": true, "TYPE": true, "ALGORITHM": true, "ALGO": true, "ALG": true, "FORMAT": true, "ENCODING": true,
	"HEADER": true, "URL": true, "URI": true, "ENDPOINT": true, "ISSUER": true, "AUDIENCE": true, "SCOPE": true, "SCOPES": true,
	"PREFIX": true, "SUFFIX": true, "POLICY": true, "REQUIRED": true, "ENABLED": true, "ENABLE": true, "DISABLED": true, "DISABLE": true,
	"RESET": true, "COMPLEXITY": true, "STRENGTH": true, "RETRIES": true, "ATTEMPTS": true, "ROUNDS": true, "COST": true, "ITERATIONS": true,
	"PROVIDER": true, "BACKEND": true, "STORE": true, "SOURCE": true, "MODE": true, "VERSION": true, "FIELD": true, "PARAM": true,
	"REGEX": true, "PATTERN": true, "HINT": true, "LABEL": true, "PROMPT": true, "LEVEL": true, "LOG": true, "LOGGER": true, "LOGGERS": true,
	"ALIAS": true, "MANAGER": true, "ENGINE": true, "DRIVER": true, "KIND": true, "STRATEGY": true, "METHOD": true, "CLASS": true, "HANDLER": true,
}

// notSecretBefore are words that, just before KEY or TOKEN, name
// something public or not a credential: PUBLIC_KEY, GPG_KEYS (fingerprints
// in official images), SORT_KEY, MAX_TOKENS (a count).
var notSecretBefore = map[string]bool{
	"PUBLIC": true, "PUB": true, "GPG": true, "PGP": true, "SORT": true, "PARTITION": true, "PRIMARY": true, "FOREIGN": true,
	"ROUTING": true, "IDEMPOTENCY": true, "CACHE": true, "MAX": true, "MIN": true, "NUM": true,
}

// nameWords splits a variable name into upper-case words at underscores,
// dashes, dots and camelCase boundaries: spring.datasource.password and
// dbPassword are read like DB_PASSWORD.
func nameWords(name string) []string {
	var words []string
	var cur []rune
	runes := []rune(name)
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToUpper(string(cur)))
			cur = cur[:0]
		}
	}
	for i, r := range runes {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			continue
		case unicode.IsUpper(r) && i > 0 && unicode.IsLower(runes[i-1]):
			flush()
		}
		cur = append(cur, r)
	}
	flush()
	return words
}

func isSecretWord(w string) bool {
	if secretWords[w] {
		return true
	}
	for _, s := range secretSuffixes {
		if strings.HasSuffix(w, s) {
			return true
		}
	}
	return false
}

// SecretName says whether a variable's name says it holds a secret
// (DB_PASSWORD, SMTP_PASS, JWT_SIGNING_KEY, GITHUB_TOKEN); one that
// describes a secret (PASSWORD_MIN_LENGTH, TOKEN_TTL, AWS_ACCESS_KEY_ID)
// or points at its file (DB_PASSWORD_FILE: the recommended way) does not.
func SecretName(name string) bool {
	words := nameWords(name)
	last := -1
	for i, w := range words {
		if isSecretWord(w) {
			last = i
		}
	}
	if last < 0 {
		return false
	}
	for _, w := range words[last+1:] {
		if describing[w] {
			return false
		}
	}
	w := words[last]
	switch {
	case w == "PWD" && len(words) == 1: // the shell's working directory
		return false
	case last > 0 && notSecretBefore[words[last-1]] && !strings.HasPrefix(w, "PASS"):
		return false
	}
	return true
}

var (
	// urlPassword is a password in a URL's or DSN's user info:
	// postgres://shop:hunter2@db/shop, redis://:pw@cache:6379.
	urlPassword = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:([^/@\s]+)@`)
	pemKey      = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----`)
	// tokenShapes are providers' documented token formats.
	tokenShapes = regexp.MustCompile(`^(` + strings.Join([]string{
		`gh[pousr]_[A-Za-z0-9]{30,}`, `github_pat_[A-Za-z0-9_]{40,}`, `glpat-[A-Za-z0-9_-]{20,}`,
		`(AKIA|ASIA)[0-9A-Z]{16}`, `xox[abposr]-[A-Za-z0-9-]{10,}`, `(sk|rk)_(live|test)_[A-Za-z0-9]{16,}`,
		`sk-(proj-|ant-)?[A-Za-z0-9_-]{32,}`, `AIza[0-9A-Za-z_-]{35}`, `npm_[A-Za-z0-9]{36}`,
		`SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}`, `eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`,
		`hf_[A-Za-z0-9]{30,}`, `dop_v1_[a-f0-9]{64}`, `pypi-[A-Za-z0-9_-]{50,}`,
	}, "|") + `)$`)
	webhookURL = regexp.MustCompile(`hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+|discord(app)?\.com/api/webhooks/[0-9]+/[A-Za-z0-9_-]+`)
	// reference is a value that only names another variable or a secret
	// store: nothing is written in it.
	reference   = regexp.MustCompile(`^(\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\{\{.*\}\}|%\(.*\)s|(op|vault|awssm|gcpsm|azkv)://\S+|vault:\S+)$`)
	placeholder = regexp.MustCompile(`(?i)^(<[^>]*>|\*{3,}|x{3,}|\.{3}|-|changeme|change[-_]me|change[-_]?it|replace[-_]?me|todo|tbd|fixme|none|null|nil|undefined|your[-_ ].*|.*[-_ ]here|example|dummy|placeholder)$`)
	boolean     = regexp.MustCompile(`(?i)^(true|false|yes|no|on|off|y|n|0|1|enabled?|disabled?)$`)
	logLevel    = regexp.MustCompile(`(?i)^(trace|debug|info|notice|warn|warning|error|fatal|critical|panic|silent)$`)
	filePath    = regexp.MustCompile(`^(/|\./|\.\./|~/|file://)[A-Za-z0-9._/@+-]*$`)
	// notSecretValueNames describe a value that is random but public: a
	// checksum, a commit, an ID.
	notSecretValueNames = map[string]bool{"ID": true, "SHA": true, "SHA1": true, "SHA256": true, "SHA512": true, "CHECKSUM": true,
		"DIGEST": true, "HASH": true, "COMMIT": true, "REVISION": true, "VERSION": true, "URL": true, "HOST": true, "NAME": true, "PATH": true}
)

// holdsNothing is a value with nothing secret in it whatever its name.
func holdsNothing(v string) bool {
	v = strings.TrimSpace(v)
	return v == "" || reference.MatchString(v) || placeholder.MatchString(v) || boolean.MatchString(v) ||
		logLevel.MatchString(v) || filePath.MatchString(v)
}

// SecretValue says whether a value is a secret by its shape alone: a
// password in a URL or DSN, a PEM private key, a known token format, a
// webhook URL with its token.
func SecretValue(v string) bool {
	if m := urlPassword.FindStringSubmatch(v); m != nil && !holdsNothing(m[1]) && !strings.HasPrefix(m[1], "$") {
		return true
	}
	if pemKey.MatchString(v) || webhookURL.MatchString(v) {
		return true
	}
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune(`,;"'=`, r) }) {
		if tokenShapes.MatchString(f) {
			return true
		}
	}
	return false
}

// LooksSecret says whether a variable holds a secret: by its value's
// shape, by its name (with a value that holds something), or, for a name
// that says nothing either way, by a value that is long and random. A
// *_FILE variable names a secrets file, the recommended way, and is not
// one.
func LooksSecret(name, value string) bool {
	if SecretValue(value) {
		return true
	}
	if holdsNothing(value) {
		return false
	}
	if SecretName(name) {
		return true
	}
	words := nameWords(name)
	if len(words) > 0 && (notSecretValueNames[words[len(words)-1]] || words[len(words)-1] == "FILE") {
		return false
	}
	return randomToken(value)
}

// randomToken is a value shaped like a generated key: 24 characters or
// more of a token alphabet, mixing upper case, lower case and digits, with
// high entropy. Logger settings, lists, hex digests and UUIDs are not.
func randomToken(v string) bool {
	if len(v) < 24 || entropy(v) <= 4.0 {
		return false
	}
	var upper, lower, digit bool
	for _, r := range strings.TrimRight(v, "=") {
		switch {
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= '0' && r <= '9':
			digit = true
		case r == '-' || r == '_' || r == '+' || r == '/':
		default:
			return false
		}
	}
	return upper && lower && digit
}

// entropy is Shannon entropy in bits per character.
func entropy(s string) float64 {
	counts := map[rune]int{}
	for _, r := range s {
		counts[r]++
	}
	var h float64
	n := float64(len([]rune(s)))
	for _, c := range counts {
		p := float64(c) / n
		h -= p * math.Log2(p)
	}
	return h
}

// secretHits judges each variable that looks like a secret by where its
// value was written: literally in a committed file, it blocks; from the
// environment (or from a source that cannot say: a request, a running
// container), it warns. Messages name the variable, never the value.
func secretHits(s *Spec) []hit {
	var out []hit
	for _, e := range s.Env {
		if !LooksSecret(e.Name, e.Value) {
			continue
		}
		fix := secretFix(e.Name)
		switch e.Origin {
		case OriginLiteral:
			where := "a committed file"
			if e.Where != "" {
				where = e.Where
			}
			out = append(out, hit{msg: "environment variable " + e.Name + " holds a secret written literally in " + where,
				sev: High, fix: "take the value out of the committed file; " + fix})
		case OriginEnvironment:
			out = append(out, hit{msg: "environment variable " + e.Name + " holds a secret from the environment (.env, an env_file or the shell)",
				sev: Medium, fix: fix})
		default:
			out = append(out, hit{msg: "environment variable " + e.Name + " holds a secret", sev: Medium, fix: fix})
		}
	}
	return out
}

// secretFix shows the compose secrets: way for one variable: images such
// as postgres, mysql and mariadb read NAME_FILE.
func secretFix(name string) string {
	file := strings.ToLower(name)
	return fmt.Sprintf("use a compose secret: secrets: { %s: { file: ./%s.txt } } at the top level, secrets: [%s] on the service, and %s_FILE=/run/secrets/%s instead of %s (postgres, mysql, mariadb and many others read *_FILE; otherwise the app reads the file)",
		file, file, file, name, file, name)
}
