package portal

import (
	"fmt"
	"html/template"
	"strings"
	"time"
	"unicode"
)

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"signin", "myaccess", "request", "approvals", "admin", "adminrequest", "adminedit", "adminextension", "error"}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"when":   shortTime,
		"spaced": spaced,
		"lower":  strings.ToLower,
		"questionSet": func(prefix string, qs []questionWire) questionSet {
			return questionSet{Prefix: prefix, Questions: qs}
		},
	}
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/questions.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("portal: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// questionSet is what the "questions" template asks: a policy's questions,
// each a form field named Prefix-{question id}.
type questionSet struct {
	Prefix    string
	Questions []questionWire
}

// shortTime is an API timestamp as a person reads it, in UTC.
func shortTime(s string) string {
	if s == "" {
		return ""
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

// spaced writes a PascalCase or camelCase value as words:
// PendingApproval → "Pending approval".
func spaced(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte(' ')
			r = unicode.ToLower(r)
		} else if i == 0 {
			r = unicode.ToUpper(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
