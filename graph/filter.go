package graph

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accessd/accessd/access"
)

// accessd reads $filter and $orderby itself: a tokenizer, then a
// recursive-descent parser with one function per level of precedence
// (or, and, not, comparison). It turns the client's property paths into
// fields of the domain through the list's wireFields, and its literals into
// values of each field's type, so that what reaches access.Query is checked
// and in the domain's words. Whatever it does not read (lambda operators,
// arithmetic, other functions, unknown properties) is refused with 400
// naming the part, so a client never trusts a filter that did nothing.
//
//	filter     = or
//	or         = and { "or" and }
//	and        = not { "and" not }
//	not        = "not" not | comparison
//	comparison = "(" or ")"
//	           | match [ ("eq" | "ne") ("true" | "false") ]
//	           | operand ("eq"|"ne"|"gt"|"ge"|"lt"|"le") operand
//	           | property "in" "(" literal { "," literal } ")"
//	match      = ("startswith" | "endswith" | "contains") "(" property "," string ")"
//	operand    = property | literal
//	property   = path | ("tolower" | "toupper") "(" path ")"
//	literal    = string | number | GUID | date-time | "true" | "false" | "null"

// maxFilterLength bounds a $filter, so that no client makes accessd parse
// or build SQL without end; access.MaxFilterDepth and MaxFilterTerms bound
// what it may hold.
const maxFilterLength = 4000

// ---- tokens ----

type tokenKind int

const (
	tokEnd      tokenKind = iota
	tokWord               // a property path, an operator, a keyword or a function name
	tokString             // 'a literal', with '' read as one quote
	tokNumber             // 42, -1.5
	tokGUID               // 3f2a5c1e-0000-4000-8000-000000000001, without quotes
	tokDateTime           // 2026-01-01T00:00:00Z, without quotes
	tokOpen
	tokClose
	tokComma
	tokOther // anything else: =, +, a cast such as microsoft.graph.user
)

type filterToken struct {
	kind tokenKind
	text string // as written; a string literal's value
	pos  int    // 1-based, for messages
}

// quoted writes a token as the client wrote it, for messages.
func (t filterToken) quoted() string {
	if t.kind == tokString {
		return "'" + strings.ReplaceAll(t.text, "'", "''") + "'"
	}
	return t.text
}

var (
	guidPattern     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	dateTimePattern = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T`)
	numberPattern   = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)
	wordPattern     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$`)
)

// tokenize splits a $filter into tokens. Outside string literals, tokens
// end at spaces, parentheses, commas and quotes.
func tokenize(expr string) ([]filterToken, error) {
	var toks []filterToken
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '(':
			toks = append(toks, filterToken{tokOpen, "(", i + 1})
			i++
		case c == ')':
			toks = append(toks, filterToken{tokClose, ")", i + 1})
			i++
		case c == ',':
			toks = append(toks, filterToken{tokComma, ",", i + 1})
			i++
		case c == '\'':
			value, end, ok := readQuoted(expr, i)
			if !ok {
				return nil, access.Invalidf("$filter: the string starting at position %d has no closing quote (a quote inside a string is written '')", i+1)
			}
			toks = append(toks, filterToken{tokString, value, i + 1})
			i = end
		default:
			start := i
			for i < len(expr) && !strings.ContainsRune(" \t\r\n(),'", rune(expr[i])) {
				i++
			}
			toks = append(toks, filterToken{kindOf(expr[start:i]), expr[start:i], start + 1})
		}
	}
	return append(toks, filterToken{tokEnd, "", len(expr) + 1}), nil
}

// readQuoted reads the string literal that starts at expr[start], a quote;
// two quotes in a row stand for one. It returns the value and where the
// literal ends.
func readQuoted(expr string, start int) (value string, end int, ok bool) {
	var b strings.Builder
	for i := start + 1; i < len(expr); i++ {
		if expr[i] != '\'' {
			b.WriteByte(expr[i])
			continue
		}
		if i+1 < len(expr) && expr[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		return b.String(), i + 1, true
	}
	return "", 0, false
}

func kindOf(word string) tokenKind {
	switch {
	case guidPattern.MatchString(word):
		return tokGUID
	case dateTimePattern.MatchString(word):
		return tokDateTime
	case numberPattern.MatchString(word):
		return tokNumber
	case wordPattern.MatchString(word):
		return tokWord
	}
	return tokOther
}

// ---- the parser ----

// filterParser reads one $filter for one list.
type filterParser struct {
	toks   []filterToken
	pos    int
	fields wireFields
	depth  int // parentheses, not and function calls entered so far
}

// parseFilter reads a $filter into a condition on the list's fields.
func parseFilter(expr string, fields wireFields) (*access.Cond, error) {
	switch {
	case len(expr) > maxFilterLength:
		return nil, access.Invalidf("$filter is %d characters long; at most %d are read", len(expr), maxFilterLength)
	case !utf8.ValidString(expr):
		return nil, access.Invalidf("$filter is not valid UTF-8")
	case strings.TrimSpace(expr) == "":
		return nil, access.Invalidf("$filter is empty; give a condition such as displayName eq 'Sales'")
	}
	toks, err := tokenize(expr)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks, fields: fields}
	c, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEnd {
		return nil, p.unexpected(t)
	}
	// Check holds the bounds on terms and depth the parser does not count.
	if err := (access.Query{Filter: c, Top: 1}).Check(access.FieldsOf[fields.noun]); err != nil {
		return nil, err
	}
	return c, nil
}

func (p *filterParser) peek() filterToken { return p.toks[p.pos] }

func (p *filterParser) next() filterToken {
	t := p.toks[p.pos]
	if t.kind != tokEnd {
		p.pos++
	}
	return t
}

// isWord reports whether the next token is the keyword w, in any case.
func (p *filterParser) isWord(w string) bool {
	t := p.peek()
	return t.kind == tokWord && strings.EqualFold(t.text, w)
}

// enter counts one more level of nesting and refuses too many.
func (p *filterParser) enter() error {
	p.depth++
	if p.depth > access.MaxFilterDepth {
		return access.Invalidf("$filter is nested too deeply (more than %d levels)", access.MaxFilterDepth)
	}
	return nil
}

func (p *filterParser) or() (*access.Cond, error)  { return p.chain(access.OpOr, p.and) }
func (p *filterParser) and() (*access.Cond, error) { return p.chain(access.OpAnd, p.not) }

// chain reads operands joined by op into one condition with all of them,
// so that a long chain is one level deep rather than one per operand.
func (p *filterParser) chain(op access.CondOp, operand func() (*access.Cond, error)) (*access.Cond, error) {
	first, err := operand()
	if err != nil {
		return nil, err
	}
	args := []*access.Cond{first}
	for p.isWord(string(op)) {
		p.next()
		c, err := operand()
		if err != nil {
			return nil, err
		}
		args = append(args, c)
	}
	if len(args) == 1 {
		return first, nil
	}
	return &access.Cond{Op: op, Args: args}, nil
}

func (p *filterParser) not() (*access.Cond, error) {
	if !p.isWord("not") {
		return p.comparison()
	}
	p.next()
	if err := p.enter(); err != nil {
		return nil, err
	}
	c, err := p.not()
	if err != nil {
		return nil, err
	}
	p.depth--
	return &access.Cond{Op: access.OpNot, Args: []*access.Cond{c}}, nil
}

// operand is one side of a comparison: a property (prop set) or a literal.
type operand struct {
	prop *property
	lit  filterToken
}

// property is a property path a condition names, resolved to its field.
type property struct {
	path string // as written
	wireField
	typ access.FieldType
}

func (p *filterParser) comparison() (*access.Cond, error) {
	t := p.peek()
	if t.kind == tokOpen {
		p.next()
		if err := p.enter(); err != nil {
			return nil, err
		}
		c, err := p.or()
		if err != nil {
			return nil, err
		}
		if end := p.next(); end.kind != tokClose {
			return nil, p.expected("')' to close the parenthesis at position "+strconv.Itoa(t.pos), end)
		}
		p.depth--
		return c, nil
	}
	if t.kind == tokWord && p.toks[p.pos+1].kind == tokOpen && isMatch(t.text) {
		return p.match()
	}
	left, err := p.operand()
	if err != nil {
		return nil, err
	}
	opTok := p.next()
	op, err := comparisonOp(opTok, left)
	if err != nil {
		return nil, err
	}
	if op == access.OpIn {
		return p.in(left, opTok)
	}
	right, err := p.operand()
	if err != nil {
		return nil, err
	}
	switch {
	case left.prop != nil && right.prop != nil:
		return nil, access.Invalidf("$filter: '%s %s %s' compares two properties; compare a property with a value", left.prop.path, opTok.text, right.prop.path)
	case left.prop == nil && right.prop == nil:
		return nil, access.Invalidf("$filter: '%s %s %s' compares two values; name a property on one side", left.lit.quoted(), opTok.text, right.lit.quoted())
	case left.prop == nil:
		left, right, op = right, left, mirrored(op)
	}
	return leaf(op, *left.prop, right.lit)
}

// comparisonOp reads the operator after an operand, naming what accessd
// does not read.
func comparisonOp(t filterToken, after operand) (access.CondOp, error) {
	what := after.lit.quoted()
	if after.prop != nil {
		what = after.prop.path
	}
	if t.kind == tokWord {
		switch w := strings.ToLower(t.text); {
		case w == "eq" || w == "ne" || w == "gt" || w == "ge" || w == "lt" || w == "le" || w == "in":
			return access.CondOp(w), nil
		case isArithmetic(w):
			return "", access.Invalidf("$filter: arithmetic operator '%s' is not supported", t.text)
		case w == "has":
			return "", access.Invalidf("$filter: operator 'has' is not supported")
		}
	}
	if t.kind == tokEnd {
		return "", access.Invalidf("$filter ends after '%s'; expected an operator such as eq and a value", what)
	}
	return "", access.Invalidf("$filter: expected an operator such as eq after '%s', found '%s' at position %d", what, t.quoted(), t.pos)
}

// mirrored is the operator that keeps a comparison true when its sides swap.
func mirrored(op access.CondOp) access.CondOp {
	switch op {
	case access.OpGt:
		return access.OpLt
	case access.OpGe:
		return access.OpLe
	case access.OpLt:
		return access.OpGt
	case access.OpLe:
		return access.OpGe
	}
	return op
}

func isMatch(name string) bool {
	switch strings.ToLower(name) {
	case "startswith", "endswith", "contains":
		return true
	}
	return false
}

// match reads startswith, endswith or contains, and an optional
// "eq true" or "eq false" after it, as some clients write.
func (p *filterParser) match() (*access.Cond, error) {
	name := p.next()
	p.next() // (
	if err := p.enter(); err != nil {
		return nil, err
	}
	arg, err := p.operand()
	if err != nil {
		return nil, err
	}
	if arg.prop == nil {
		return nil, access.Invalidf("$filter: the first argument of %s must be a property, not %s", name.text, arg.lit.quoted())
	}
	if comma := p.next(); comma.kind != tokComma {
		return nil, p.expected("',' and a string after the property of "+name.text, comma)
	}
	text := p.next()
	if text.kind != tokString {
		return nil, access.Invalidf("$filter: the second argument of %s must be a string in single quotes, not '%s'", name.text, text.quoted())
	}
	if end := p.next(); end.kind != tokClose {
		return nil, p.expected("')' to end "+name.text, end)
	}
	p.depth--
	if arg.prop.typ != access.TypeString && arg.prop.typ != access.TypeID {
		return nil, access.Invalidf("$filter: %s works on strings; %s is %s", name.text, arg.prop.path, arg.prop.typ)
	}
	c := &access.Cond{Op: access.CondOp(strings.ToLower(name.text)), Field: arg.prop.field,
		Value: access.Value{Kind: access.ValueString, S: text.text}}
	if !p.isWord("eq") && !p.isWord("ne") {
		return c, nil
	}
	op := p.next()
	b := p.next()
	if b.kind != tokWord || (!strings.EqualFold(b.text, "true") && !strings.EqualFold(b.text, "false")) {
		return nil, access.Invalidf("$filter: %s can only be compared with true or false, not '%s'", name.text, b.quoted())
	}
	if strings.EqualFold(op.text, "eq") == strings.EqualFold(b.text, "true") {
		return c, nil
	}
	return &access.Cond{Op: access.OpNot, Args: []*access.Cond{c}}, nil
}

// operand reads a property, tolower(property), toupper(property) or a literal.
func (p *filterParser) operand() (operand, error) {
	t := p.next()
	switch t.kind {
	case tokString, tokNumber, tokGUID, tokDateTime:
		return operand{lit: t}, nil
	case tokWord:
		switch strings.ToLower(t.text) {
		case "true", "false", "null":
			return operand{lit: t}, nil
		}
		if p.peek().kind == tokOpen {
			return p.functionOperand(t)
		}
		prop, err := p.property(t)
		return operand{prop: prop}, err
	case tokEnd:
		return operand{}, access.Invalidf("$filter ends too early; expected a property or a value")
	}
	return operand{}, p.unexpected(t)
}

// functionOperand reads a function call where a property or a value
// stands: tolower(property) or toupper(property), which leave the property
// as it is, since string comparisons ignore case anyway. Any other
// function, a lambda operator included, is refused.
func (p *filterParser) functionOperand(name filterToken) (operand, error) {
	fn := strings.ToLower(name.text)
	last := fn[strings.LastIndex(fn, "/")+1:]
	switch {
	case last == "any" || last == "all":
		return operand{}, access.Invalidf("$filter: lambda operator '%s' is not supported", last)
	case fn != "tolower" && fn != "toupper":
		return operand{}, access.Invalidf("$filter: function '%s' is not supported; accessd reads startswith, endswith, contains, tolower and toupper", name.text)
	}
	p.next() // (
	if err := p.enter(); err != nil {
		return operand{}, err
	}
	arg := p.next()
	if arg.kind != tokWord {
		return operand{}, access.Invalidf("$filter: %s takes a property, not '%s'", name.text, arg.quoted())
	}
	prop, err := p.property(arg)
	if err != nil {
		return operand{}, err
	}
	if end := p.next(); end.kind != tokClose {
		return operand{}, p.expected("')' to end "+name.text, end)
	}
	p.depth--
	if prop.typ != access.TypeString {
		return operand{}, access.Invalidf("$filter: %s works on strings; %s is %s", name.text, prop.path, prop.typ)
	}
	return operand{prop: prop}, nil
}

// property resolves a path through the list's table.
func (p *filterParser) property(t filterToken) (*property, error) {
	wf, typ, ok := p.fields.lookup(t.text)
	if !ok {
		return nil, access.Invalidf("$filter: property '%s' cannot be filtered on here; filterable: %s", t.text, p.fields.names())
	}
	return &property{path: t.text, wireField: wf, typ: typ}, nil
}

// in reads the parenthesised list of values after in.
func (p *filterParser) in(left operand, op filterToken) (*access.Cond, error) {
	if left.prop == nil {
		return nil, access.Invalidf("$filter: in needs a property before it, not %s", left.lit.quoted())
	}
	if open := p.next(); open.kind != tokOpen {
		return nil, p.expected("a parenthesised list of values after in, as in state in ('a','b')", open)
	}
	c := &access.Cond{Op: access.OpIn, Field: left.prop.field}
	for {
		t := p.next()
		v, err := literalValue(*left.prop, t)
		if err != nil {
			return nil, err
		}
		if v.Kind == access.ValueNull {
			return nil, access.Invalidf("$filter: null cannot be in a list after in; compare with eq null")
		}
		c.Values = append(c.Values, v)
		if len(c.Values) > access.MaxFilterTerms {
			return nil, access.Invalidf("$filter: in lists at most %d values", access.MaxFilterTerms)
		}
		sep := p.next()
		if sep.kind == tokClose {
			return c, nil
		}
		if sep.kind != tokComma {
			return nil, p.expected("',' or ')' in the list after in", sep)
		}
	}
}

// leaf builds the comparison of a property with a literal.
func leaf(op access.CondOp, prop property, lit filterToken) (*access.Cond, error) {
	v, err := literalValue(prop, lit)
	if err != nil {
		return nil, err
	}
	if v.Kind == access.ValueNull {
		return nullComparison(op, prop)
	}
	if prop.typ == access.TypeBool && op != access.OpEq && op != access.OpNe {
		return nil, access.Invalidf("$filter: %s is a boolean; compare it with eq or ne", prop.path)
	}
	return &access.Cond{Op: op, Field: prop.field, Value: v}, nil
}

// nullComparison is eq null or ne null. accessd stores an absent string as
// "" and an absent time as the zero time, and writes both as null, so
// either counts as null here, as the client sees it.
func nullComparison(op access.CondOp, prop property) (*access.Cond, error) {
	if op != access.OpEq && op != access.OpNe {
		return nil, access.Invalidf("$filter: null compares with eq or ne only, not %s", op)
	}
	null := access.Value{Kind: access.ValueNull}
	var empty access.Value
	switch prop.typ {
	case access.TypeString, access.TypeID, access.TypeEnum:
		empty = access.Value{Kind: access.ValueString}
	case access.TypeTime:
		empty = access.Value{Kind: access.ValueTime}
	default:
		return &access.Cond{Op: op, Field: prop.field, Value: null}, nil
	}
	both := []*access.Cond{{Op: op, Field: prop.field, Value: null}, {Op: op, Field: prop.field, Value: empty}}
	if op == access.OpEq {
		return &access.Cond{Op: access.OpOr, Args: both}, nil
	}
	return &access.Cond{Op: access.OpAnd, Args: both}, nil
}

// literalValue reads a literal as a value of the property's type.
func literalValue(prop property, t filterToken) (access.Value, error) {
	if t.kind == tokWord && strings.EqualFold(t.text, "null") {
		return access.Value{Kind: access.ValueNull}, nil
	}
	switch {
	case prop.typ == access.TypeEnum && t.kind == tokString:
		m, ok := prop.member(t.text)
		if !ok {
			return access.Value{}, access.Invalidf("$filter: %s is not a value of %s", t.quoted(), prop.path)
		}
		return access.Value{Kind: access.ValueString, S: m}, nil
	case (prop.typ == access.TypeString || prop.typ == access.TypeID) && (t.kind == tokString || t.kind == tokGUID):
		return access.Value{Kind: access.ValueString, S: t.text}, nil
	case prop.typ == access.TypeBool && t.kind == tokWord && (strings.EqualFold(t.text, "true") || strings.EqualFold(t.text, "false")):
		return access.Value{Kind: access.ValueBool, B: strings.EqualFold(t.text, "true")}, nil
	case prop.typ == access.TypeTime && t.kind == tokDateTime:
		at, err := time.Parse(time.RFC3339Nano, t.text)
		if err != nil {
			return access.Value{}, access.Invalidf("$filter: %s is not a date and time such as 2026-01-01T00:00:00Z", t.text)
		}
		return access.Value{Kind: access.ValueTime, T: at}, nil
	case prop.typ == access.TypeNumber && t.kind == tokNumber:
		n, err := strconv.ParseFloat(t.text, 64)
		if err != nil || math.IsInf(n, 0) {
			return access.Value{}, access.Invalidf("$filter: %s is not a number accessd can compare", t.text)
		}
		return access.Value{Kind: access.ValueNumber, N: n}, nil
	case t.kind == tokEnd:
		return access.Value{}, access.Invalidf("$filter ends too early; expected a value for %s", prop.path)
	}
	return access.Value{}, access.Invalidf("$filter: %s is %s, written %s; '%s' is not one", prop.path, prop.typ, writtenAs(prop.typ), t.quoted())
}

// writtenAs says how a literal of a type is written, for messages.
func writtenAs(typ access.FieldType) string {
	switch typ {
	case access.TypeID:
		return "in single quotes or as a GUID without them"
	case access.TypeEnum:
		return "as one of its values in single quotes"
	case access.TypeBool:
		return "true or false"
	case access.TypeTime:
		return "without quotes, such as 2026-01-01T00:00:00Z"
	case access.TypeNumber:
		return "as a number"
	}
	return "in single quotes, such as 'Sales'"
}

func (p *filterParser) expected(what string, found filterToken) error {
	if found.kind == tokEnd {
		return access.Invalidf("$filter ends too early; expected %s", what)
	}
	return access.Invalidf("$filter: expected %s, found '%s' at position %d", what, found.quoted(), found.pos)
}

// unexpected names a token that has no place where it stands.
func (p *filterParser) unexpected(t filterToken) error {
	switch {
	case t.kind == tokEnd:
		return access.Invalidf("$filter ends too early; expected a condition such as displayName eq 'Sales'")
	case t.kind == tokClose:
		return access.Invalidf("$filter: the parenthesis at position %d closes nothing", t.pos)
	case t.kind == tokWord && isArithmetic(t.text):
		return access.Invalidf("$filter: arithmetic operator '%s' is not supported", t.text)
	}
	return access.Invalidf("$filter: unexpected '%s' at position %d", t.quoted(), t.pos)
}

func isArithmetic(w string) bool {
	switch strings.ToLower(w) {
	case "add", "sub", "mul", "div", "divby", "mod":
		return true
	}
	return false
}

// parseOrderBy reads $orderby: keys separated by commas, each a property
// path and optionally asc or desc.
func parseOrderBy(s string, fields wireFields) ([]access.Order, error) {
	if len(s) > maxOptionLength {
		return nil, access.Invalidf("$orderby is %d characters long; at most %d are read", len(s), maxOptionLength)
	}
	var out []access.Order
	seen := map[access.Field]bool{}
	for _, item := range strings.Split(s, ",") {
		words := strings.Fields(item)
		if len(words) == 0 || len(words) > 2 {
			return nil, access.Invalidf("$orderby: %q is not a property followed by asc or desc", strings.TrimSpace(item))
		}
		if strings.ContainsAny(words[0], "()") {
			return nil, access.Invalidf("$orderby: '%s' is not a property; functions are not supported in $orderby", words[0])
		}
		wf, _, ok := fields.lookup(words[0])
		if !ok {
			return nil, access.Invalidf("$orderby: property '%s' cannot be ordered on here; orderable: %s", words[0], fields.names())
		}
		o := access.Order{Field: wf.field}
		if len(words) == 2 {
			switch strings.ToLower(words[1]) {
			case "asc":
			case "desc":
				o.Desc = true
			default:
				return nil, access.Invalidf("$orderby: '%s' after %s is neither asc nor desc", words[1], words[0])
			}
		}
		if seen[o.Field] {
			return nil, access.Invalidf("$orderby names '%s' twice, or two names of it", words[0])
		}
		seen[o.Field] = true
		out = append(out, o)
	}
	if len(out) > access.MaxOrderKeys {
		return nil, access.Invalidf("$orderby names %d keys; at most %d", len(out), access.MaxOrderKeys)
	}
	return out, nil
}
