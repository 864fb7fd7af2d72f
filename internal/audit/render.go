package audit

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/berthhq/berth/internal/policy"
)

// Filter keeps the results --only and --skip select (check IDs).
func Filter(rs []Result, only, skip []string) []Result {
	var out []Result
	for _, r := range rs {
		if len(only) > 0 && !slices.Contains(only, r.ID) {
			continue
		}
		if slices.Contains(skip, r.ID) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// Failing counts the results that fail an audit run with --fail-on
// threshold: fails and warnings at or above it. With threshold 0, only
// fails count. Waived results (info) and skipped ones never do.
func Failing(rs []Result, threshold policy.Severity) int {
	n := 0
	for _, r := range rs {
		switch {
		case r.Status == Fail && r.Severity >= threshold:
			n++
		case r.Status == Warn && threshold > 0 && r.Severity >= threshold:
			n++
		}
	}
	return n
}

// Counts is results per status.
func Counts(rs []Result) map[Status]int {
	m := map[Status]int{}
	for _, r := range rs {
		m[r.Status]++
	}
	return m
}

// Text writes the report for a terminal: per host and area, failures
// first, then a summary and what could not be checked.
func Text(w io.Writer, rep Report) error {
	order := map[Status]int{Fail: 0, Warn: 1, Skipped: 2, Info: 3, Pass: 4}
	areas := []Area{AreaEngine, AreaHost, AreaContainers, AreaImages}
	for _, host := range rep.Hosts {
		for _, area := range areas {
			var rs []Result
			for _, r := range rep.Results {
				if r.Host == host && r.Area == area {
					rs = append(rs, r)
				}
			}
			if len(rs) == 0 {
				continue
			}
			slices.SortStableFunc(rs, func(a, b Result) int { return order[a.Status] - order[b.Status] })
			fmt.Fprintf(w, "== %s: %s ==\n", host, area)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, r := range rs {
				what := r.Title
				if r.Target != "" {
					what = r.Target + ": " + r.Title
				}
				detail := r.Evidence
				switch {
				case r.Status == Skipped:
					detail = "skipped: " + r.Reason
				case r.Waiver != "":
					detail += " (waived: " + r.Waiver + ")"
				case (r.Status == Fail || r.Status == Warn) && r.Fix != "":
					detail += " (fix: " + r.Fix + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", strings.ToUpper(string(r.Status)), r.Severity, r.ID, what, detail)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintln(w)
		}
	}
	c := Counts(rep.Results)
	fmt.Fprintf(w, "%d fail, %d warn, %d pass, %d info, %d skipped\n", c[Fail], c[Warn], c[Pass], c[Info], c[Skipped])
	for _, s := range rep.Incomplete {
		fmt.Fprintf(w, "not checked: %s\n", s)
	}
	return nil
}

// SARIF writes the report as SARIF 2.1.0 (GitHub code scanning): each
// check is a rule, each fail or warning a result at a logical location
// host/target; waived results are suppressed, not dropped.
func SARIF(w io.Writer, rep Report, version string) error {
	type msg struct {
		Text string `json:"text"`
	}
	seen := map[string]bool{}
	var rules []map[string]any
	var results []map[string]any
	for _, r := range rep.Results {
		if r.Status == Pass || r.Status == Skipped || r.Status == Info && r.Waiver == "" {
			continue
		}
		if !seen[r.ID] {
			seen[r.ID] = true
			tags := []string{"security", "docker", string(r.Area)}
			if r.CIS != "" {
				tags = append(tags, "CIS-Docker-"+r.CIS)
			}
			rules = append(rules, map[string]any{
				"id": r.ID, "shortDescription": msg{r.Title}, "help": msg{"Fix: " + r.Fix},
				"properties": map[string]any{"tags": tags, "security-severity": sarifSeverity(r.Severity)},
			})
		}
		loc := r.Host
		if r.Target != "" {
			loc += "/" + r.Target
		}
		level := "warning"
		if r.Status == Fail {
			level = "error"
		}
		res := map[string]any{
			"ruleId": r.ID, "level": level,
			"message":   msg{r.Evidence + " (fix: " + r.Fix + ")"},
			"locations": []map[string]any{{"logicalLocations": []map[string]any{{"fullyQualifiedName": loc, "kind": "resource"}}}},
		}
		if r.Waiver != "" {
			res["suppressions"] = []map[string]any{{"kind": "external", "justification": r.Waiver}}
		}
		results = append(results, res)
	}
	if rules == nil {
		rules = []map[string]any{}
	}
	if results == nil {
		results = []map[string]any{}
	}
	doc := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []map[string]any{{
			"tool":    map[string]any{"driver": map[string]any{"name": "berth", "version": version, "informationUri": "https://github.com/berthhq/berth", "rules": rules}},
			"results": results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func sarifSeverity(s policy.Severity) string {
	switch s {
	case policy.Critical:
		return "9.5"
	case policy.High:
		return "8.0"
	case policy.Medium:
		return "5.5"
	}
	return "3.0"
}

// JUnit writes the report as JUnit XML for CI systems: one suite per host
// and area, one case per result; fails (and, above the threshold, warnings)
// are failures, skipped checks are skipped with their reason.
func JUnit(w io.Writer, rep Report, threshold policy.Severity) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
	type skipped struct {
		Message string `xml:"message,attr"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Failure   *failure `xml:"failure,omitempty"`
		Skipped   *skipped `xml:"skipped,omitempty"`
		SystemOut string   `xml:"system-out,omitempty"`
	}
	type suite struct {
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Skipped  int        `xml:"skipped,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	type suites struct {
		XMLName xml.Name `xml:"testsuites"`
		Name    string   `xml:"name,attr"`
		Suites  []suite  `xml:"testsuite"`
	}
	out := suites{Name: "berth audit"}
	index := map[string]int{}
	for _, r := range rep.Results {
		key := r.Host + "." + string(r.Area)
		i, ok := index[key]
		if !ok {
			i = len(out.Suites)
			index[key] = i
			out.Suites = append(out.Suites, suite{Name: key})
		}
		s := &out.Suites[i]
		name := r.ID
		if r.Target != "" {
			name += " " + r.Target
		}
		tc := testcase{Name: name, Classname: key, SystemOut: r.Evidence}
		switch {
		case r.Status == Skipped:
			tc.Skipped = &skipped{Message: r.Reason}
			s.Skipped++
		case Failing([]Result{r}, threshold) > 0:
			tc.Failure = &failure{Message: r.Title, Type: r.Severity.String(), Text: r.Evidence + "\nfix: " + r.Fix}
			s.Failures++
		}
		s.Tests++
		s.Cases = append(s.Cases, tc)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
