package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"go.yaml.in/yaml/v4"
)

// The schema accepts any string for sizes and durations ("mem_limit: lots"
// is schema-valid); compose-go then fails to convert it, with a message
// that names neither the service nor the line. These keys are checked here,
// with the conversion compose-go applies.
var (
	sizeKeys = [][]string{
		{"mem_limit"}, {"mem_reservation"}, {"memswap_limit"}, {"shm_size"},
		{"deploy", "resources", "limits", "memory"}, {"deploy", "resources", "reservations", "memory"},
	}
	durationKeys = [][]string{
		{"stop_grace_period"},
		{"healthcheck", "interval"}, {"healthcheck", "timeout"}, {"healthcheck", "start_period"}, {"healthcheck", "start_interval"},
		{"deploy", "update_config", "delay"}, {"deploy", "update_config", "monitor"},
		{"deploy", "rollback_config", "delay"}, {"deploy", "rollback_config", "monitor"},
		{"deploy", "restart_policy", "delay"}, {"deploy", "restart_policy", "window"},
	}
)

// enumKeys are values the schema leaves free but the engine or compose-go
// accept only from a set (restart: on-failure may carry :N).
var enumKeys = []struct {
	keys  []string
	valid []string
}{
	{[]string{"restart"}, []string{"no", "always", "on-failure", "unless-stopped"}},
	{[]string{"deploy", "restart_policy", "condition"}, []string{"none", "on-failure", "any"}},
	{[]string{"deploy", "mode"}, []string{"replicated", "global", "replicated-job", "global-job"}},
}

// semanticIssues checks the values of sizes, durations and closed sets of
// every service.
func semanticIssues(root *yaml.Node) []*issue {
	services := valueAt(root, "services")
	if services == nil || services.Kind != yaml.MappingNode {
		return nil
	}
	var out []*issue
	for _, kv := range mergedPairs(services) {
		name, svc := kv[0].Value, kv[1]
		base := "services." + name
		for _, keys := range sizeKeys {
			n := valueAt(svc, keys...)
			if !plainString(n) {
				continue
			}
			if _, err := units.RAMInBytes(n.Value); err != nil {
				out = append(out, &issue{node: n, path: base + "." + strings.Join(keys, "."),
					msg: fmt.Sprintf("%q is not a size", n.Value), fix: "write a number of bytes with a unit, such as 512m or 2g"})
			}
		}
		for _, k := range enumKeys {
			n := valueAt(svc, k.keys...)
			if !plainString(n) {
				continue
			}
			v := n.Value
			if k.keys[0] == "restart" {
				v, _, _ = strings.Cut(v, ":")
			}
			if !slices.Contains(k.valid, v) {
				out = append(out, valueIssue(n, base+"."+strings.Join(k.keys, "."), k.valid))
			}
		}
		for _, keys := range durationKeys {
			n := valueAt(svc, keys...)
			if !plainString(n) {
				continue
			}
			if _, err := time.ParseDuration(n.Value); err != nil {
				out = append(out, &issue{node: n, path: base + "." + strings.Join(keys, "."),
					msg: fmt.Sprintf("%q is not a duration", n.Value), fix: "write a duration with a unit, such as 500ms, 10s or 1m30s"})
			}
		}
	}
	return out
}

// plainString is a literal string value, neither a number nor interpolated.
func plainString(n *yaml.Node) bool {
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" || interpolated(n) {
		return false
	}
	_, err := strconv.ParseFloat(n.Value, 64)
	return err != nil
}

// valueAt walks a key path (merge keys included) and returns the value node
// of the last key, or nil.
func valueAt(n *yaml.Node, keys ...string) *yaml.Node {
	for _, key := range keys {
		n = resolve(n)
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for _, kv := range mergedPairs(n) {
			if kv[0].Value == key {
				next = kv[1]
				break
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return resolve(n)
}
