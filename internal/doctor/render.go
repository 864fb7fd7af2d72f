package doctor

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// Text writes the report for a terminal.
func Text(w io.Writer, r Report) error {
	for _, a := range r.Answers {
		fmt.Fprintf(w, "[%s] %s\n", strings.ToUpper(string(a.Verdict)), a.Question)
		for _, e := range a.Evidence {
			fmt.Fprintf(w, "    %s\n", e)
		}
		if a.Next != "" && a.Verdict != Ready {
			fmt.Fprintf(w, "    next: %s\n", a.Next)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Overall: %s. %s\n", strings.ToUpper(string(r.Overall)), r.Summary)
	if len(r.Blockers) > 0 {
		fmt.Fprintln(w, "\nTop blockers, in order:")
		for i, b := range r.Blockers {
			fmt.Fprintf(w, "  %d. [%s] %s at %s: %s\n     fix: %s\n", i+1, b.Severity, b.Check, b.Where, b.What, b.Fix)
		}
	}
	for _, s := range r.Incomplete {
		fmt.Fprintf(w, "not checked: %s\n", s)
	}
	return nil
}

// HTML writes the report as one self-contained page: no scripts, fonts,
// images or styles from anywhere else, so it can be mailed or archived.
func HTML(w io.Writer, r Report, generated time.Time) error {
	return page.Execute(w, struct {
		Report
		Generated string
	}{r, generated.UTC().Format("2006-01-02 15:04 UTC")})
}

var page = template.Must(template.New("doctor").Funcs(template.FuncMap{
	"class": func(v Verdict) string { return strings.ReplaceAll(string(v), " ", "-") },
	"upper": func(v Verdict) string { return strings.ToUpper(string(v)) },
	"inc":   func(i int) int { return i + 1 },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>berth doctor: {{upper .Overall}}</title>
<style>
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1d1d1f; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; }
.meta { color: #666; font-size: .85rem; }
.overall { padding: 1rem; border-radius: 6px; margin: 1rem 0 2rem; font-weight: 600; }
.answer { border-left: 6px solid #999; padding: .2rem 1rem; margin: 1rem 0; background: #fafafa; }
.verdict { font-weight: 700; font-size: .8rem; padding: .1rem .5rem; border-radius: 3px; color: #fff; margin-right: .5rem; }
.ready { border-color: #1a7f37; } .verdict.ready, .overall.ready { background: #1a7f37; color: #fff; }
.not-yet { border-color: #cf222e; } .verdict.not-yet, .overall.not-yet { background: #cf222e; color: #fff; }
.unknown { border-color: #9a6700; } .verdict.unknown, .overall.unknown { background: #9a6700; color: #fff; }
.next { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .85rem; background: #eef; padding: .2rem .4rem; }
ul { margin: .3rem 0; padding-left: 1.2rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; vertical-align: top; border-bottom: 1px solid #ddd; padding: .3rem .5rem; }
</style>
</head>
<body>
<h1>Is this setup ready for production?</h1>
<p class="meta">berth doctor, {{.Generated}}, hosts: {{range $i, $h := .Hosts}}{{if $i}}, {{end}}{{$h}}{{end}}</p>
<div class="overall {{class .Overall}}" id="overall" data-verdict="{{.Overall}}">Overall: {{upper .Overall}}. {{.Summary}}</div>
{{range .Answers}}
<section class="answer {{class .Verdict}}" id="q-{{.ID}}" data-verdict="{{.Verdict}}">
<h2><span class="verdict {{class .Verdict}}">{{upper .Verdict}}</span>{{.Question}}</h2>
<ul>{{range .Evidence}}<li>{{.}}</li>{{end}}</ul>
{{if and .Next (ne .Verdict "ready")}}<p>Next: <span class="next">{{.Next}}</span></p>{{end}}
</section>
{{end}}
{{if .Blockers}}
<h2>Top blockers, in order</h2>
<table id="blockers">
<tr><th>#</th><th>severity</th><th>check</th><th>where</th><th>what</th><th>fix</th></tr>
{{range $i, $b := .Blockers}}<tr><td>{{inc $i}}</td><td>{{$b.Severity}}</td><td>{{$b.Check}}</td><td>{{$b.Where}}</td><td>{{$b.What}}</td><td>{{$b.Fix}}</td></tr>
{{end}}</table>
{{end}}
{{if .Incomplete}}<h2>Not checked</h2><ul>{{range .Incomplete}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body>
</html>
`))
