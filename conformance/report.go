package conformance

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"path/filepath"
	"slices"
	"time"
)

// Summary counts results by status.
type Summary struct {
	Pass    int `json:"pass"`
	Fail    int `json:"fail"`
	Skipped int `json:"skipped"`
	Error   int `json:"error"`
}

// Result is one scenario's outcome. Detail says, for a failure, what was
// expected and what was seen (with the server's fault code and reason), for
// a skip or error why. Exchange lists the saved messages, relative to the
// exchange directory.
type Result struct {
	ID         string   `json:"id"`
	Family     string   `json:"family"`
	Level      Level    `json:"level"`
	Persona    string   `json:"persona"`
	Rule       string   `json:"rule"`
	Status     Status   `json:"status"`
	Detail     string   `json:"detail"`
	Title      string   `json:"title"`
	Expected   string   `json:"expected,omitempty"`
	Seen       string   `json:"seen,omitempty"`
	DurationMS int64    `json:"duration_ms"`
	Exchange   []string `json:"exchange,omitempty"`
}

// Report is a run's results in scenario order.
type Report struct {
	Summary Summary  `json:"summary"`
	Results []Result `json:"results"`

	URL      string        `json:"-"`
	Profile  string        `json:"-"`
	Backend  string        `json:"-"`
	Started  time.Time     `json:"-"`
	Duration time.Duration `json:"-"`

	exchangeDir string
}

func (r *Report) add(res Result) {
	r.Results = append(r.Results, res)
	switch res.Status {
	case Pass:
		r.Summary.Pass++
	case Fail:
		r.Summary.Fail++
	case Skipped:
		r.Summary.Skipped++
	default:
		r.Summary.Error++
	}
}

// MustFailed reports whether a must scenario failed or could not run: the
// server does not conform.
func (r *Report) MustFailed() bool {
	for _, x := range r.Results {
		if x.Level == Must && (x.Status == Fail || x.Status == Error) {
			return true
		}
	}
	return false
}

// WriteJSON writes the report as one JSON object:
// {"summary":{…},"results":[…]}.
func (r *Report) WriteJSON(w io.Writer) error {
	out := struct {
		Summary Summary  `json:"summary"`
		Results []Result `json:"results"`
	}{r.Summary, r.Results}
	if out.Results == nil {
		out.Results = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// JUnit XML, as Jenkins, GitLab and Surefire read it: one testsuite per
// family inside testsuites (conformance/testdata/junit.xsd).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties *junitProps     `xml:"properties,omitempty"`
	Cases      []junitTestCase `xml:"testcase"`
}

type junitProps struct {
	Props []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

func seconds(ms int64) string { return fmt.Sprintf("%.3f", float64(ms)/1000) }

// WriteJUnit writes the report as JUnit XML.
func (r *Report) WriteJUnit(w io.Writer) error {
	out := junitSuites{Name: "prsim conformance", Time: fmt.Sprintf("%.3f", r.Duration.Seconds())}
	for _, fam := range Families() {
		s := junitSuite{Name: fam}
		if !r.Started.IsZero() {
			s.Timestamp = r.Started.UTC().Format("2006-01-02T15:04:05")
		}
		var ms int64
		for _, x := range r.Results {
			if x.Family != fam {
				continue
			}
			c := junitTestCase{Classname: "prsim.conformance." + fam, Name: x.ID + " " + x.Title, Time: seconds(x.DurationMS),
				SystemOut: "level: " + string(x.Level) + "\npersona: " + x.Persona + "\nrule: " + x.Rule + "\n" + x.Detail}
			switch x.Status {
			case Fail:
				c.Failure = &junitMessage{Message: x.Detail, Type: string(x.Level), Text: x.Detail}
				s.Failures++
			case Error:
				c.Error = &junitMessage{Message: x.Detail, Type: "runner", Text: x.Detail}
				s.Errors++
			case Skipped:
				c.Skipped = &junitMessage{Message: x.Detail}
				s.Skipped++
			}
			ms += x.DurationMS
			s.Cases = append(s.Cases, c)
		}
		if len(s.Cases) == 0 {
			continue
		}
		s.Tests, s.Time = len(s.Cases), seconds(ms)
		s.Properties = &junitProps{Props: []junitProp{{"url", r.URL}, {"profile", r.Profile}, {"backend", r.Backend}}}
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
		out.Suites = append(out.Suites, s)
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

// statusRank puts failures first in the HTML report.
func statusRank(s Status) int {
	switch s {
	case Fail:
		return 0
	case Error:
		return 1
	case Skipped:
		return 2
	}
	return 3
}

type htmlLink struct{ Name, Href string }

type htmlRow struct {
	Result
	Links []htmlLink
}

// WriteHTML writes the report as one self-contained HTML page (inline CSS,
// no script, nothing fetched): counts at the top (elements count-pass,
// count-fail, count-skipped, count-error), failures and errors first, and
// per scenario the rule, the expectation, what was seen and links to the
// saved exchange files. dir is the directory the page will be saved in;
// links are relative to it.
func (r *Report) WriteHTML(w io.Writer, dir string) error {
	rows := make([]htmlRow, 0, len(r.Results))
	for _, x := range r.Results {
		row := htmlRow{Result: x}
		for _, f := range x.Exchange {
			href := filepath.Join(r.exchangeDir, filepath.FromSlash(f))
			if dir != "" {
				if rel, err := filepath.Rel(dir, href); err == nil {
					href = rel
				}
			}
			row.Links = append(row.Links, htmlLink{Name: f, Href: filepath.ToSlash(href)})
		}
		rows = append(rows, row)
	}
	slices.SortStableFunc(rows, func(a, b htmlRow) int { return statusRank(a.Status) - statusRank(b.Status) })
	page, err := template.New("report").Parse(htmlPage)
	if err != nil {
		return err
	}
	return page.Execute(w, map[string]any{
		"R": r, "Rows": rows, "Verdict": verdict(r),
		"Duration": r.Duration.Round(time.Millisecond).String(),
	})
}

func verdict(r *Report) string {
	if r.MustFailed() {
		return "does not conform: a must scenario failed"
	}
	return "conforms: no must scenario failed"
}

const htmlPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>prsim conformance report</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; }
.counts { display: flex; gap: 1em; margin: 1em 0; }
.counts div { padding: .5em 1em; border-radius: 4px; background: #eee; }
.counts span { font-weight: bold; font-size: 1.3em; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ccc; padding: .4em; vertical-align: top; text-align: left; font-size: .9em; }
td.short { white-space: nowrap; }
td.long { overflow-wrap: anywhere; min-width: 12em; }
tr.fail td.status { background: #f8d0d0; }
tr.error td.status { background: #f8e0b0; }
tr.skipped td.status { background: #e8e8e8; }
tr.pass td.status { background: #d0f0d0; }
code { font-size: .9em; }
</style>
</head>
<body>
<h1>prsim conformance report</h1>
<p>Server <code>{{.R.URL}}</code>, profile <code>{{.R.Profile}}</code>, device backend <code>{{.R.Backend}}</code>, run time {{.Duration}}: <strong id="verdict">{{.Verdict}}</strong>.</p>
<div class="counts">
<div>pass <span id="count-pass">{{.R.Summary.Pass}}</span></div>
<div>fail <span id="count-fail">{{.R.Summary.Fail}}</span></div>
<div>error <span id="count-error">{{.R.Summary.Error}}</span></div>
<div>skipped <span id="count-skipped">{{.R.Summary.Skipped}}</span></div>
</div>
<table>
<thead><tr><th>id</th><th>status</th><th>level</th><th>family</th><th>persona</th><th>rule</th><th>expectation</th><th>seen</th><th>exchange</th></tr></thead>
<tbody>
{{range .Rows}}<tr id="scenario-{{.ID}}" class="{{.Status}}">
<td class="short">{{.ID}}</td><td class="status short">{{.Status}}</td><td class="short">{{.Level}}</td><td class="short">{{.Family}}</td><td class="short">{{.Persona}}</td>
<td class="long">{{.Rule}}</td><td class="long">{{.Title}}{{if .Expected}}<br><em>expected: {{.Expected}}</em>{{end}}</td><td class="long">{{if .Seen}}{{.Seen}}{{else}}{{.Detail}}{{end}}</td>
<td>{{range .Links}}<a href="{{.Href}}">{{.Name}}</a><br>{{end}}</td>
</tr>
{{end}}</tbody>
</table>
</body>
</html>
`
