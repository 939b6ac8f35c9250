package access

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// A Query says which items of a list to return and how: the OData system
// query options $filter, $orderby, $top, $skip, $count and $skiptoken, in
// accessd's own terms. The API reads a client's options into a Query,
// naming fields of the domain (never a column or a wire name), and the store
// turns it into SQL. Scope is a condition the caller must meet to see an
// item at all; it is ANDed with Filter before anything is counted or paged.
type Query struct {
	Filter  *Cond
	Scope   *Cond
	OrderBy []Order // the id is always the last key, so that the order is total
	Top     int     // the page size, at least 1
	Skip    int
	Count   bool   // also count the whole filtered set
	After   Cursor // where the page starts: just past this item; zero for the first page
}

// Order is one key of $orderby.
type Order struct {
	Field Field
	Desc  bool
}

// Cursor names the last item of a page by its id and the values of the
// order keys, so that the next page starts just after it however many
// items are added or removed meanwhile (keyset paging).
type Cursor struct {
	ID     string
	Values []Value // one per OrderBy key, as the item had them
}

// IsZero reports whether the cursor names no item: the first page.
func (c Cursor) IsZero() bool { return c.ID == "" }

// Field names a property of a listed noun in the domain's words:
// "DisplayName", "CatalogID", "Target.ID". Each list says which it offers
// (Fields).
type Field string

// FieldType says how a field's values compare.
type FieldType int

const (
	TypeString FieldType = iota // compared without regard to case
	TypeID                      // an object id: compared exactly
	TypeEnum                    // one of an enumeration's members, stored in canonical spelling
	TypeBool
	TypeTime
	TypeNumber
)

func (t FieldType) String() string {
	return [...]string{"a string", "an id", "an enumeration member", "a boolean", "a date and time", "a number"}[t]
}

// Fields lists the fields a list may be filtered and ordered on, with their types.
type Fields map[Field]FieldType

// CondOp is an operator of a filter condition.
type CondOp string

const (
	OpAnd        CondOp = "and"
	OpOr         CondOp = "or"
	OpNot        CondOp = "not"
	OpEq         CondOp = "eq"
	OpNe         CondOp = "ne"
	OpGt         CondOp = "gt"
	OpGe         CondOp = "ge"
	OpLt         CondOp = "lt"
	OpLe         CondOp = "le"
	OpIn         CondOp = "in"
	OpStartsWith CondOp = "startswith"
	OpEndsWith   CondOp = "endswith"
	OpContains   CondOp = "contains"
)

// Cond is one node of a filter: a combination of conditions (and, or,
// not), or a comparison of a field with a literal (or with several, for in).
type Cond struct {
	Op     CondOp
	Args   []*Cond // and, or: two or more; not: one
	Field  Field
	Value  Value
	Values []Value // in
}

// ValueKind says what a literal is.
type ValueKind int

const (
	ValueNull ValueKind = iota
	ValueString
	ValueBool
	ValueTime
	ValueNumber
)

// Value is a literal of a filter, or a key value of a cursor.
type Value struct {
	Kind ValueKind
	S    string
	B    bool
	T    time.Time
	N    float64
}

func (v Value) String() string {
	switch v.Kind {
	case ValueString:
		return "'" + strings.ReplaceAll(v.S, "'", "''") + "'"
	case ValueBool:
		return strconv.FormatBool(v.B)
	case ValueTime:
		return v.T.UTC().Format(time.RFC3339Nano)
	case ValueNumber:
		return strconv.FormatFloat(v.N, 'g', -1, 64)
	}
	return "null"
}

// MaxFilterDepth and MaxFilterTerms bound a filter, so that no client can
// make accessd build an unbounded SQL statement.
const (
	MaxFilterDepth = 32
	MaxFilterTerms = 100
	MaxOrderKeys   = 5
)

// Check makes sure a query names only fields the list offers, with literals
// of their types, and within the bounds above. It is the one place that
// decides whether a query is valid; the store can rely on it.
func (q Query) Check(fields Fields) error {
	terms := 0
	for _, c := range []*Cond{q.Filter, q.Scope} {
		if c == nil {
			continue
		}
		if err := c.check(fields, 0, &terms); err != nil {
			return err
		}
	}
	if len(q.OrderBy) > MaxOrderKeys {
		return Invalidf("$orderby names %d keys; at most %d", len(q.OrderBy), MaxOrderKeys)
	}
	for _, o := range q.OrderBy {
		if _, ok := fields[o.Field]; !ok {
			return Invalidf("$orderby: %s cannot be ordered on here", o.Field)
		}
	}
	if !q.After.IsZero() && len(q.After.Values) != len(q.OrderBy) {
		return Invalidf("$skiptoken does not fit this $orderby; follow @odata.nextLink as given")
	}
	if q.Top < 1 || q.Skip < 0 {
		return Invalidf("$top must be at least 1 and $skip not negative")
	}
	return nil
}

func (c *Cond) check(fields Fields, depth int, terms *int) error {
	if depth > MaxFilterDepth {
		return Invalidf("$filter is nested too deeply (more than %d levels)", MaxFilterDepth)
	}
	*terms++
	if *terms > MaxFilterTerms {
		return Invalidf("$filter has too many terms (more than %d)", MaxFilterTerms)
	}
	switch c.Op {
	case OpAnd, OpOr:
		if len(c.Args) < 2 {
			return Invalidf("$filter: %s needs two conditions", c.Op)
		}
		for _, a := range c.Args {
			if err := a.check(fields, depth+1, terms); err != nil {
				return err
			}
		}
		return nil
	case OpNot:
		if len(c.Args) != 1 {
			return Invalidf("$filter: not needs one condition")
		}
		return c.Args[0].check(fields, depth+1, terms)
	}
	typ, ok := fields[c.Field]
	if !ok {
		return Invalidf("$filter: %s cannot be filtered on here", c.Field)
	}
	switch c.Op {
	case OpEq, OpNe:
		return checkLiteral(c.Field, typ, c.Value, true)
	case OpGt, OpGe, OpLt, OpLe:
		if typ == TypeBool {
			return Invalidf("$filter: %s is a boolean; compare it with eq or ne", c.Field)
		}
		return checkLiteral(c.Field, typ, c.Value, false)
	case OpIn:
		if len(c.Values) == 0 || len(c.Values) > MaxFilterTerms {
			return Invalidf("$filter: in needs from 1 to %d values", MaxFilterTerms)
		}
		*terms += len(c.Values)
		for _, v := range c.Values {
			if err := checkLiteral(c.Field, typ, v, false); err != nil {
				return err
			}
		}
		return nil
	case OpStartsWith, OpEndsWith, OpContains:
		if typ != TypeString && typ != TypeID {
			return Invalidf("$filter: %s works on strings; %s is %s", c.Op, c.Field, typ)
		}
		if c.Value.Kind != ValueString {
			return Invalidf("$filter: %s needs a string", c.Op)
		}
		return nil
	}
	return Invalidf("$filter: the operator %q is not supported", c.Op)
}

// checkLiteral makes sure a literal fits the field's type; null compares
// only with eq and ne.
func checkLiteral(f Field, typ FieldType, v Value, nullOK bool) error {
	want := map[FieldType]ValueKind{TypeString: ValueString, TypeID: ValueString, TypeEnum: ValueString,
		TypeBool: ValueBool, TypeTime: ValueTime, TypeNumber: ValueNumber}[typ]
	switch {
	case v.Kind == ValueNull && nullOK:
		return nil
	case v.Kind == ValueNull:
		return Invalidf("$filter: null compares with eq or ne only")
	case v.Kind != want:
		return Invalidf("$filter: %s is %s; %s is not", f, typ, v)
	}
	return nil
}

// Found is one page of a list query.
type Found[T any] struct {
	Items []T
	// Next is where the next page starts: the cursor of the page's last
	// item, or zero when no page follows.
	Next  Cursor
	Count int // the size of the whole filtered set, when the query asked for it
}

// Find runs a query on a noun's list in one read transaction, fetching one
// item more than the page holds to know whether another page follows.
func Find[T any](ctx context.Context, s *Service, noun Noun, q Query) (Found[T], error) {
	var f Found[T]
	err := s.view(ctx, func(tx Tx) error {
		f = Found[T]{}
		page := q
		page.Top = q.Top + 1
		var last Cursor
		n, err := tx.List(noun, page, func(decode func(any) error, at Cursor) error {
			if len(f.Items) == q.Top {
				f.Next = last
				return nil
			}
			var v T
			if err := decode(&v); err != nil {
				return err
			}
			f.Items = append(f.Items, v)
			last = at
			return nil
		})
		f.Count = n
		return err
	})
	return f, err
}
