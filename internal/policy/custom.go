package policy

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

// Custom rules are CEL expressions over one variable, spec, whose type is
// Spec as declared by its cel struct tags. The expression is true when the
// container violates the rule. Expressions are compiled and type-checked
// once, when the policy loads: a misspelled field is a load error, not a
// rule that never fires. Go's nil slices and maps read as empty lists and
// maps, so `spec.cap_add.exists(c, ...)` needs no null check.

// Evaluation is not cost-tracked at run time (tracking cost 55% of the
// evaluation rate, measured by BenchmarkEvaluate). Instead each expression's
// worst case is estimated when it compiles, with every list and map of the
// spec taken as holding up to celMaxItems entries and every string up to
// celMaxString bytes, and an expression over celCostLimit is refused: that
// keeps a rule such as three nested exists() over env from stalling a
// deploy or the guard.
const (
	celMaxItems  = 1000
	celMaxString = 4096
	celCostLimit = 10_000_000
)

type specSizes struct{}

func (specSizes) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	if len(n.Path()) == 0 {
		return nil
	}
	switch n.Type().Kind() {
	case types.ListKind, types.MapKind:
		return &cost.SizeEstimate{Min: 0, Max: celMaxItems}
	case types.StringKind:
		return &cost.SizeEstimate{Min: 0, Max: celMaxString}
	}
	return nil
}

func (specSizes) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

var (
	celEnvOnce sync.Once
	celEnv     *cel.Env
	celEnvErr  error
)

func specEnv() (*cel.Env, error) {
	celEnvOnce.Do(func() {
		celEnv, celEnvErr = cel.NewEnv(
			ext.NativeTypes(reflect.TypeFor[Spec](), ext.ParseStructTags(true)),
			cel.Variable("spec", cel.ObjectType("policy.Spec")),
			ext.Strings(),
			ext.Lists(),
			ext.Sets(),
		)
	})
	return celEnv, celEnvErr
}

// CELError is a custom rule that does not compile, with the position in the
// expression (1-based line and column) of each problem.
type CELError struct {
	Rule     string
	Problems []CELProblem
}

// CELProblem is one compile error.
type CELProblem struct {
	Line, Column int // within the expression, 1-based
	Msg          string
	Fix          string // "" for the usual advice on fields
}

func (e *CELError) Error() string {
	var parts []string
	for _, p := range e.Problems {
		parts = append(parts, fmt.Sprintf("line %d column %d: %s", p.Line, p.Column, p.Msg))
	}
	return fmt.Sprintf("custom rule %s does not compile: %s", e.Rule, strings.Join(parts, "; "))
}

// CustomRule is a rule written in berth.yaml or a policy file.
type CustomRule struct {
	ID        string
	Title     string
	Severity  Severity
	Violation string // the CEL expression, true when violated
	Message   string
	Fix       string
	Rationale string
}

// Compile type-checks the rule's expression against Spec and returns the
// rule ready to evaluate. An expression whose result is not a bool is an
// error too: it could never decide anything.
func (c CustomRule) Compile() (Rule, error) {
	env, err := specEnv()
	if err != nil {
		return Rule{}, fmt.Errorf("setting up CEL: %w", err)
	}
	ast, iss := env.Compile(c.Violation)
	if iss != nil && iss.Err() != nil {
		ce := &CELError{Rule: c.ID}
		for _, e := range iss.Errors() {
			ce.Problems = append(ce.Problems, CELProblem{Line: e.Location.Line(), Column: e.Location.Column() + 1, Msg: e.Message})
		}
		return Rule{}, ce
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return Rule{}, &CELError{Rule: c.ID, Problems: []CELProblem{{Line: 1, Column: 1,
			Msg: fmt.Sprintf("the expression is a %s, not a bool", ast.OutputType()),
			Fix: "write it so that it is true when the container violates the rule, e.g. spec.memory == 0"}}}
	}
	est, err := env.EstimateCost(ast, specSizes{})
	switch {
	case err != nil:
		return Rule{}, &CELError{Rule: c.ID, Problems: []CELProblem{{Line: 1, Column: 1,
			Msg: "its cost on a large container cannot be estimated: " + err.Error(),
			Fix: "simplify the expression"}}}
	case est.Max > celCostLimit:
		return Rule{}, &CELError{Rule: c.ID, Problems: []CELProblem{{Line: 1, Column: 1,
			Msg: fmt.Sprintf("the expression may take up to %d steps on a large container (1,000 entries per list, 4 KiB strings), over the limit of %d", est.Max, celCostLimit),
			Fix: "avoid comprehensions (exists, all, map, filter) nested in each other, and regular expressions inside comprehensions"}}}
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return Rule{}, &CELError{Rule: c.ID, Problems: []CELProblem{{Line: 1, Column: 1, Msg: err.Error()}}}
	}
	msg := c.Message
	return Rule{
		ID: c.ID, Title: c.Title, Severity: c.Severity, Rationale: c.Rationale, Fix: c.Fix,
		Custom: true, Expr: c.Violation,
		check: func(s *Spec) []string {
			out, _, err := prg.Eval(specActivation{s})
			if err != nil {
				// A rule that cannot decide must not let the container
				// through silently. The error's text is left out: CEL
				// quotes values in it ("no such key: ..."), and a value
				// may be a secret.
				return []string{msg + " (the rule could not be evaluated on this container, a missing map key or a failed conversion; counted as a violation)"}
			}
			if v, ok := out.Value().(bool); ok && v {
				return []string{msg}
			}
			return nil
		},
	}, nil
}

// specActivation binds spec without allocating a map per evaluation.
type specActivation struct{ s *Spec }

func (a specActivation) ResolveName(name string) (any, bool) {
	if name == "spec" {
		return a.s, true
	}
	return nil, false
}

func (specActivation) Parent() interpreter.Activation { return nil }

// SpecFields lists the fields custom rules can use, with their CEL types,
// for `berth policy explain` and the docs.
func SpecFields() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Tag.Get("cel")
			if name == "" {
				continue
			}
			ft := f.Type
			switch {
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				out = append(out, prefix+name+": list")
				walk(ft.Elem(), prefix+name+"[]."+"")
			default:
				out = append(out, prefix+name+": "+celTypeName(ft))
			}
		}
	}
	walk(reflect.TypeFor[Spec](), "spec.")
	sort.Strings(out)
	return out
}

func celTypeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "int"
	case reflect.Slice:
		return "list(" + celTypeName(t.Elem()) + ")"
	case reflect.Map:
		return "map(" + celTypeName(t.Key()) + ", " + celTypeName(t.Elem()) + ")"
	}
	return t.String()
}
