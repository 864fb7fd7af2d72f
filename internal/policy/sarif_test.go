package policy

import (
	"encoding/json"
	"testing"
)

func TestSARIF(t *testing.T) {
	custom, err := CustomRule{ID: "team-label", Title: "No team label", Severity: High, Violation: `!("team" in spec.labels)`, Message: "has no team label"}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	rules := append(Rules(), custom)
	b, err := SARIF([]SARIFResult{
		{Finding: Finding{Rule: "privileged", Severity: Critical, Container: "web", Message: "runs privileged", Fix: "remove it"}, File: "compose.yaml", Line: 3},
		{Finding: Finding{Rule: "root-user", Severity: Medium, Container: "web", Message: "runs as root", Waived: true, Waiver: "vendor image"}, Logical: "h1/shop-web-1"},
		{Finding: Finding{Rule: "team-label", Severity: High, Container: "web", Message: "has no team label"}, File: "compose.yaml", Line: 3},
	}, rules, "test")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version string
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string
					Rules []struct{ ID string }
				}
			}
			Results []struct {
				RuleID       string
				Level        string
				Locations    []map[string]any
				Suppressions []struct{ Kind, Justification string }
			}
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if doc.Version != "2.1.0" || len(doc.Runs) != 1 || doc.Runs[0].Tool.Driver.Name != "berth" || len(doc.Runs[0].Tool.Driver.Rules) != len(builtin)+1 || doc.Runs[0].Tool.Driver.Rules[len(builtin)].ID != "team-label" {
		t.Fatalf("run header: %s", b)
	}
	rs := doc.Runs[0].Results
	if len(rs) != 3 || rs[0].RuleID != "privileged" || rs[0].Level != "error" || len(rs[0].Locations) != 1 || rs[0].Locations[0]["physicalLocation"] == nil {
		t.Errorf("first result: %+v", rs[0])
	}
	if len(rs[1].Suppressions) != 1 || rs[1].Suppressions[0].Justification != "vendor image" || rs[1].Level != "warning" {
		t.Errorf("a waived finding must be a suppressed result: %+v", rs[1])
	}
}
