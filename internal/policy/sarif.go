package policy

import (
	"encoding/json"
	"strings"
)

// SARIFResult is one finding placed in a file (or, for a running container,
// at a logical location).
type SARIFResult struct {
	Finding Finding
	File    string // repository-relative path; "" for runtime findings
	Line    int
	Column  int    // 0: unknown
	Logical string // e.g. "host/container" for runtime findings
}

// SARIF renders findings as a SARIF 2.1.0 log, the format GitHub code
// scanning takes. Waived findings are results with a suppression, so they
// are visible and not alerts.
func SARIF(results []SARIFResult, rules []Rule, version string) ([]byte, error) {
	type msg struct {
		Text string `json:"text"`
	}
	type rule struct {
		ID               string         `json:"id"`
		Name             string         `json:"name"`
		ShortDescription msg            `json:"shortDescription"`
		FullDescription  msg            `json:"fullDescription"`
		Help             msg            `json:"help"`
		DefaultConfig    map[string]any `json:"defaultConfiguration"`
		Properties       map[string]any `json:"properties"`
	}
	var driverRules []rule
	for _, r := range rules {
		tags := []string{"security", "docker"}
		if r.Custom {
			tags = append(tags, "custom")
		}
		why := r.Rationale
		if why == "" {
			why = r.Title
		}
		if r.CIS != "" {
			tags = append(tags, "CIS-Docker-"+r.CIS)
		}
		driverRules = append(driverRules, rule{
			ID: r.ID, Name: strings.ReplaceAll(r.Title, " ", ""), ShortDescription: msg{r.Title},
			FullDescription: msg{why}, Help: msg{"Fix: " + r.Fix},
			DefaultConfig: map[string]any{"level": level(r.Severity)},
			Properties:    map[string]any{"tags": tags, "security-severity": securitySeverity(r.Severity)},
		})
	}
	var out []map[string]any
	for _, res := range results {
		f := res.Finding
		r := map[string]any{
			"ruleId":  f.Rule,
			"level":   level(f.Severity),
			"message": msg{f.Container + ": " + f.Message + " (fix: " + f.Fix + ")"},
		}
		loc := map[string]any{}
		if res.File != "" {
			region := map[string]any{"startLine": max(res.Line, 1)}
			if res.Column > 0 {
				region["startColumn"] = res.Column
			}
			loc["physicalLocation"] = map[string]any{"artifactLocation": map[string]any{"uri": res.File}, "region": region}
		}
		if res.Logical != "" {
			loc["logicalLocations"] = []map[string]any{{"fullyQualifiedName": res.Logical, "kind": "resource"}}
		}
		r["locations"] = []any{loc}
		if f.Waived {
			r["suppressions"] = []map[string]any{{"kind": "external", "justification": f.Waiver}}
		}
		out = append(out, r)
	}
	if out == nil {
		out = []map[string]any{}
	}
	doc := map[string]any{
		"version": "2.1.0",
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"runs": []any{map[string]any{
			"tool":    map[string]any{"driver": map[string]any{"name": "berth", "version": version, "informationUri": "https://github.com/berthhq/berth", "rules": driverRules}},
			"results": out,
		}},
	}
	return json.MarshalIndent(doc, "", "  ")
}

func level(s Severity) string {
	switch s {
	case Critical, High:
		return "error"
	case Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity is GitHub's 0-10 scale for security alerts.
func securitySeverity(s Severity) string {
	switch s {
	case Critical:
		return "9.5"
	case High:
		return "8.0"
	case Medium:
		return "5.5"
	}
	return "2.0"
}
