package graph

import (
	"sort"
	"strings"
	"unicode"

	"github.com/accessd/accessd/access"
)

// accessd reads the small part of OData $filter that entitlement-management
// clients send to lists of requests and assignments: clauses of the form
// `property eq 'literal'` joined by `and`. Anything else (or, not, other
// operators, functions, unquoted values, properties a list cannot filter on)
// is refused with 400 naming what is not supported, so a client never trusts
// a filter that did nothing.

// filterClause is one `path eq 'value'` of a $filter.
type filterClause struct {
	Path  string // as the client wrote it, e.g. accessPackage/id
	Value string // the literal, with '' read as '
}

// filterToken is one lexical element of a $filter expression.
type filterToken struct {
	kind  tokenKind
	text  string // a word as written, or a string literal's value
	start int    // byte offset, for messages
}

type tokenKind int

const (
	tokWord   tokenKind = iota // property path, operator or keyword
	tokString                  // 'quoted literal'
	tokOpen                    // (
	tokClose                   // )
	tokComma                   // ,
	tokOther                   // anything else: a number, a GUID without quotes, true…
)

// parseFilter reads a $filter expression into its clauses.
func parseFilter(expr string) ([]filterClause, error) {
	toks, err := lexFilter(expr)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, access.Invalidf("$filter is empty; give clauses such as state eq 'delivered'")
	}
	p := filterParser{toks: toks}
	clauses, err := p.conjunction(0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, p.unexpected(p.toks[p.pos])
	}
	return clauses, nil
}

func lexFilter(expr string) ([]filterToken, error) {
	var toks []filterToken
	i := 0
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, filterToken{kind: tokOpen, text: "(", start: i})
			i++
		case c == ')':
			toks = append(toks, filterToken{kind: tokClose, text: ")", start: i})
			i++
		case c == ',':
			toks = append(toks, filterToken{kind: tokComma, text: ",", start: i})
			i++
		case c == '\'':
			start := i
			var b strings.Builder
			i++
			closed := false
			for i < len(expr) {
				if expr[i] == '\'' {
					if i+1 < len(expr) && expr[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(expr[i])
				i++
			}
			if !closed {
				return nil, access.Invalidf("$filter: the string literal starting at position %d has no closing quote (write a quote inside a literal as '')", start+1)
			}
			toks = append(toks, filterToken{kind: tokString, text: b.String(), start: start})
		case isWordByte(c):
			start := i
			for i < len(expr) && (isWordByte(expr[i]) || expr[i] == '/' || expr[i] == '.' || expr[i] == '-') {
				i++
			}
			word := expr[start:i]
			kind := tokWord
			if !unicode.IsLetter(rune(word[0])) && word[0] != '_' && word[0] != '@' && word[0] != '$' {
				kind = tokOther // 42, 3f2a…-guid
			}
			toks = append(toks, filterToken{kind: kind, text: word, start: start})
		default:
			start := i
			for i < len(expr) && !strings.ContainsRune(" \t\r\n()',", rune(expr[i])) {
				i++
			}
			if i == start {
				i++
			}
			toks = append(toks, filterToken{kind: tokOther, text: expr[start:i], start: start})
		}
	}
	return toks, nil
}

func isWordByte(c byte) bool {
	return c == '_' || c == '@' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

type filterParser struct {
	toks []filterToken
	pos  int
}

func (p *filterParser) peek() (filterToken, bool) {
	if p.pos >= len(p.toks) {
		return filterToken{}, false
	}
	return p.toks[p.pos], true
}

// conjunction reads clause (and clause)*, stopping before a ')' when depth > 0.
func (p *filterParser) conjunction(depth int) ([]filterClause, error) {
	var out []filterClause
	for {
		part, err := p.term(depth)
		if err != nil {
			return nil, err
		}
		out = append(out, part...)
		t, ok := p.peek()
		if !ok || (t.kind == tokClose && depth > 0) {
			return out, nil
		}
		if t.kind == tokWord && strings.EqualFold(t.text, "and") {
			p.pos++
			if _, ok := p.peek(); !ok {
				return nil, access.Invalidf("$filter ends after 'and'; give another clause such as state eq 'delivered'")
			}
			continue
		}
		return nil, p.unexpected(t)
	}
}

// term reads one clause or a parenthesised conjunction.
func (p *filterParser) term(depth int) ([]filterClause, error) {
	t, ok := p.peek()
	if !ok {
		return nil, access.Invalidf("$filter ends too early; expected a clause such as state eq 'delivered'")
	}
	switch {
	case t.kind == tokOpen:
		p.pos++
		inner, err := p.conjunction(depth + 1)
		if err != nil {
			return nil, err
		}
		if c, ok := p.peek(); !ok || c.kind != tokClose {
			return nil, access.Invalidf("$filter: the parenthesis at position %d is not closed", t.start+1)
		}
		p.pos++
		return inner, nil
	case t.kind == tokWord && strings.EqualFold(t.text, "not"):
		return nil, access.Invalidf("$filter: operator 'not' is not supported; accessd reads only clauses of the form property eq 'value' joined by and")
	case t.kind != tokWord:
		return nil, p.unexpected(t)
	}
	p.pos++
	path := t.text
	if next, ok := p.peek(); ok && next.kind == tokOpen {
		return nil, access.Invalidf("$filter: function '%s' is not supported; accessd reads only clauses of the form property eq 'value' joined by and", path)
	}
	op, ok := p.peek()
	if !ok {
		return nil, access.Invalidf("$filter ends after '%s'; expected eq and a quoted value", path)
	}
	if op.kind != tokWord || !strings.EqualFold(op.text, "eq") {
		if op.kind == tokWord && isFilterOperator(op.text) {
			return nil, access.Invalidf("$filter: operator '%s' is not supported; only eq is, as in %s eq 'value'", op.text, path)
		}
		return nil, access.Invalidf("$filter: expected eq after '%s', found '%s'", path, op.text)
	}
	p.pos++
	v, ok := p.peek()
	if !ok {
		return nil, access.Invalidf("$filter ends after '%s eq'; expected a value in single quotes", path)
	}
	if v.kind != tokString {
		return nil, access.Invalidf("$filter: the value of %s must be a string in single quotes, such as '%s'; found %s", path, v.text, v.text)
	}
	p.pos++
	return []filterClause{{Path: path, Value: v.text}}, nil
}

func (p *filterParser) unexpected(t filterToken) error {
	switch {
	case t.kind == tokWord && strings.EqualFold(t.text, "or"):
		return access.Invalidf("$filter: operator 'or' is not supported; accessd reads only clauses joined by and")
	case t.kind == tokWord && strings.EqualFold(t.text, "not"):
		return access.Invalidf("$filter: operator 'not' is not supported; accessd reads only clauses of the form property eq 'value' joined by and")
	case t.kind == tokWord && isFilterOperator(t.text):
		return access.Invalidf("$filter: operator '%s' is not supported here; accessd reads only clauses of the form property eq 'value' joined by and", t.text)
	case t.kind == tokClose:
		return access.Invalidf("$filter: the parenthesis at position %d closes nothing", t.start+1)
	}
	return access.Invalidf("$filter: unexpected '%s' at position %d; accessd reads only clauses of the form property eq 'value' joined by and", t.text, t.start+1)
}

// isFilterOperator names the OData operators accessd recognises only to refuse them.
func isFilterOperator(s string) bool {
	switch strings.ToLower(s) {
	case "eq", "ne", "gt", "ge", "lt", "le", "in", "has", "add", "sub", "mul", "div", "mod", "or", "and", "not", "any", "all":
		return true
	}
	return false
}

// filterFields maps the property paths one list can filter on, in their
// canonical spelling, to what each sets. Clients' paths are compared ignoring case.
type filterFields map[string]func(value string) error

// apply parses expr and sets every clause through fields. A property may
// appear only once, since two eq clauses on it would match nothing or the same.
func (f filterFields) apply(expr string) error {
	if strings.TrimSpace(expr) == "" {
		return nil
	}
	clauses, err := parseFilter(expr)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, c := range clauses {
		key, set, ok := f.lookup(c.Path)
		if !ok {
			return access.Invalidf("$filter: property '%s' cannot be filtered on here; filterable: %s", c.Path, strings.Join(f.names(), ", "))
		}
		if seen[key] {
			return access.Invalidf("$filter: property '%s' appears more than once; give it once", c.Path)
		}
		seen[key] = true
		if err := set(c.Value); err != nil {
			return err
		}
	}
	return nil
}

func (f filterFields) lookup(path string) (string, func(string) error, bool) {
	for k, set := range f {
		if strings.EqualFold(k, path) {
			return k, set, true
		}
	}
	return "", nil, false
}

// names lists the filterable paths, for messages.
func (f filterFields) names() []string {
	out := make([]string, 0, len(f))
	for k := range f {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// filterString sets *dst to the literal. Two paths may name the same field
// (beta's targetId and v1.0's target/objectId); giving both is refused.
func filterString(path string, dst *string) func(string) error {
	return func(v string) error {
		if *dst != "" {
			return access.Invalidf("$filter: '%s' filters on what another clause already does; give one of them", path)
		}
		if v == "" {
			return access.Invalidf("$filter: the value of %s must not be empty", path)
		}
		*dst = v
		return nil
	}
}

// filterEnum sets *dst to the enum member the literal names, in any case.
func filterEnum[T ~string](path string, dst *T, parse func(string) (T, bool)) func(string) error {
	return func(v string) error {
		if *dst != "" {
			return access.Invalidf("$filter: '%s' filters on what another clause already does; give one of them", path)
		}
		m, ok := parse(v)
		if !ok {
			return access.Invalidf("$filter: '%s' is not a value of %s", v, path)
		}
		*dst = m
		return nil
	}
}
