package audit

import (
	"github.com/berthhq/berth/internal/policy"
)

// Status is a check's outcome.
type Status string

// Statuses. A skipped check says why in Result.Reason: an audit never
// reports a pass it did not see.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Warn    Status = "warn"
	Info    Status = "info"
	Skipped Status = "skipped"
)

// Area groups checks: `berth audit engine|host|containers|images`.
type Area string

// Areas.
const (
	AreaEngine     Area = "engine"
	AreaHost       Area = "host"
	AreaContainers Area = "containers"
	AreaImages     Area = "images"
)

// Check describes one audit check: what `berth audit --only ID` names.
type Check struct {
	ID       string          `json:"id"`
	Area     Area            `json:"area"`
	CIS      string          `json:"cis,omitempty"` // CIS Docker Benchmark item; "" when none maps
	Title    string          `json:"title"`
	Severity policy.Severity `json:"severity"`
	Fix      string          `json:"fix"`
}

// Result is one check's outcome on one host (and, for containers and
// images, one target).
type Result struct {
	Check
	Host     string `json:"host"`
	Target   string `json:"target,omitempty"` // container or image; "" for engine and host checks
	Status   Status `json:"status"`
	Evidence string `json:"evidence,omitempty"` // what was seen, never a secret value
	Reason   string `json:"reason,omitempty"`   // for skipped: why, and how to run it
	Waiver   string `json:"waiver,omitempty"`   // the reason of a waiver that covers it
}

// Result builds c's result.
func (c Check) Result(host string, st Status, evidence string) Result {
	return Result{Check: c, Host: host, Status: st, Evidence: evidence}
}

// Skip is c skipped on host, with the reason and what would let it run.
func (c Check) Skip(host, reason string) Result {
	return Result{Check: c, Host: host, Status: Skipped, Reason: reason}
}
