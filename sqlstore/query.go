package sqlstore

import (
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/accessd/accessd/access"
	json "github.com/segmentio/encoding/json"
)

// List runs an access.Query as SQL. Every field becomes an SQL expression
// from the tables below (a column where one exists, else the field's path
// in the stored JSON document); every literal becomes a ? argument, never
// text of the statement. access.Query.Check has refused unknown fields and
// ill-typed literals before the store sees them.

// nounTable is where a noun's items are stored, and the fields that have
// columns of their own.
type nounTable struct {
	table   string
	columns map[access.Field]column
	// besideDoc, when set, names columns that hold part of an item outside
	// its document, and fill puts what they hold into the decoded item.
	besideDoc []string
	fill      func(item any, beside []sql.NullString)
	// catalog is the column that holds the id of an item's catalog, for
	// access.FieldCatalogRoleOf.
	catalog string
}

// column is a field's column: its name, for times whether it holds
// microseconds since the Unix epoch (the store's time columns do), and
// whether it is declared NOT NULL. An order key on such a column needs no
// COALESCE, and without one the engines can walk an index in key order
// instead of sorting every row that meets the filter.
type column struct {
	name    string
	micros  bool
	notNull bool
}

var nounTables = map[access.Noun]nounTable{
	access.NounCatalogs:       {table: "catalogs", catalog: "id", columns: map[access.Field]column{"ID": {name: "id"}}},
	access.NounAccessPackages: {table: "access_packages", catalog: "catalog_id", columns: map[access.Field]column{"ID": {name: "id"}, "CatalogID": {name: "catalog_id"}}},
	access.NounPolicies: {table: "assignment_policies", catalog: "catalog_id", columns: map[access.Field]column{"ID": {name: "id"},
		"AccessPackageID": {name: "access_package_id"}, "CatalogID": {name: "catalog_id"}},
		besideDoc: []string{"review_settings", "notification_settings"}, fill: fillPolicy},
	access.NounCustomExtensions: {table: "custom_extensions", catalog: "catalog_id", columns: map[access.Field]column{"ID": {name: "id"}, "CatalogID": {name: "catalog_id"}}},
	access.NounRequests: {table: "requests", catalog: "catalog_id", columns: map[access.Field]column{"ID": {name: "id"}, "Type": {name: "request_type"},
		"State": {name: "state"}, "Target.ID": {name: "target_id"}, "AccessPackageID": {name: "access_package_id"},
		"PolicyID": {name: "policy_id"}, "AssignmentID": {name: "assignment_id"}, "CatalogID": {name: "catalog_id"},
		"CreatedDateTime": {name: "created_us", micros: true, notNull: true}}},
	access.NounAssignments: {table: "assignments", catalog: "catalog_id", columns: map[access.Field]column{"ID": {name: "id"}, "Target.ID": {name: "target_id"},
		"AccessPackageID": {name: "access_package_id"}, "PolicyID": {name: "policy_id"}, "State": {name: "state"},
		"CatalogID": {name: "catalog_id"}, "CreatedDateTime": {name: "created_us", micros: true, notNull: true}}},
	access.NounResources: {table: "resources", catalog: "catalog_id", columns: map[access.Field]column{"ID": {name: "id"}, "CatalogID": {name: "catalog_id"},
		"OriginID": {name: "origin_id"}}},
	access.NounResourceRequests: {table: "resource_requests", catalog: "catalog_id", columns: map[access.Field]column{"ID": {name: "id"},
		"CatalogID": {name: "catalog_id"}, "CreatedDateTime": {name: "created_us", micros: true, notNull: true}}},
	access.NounRoleAssignments: {table: "role_assignments", catalog: "catalog_id", columns: map[access.Field]column{"ID": {name: "id"},
		"PrincipalID": {name: "principal_id"}, "RoleDefinitionID": {name: "role_definition_id"}, "CatalogID": {name: "catalog_id"}}},
	access.NounUsers:             {table: "users", columns: map[access.Field]column{"ID": {name: "id"}, "ManagerID": {name: "manager_id"}}},
	access.NounGroups:            {table: "groups", columns: map[access.Field]column{"ID": {name: "id"}}},
	access.NounServicePrincipals: {table: "service_principals", columns: map[access.Field]column{"ID": {name: "id"}}},
}

// fillPolicy puts a policy's reviewSettings and notificationSettings,
// which are kept beside its document (see selectPolicy), into it.
func fillPolicy(item any, beside []sql.NullString) {
	if p, ok := item.(*access.AssignmentPolicy); ok {
		p.ReviewSettings, p.NotificationSettings = rawJSON(beside[0]), rawJSON(beside[1])
	}
}

// noTime stands for a missing time in an order key, below every real one,
// so that keys are never NULL (the engines order NULLs differently).
const noTime = int64(-1) << 62

// List fetches one page of a noun's items that meet q, in q's order, and
// passes each to each with its cursor; with q.Count it first counts the
// whole set that meets q's filter and scope.
func (t *tx) List(noun access.Noun, q access.Query, each func(decode func(any) error, at access.Cursor) error) (int, error) {
	nt, ok := nounTables[noun]
	fields, known := access.FieldsOf[noun]
	if !ok || !known {
		return 0, access.Internal(fmt.Errorf("sqlstore: no table for the noun %q", noun))
	}
	if err := q.Check(fields); err != nil {
		return 0, err
	}
	b := &sqlBuilder{t: t, nt: nt, fields: fields}
	var where []string
	for _, c := range []*access.Cond{q.Filter, q.Scope} {
		if c != nil {
			where = append(where, b.cond(c))
		}
	}
	if b.err != nil {
		return 0, b.err
	}
	filterArgs := append([]any(nil), b.args...)
	count := 0
	if q.Count {
		query := "SELECT COUNT(*) FROM " + nt.table
		if len(where) > 0 {
			query += " WHERE " + strings.Join(where, " AND ")
		}
		var err error
		if count, err = t.count(query, filterArgs...); err != nil {
			return 0, err
		}
	}

	keys := make([]string, 0, len(q.OrderBy)+1)
	order := make([]string, 0, len(q.OrderBy)+1)
	for _, o := range q.OrderBy {
		k := b.orderKey(o.Field)
		keys = append(keys, k)
		dir := " ASC"
		if o.Desc {
			dir = " DESC"
		}
		order = append(order, k+dir)
	}
	keys = append(keys, "id")
	order = append(order, "id ASC")
	if !q.After.IsZero() {
		where = append(where, b.after(keys, q))
	}
	query := "SELECT " + strings.Join(append(append([]string{"doc"}, nt.besideDoc...), keys...), ", ") + " FROM " + nt.table
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY " + strings.Join(order, ", ") + " LIMIT ?"
	args := append(b.args, q.Top)
	if q.Skip > 0 && q.After.IsZero() {
		query += " OFFSET ?"
		args = append(args, q.Skip)
	}
	if b.err != nil {
		return 0, b.err
	}
	rows, err := t.queryRows(query, args...)
	if err != nil {
		return 0, t.fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var doc []byte
		beside := make([]sql.NullString, len(nt.besideDoc))
		vals := make([]any, len(keys))
		dest := []any{&doc}
		for i := range beside {
			dest = append(dest, &beside[i])
		}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return 0, t.fail(err)
		}
		at := access.Cursor{}
		for i, v := range vals {
			if i == len(vals)-1 {
				at.ID = asText(v)
				continue
			}
			at.Values = append(at.Values, keyValue(v))
		}
		decode := func(dst any) error {
			if err := json.Unmarshal(doc, dst); err != nil {
				return access.Internal(fmt.Errorf("decode stored %s: %w", noun, err))
			}
			if nt.fill != nil {
				nt.fill(dst, beside)
			}
			return nil
		}
		if err := each(decode, at); err != nil {
			return 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, t.fail(err)
	}
	return count, nil
}

// keyValue turns a scanned order key into a cursor value: text stays text,
// numbers (times in microseconds, booleans) become numbers.
func keyValue(v any) access.Value {
	switch x := v.(type) {
	case int64:
		return access.Value{Kind: access.ValueNumber, N: float64(x)}
	case float64:
		return access.Value{Kind: access.ValueNumber, N: x}
	case bool:
		if x {
			return access.Value{Kind: access.ValueNumber, N: 1}
		}
		return access.Value{Kind: access.ValueNumber, N: 0}
	}
	return access.Value{Kind: access.ValueString, S: asText(v)}
}

func asText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// sqlBuilder writes the WHERE and ORDER BY parts of one List, collecting
// the arguments in the order their ? appear.
type sqlBuilder struct {
	t      *tx
	nt     nounTable
	fields access.Fields
	args   []any
	err    error
}

func (b *sqlBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return "?"
}

// expr is the SQL expression of a field's value: text for strings, ids and
// enums; microseconds for times; 1 or 0 (SQLite) or a boolean (PostgreSQL)
// for booleans. NULL when the stored object has no value there.
func (b *sqlBuilder) expr(f access.Field) string {
	typ := b.fields[f]
	if c, ok := b.nt.columns[f]; ok {
		if typ == access.TypeTime && !c.micros {
			return b.t.dialect.microsOf(c.name)
		}
		return c.name
	}
	path := strings.Split(string(f), ".")
	switch typ {
	case access.TypeTime:
		return b.t.dialect.microsOf(b.t.dialect.jsonText(path))
	case access.TypeBool:
		return b.t.dialect.jsonBool(path)
	}
	return b.t.dialect.jsonText(path)
}

// orderKey is the expression a field orders by: never NULL, and without
// regard to case for strings.
func (b *sqlBuilder) orderKey(f access.Field) string {
	e := b.expr(f)
	if c, ok := b.nt.columns[f]; ok && c.notNull && b.fields[f] != access.TypeString {
		return e
	}
	switch b.fields[f] {
	case access.TypeString:
		return "lower(COALESCE(" + e + ", ''))"
	case access.TypeTime:
		return "COALESCE(" + e + ", " + strconv.FormatInt(noTime, 10) + ")"
	case access.TypeBool:
		return "COALESCE(" + b.t.dialect.boolAsInt(e) + ", -1)"
	}
	return "COALESCE(" + e + ", '')"
}

// after is the keyset condition: the rows that come after the cursor in
// the order of keys (the last key is the id, always ascending).
func (b *sqlBuilder) after(keys []string, q access.Query) string {
	vals := make([]any, len(keys))
	for i, v := range q.After.Values {
		vals[i] = cursorArg(v)
	}
	vals[len(keys)-1] = q.After.ID
	var build func(i int) string
	build = func(i int) string {
		op := ">"
		if i < len(q.OrderBy) && q.OrderBy[i].Desc {
			op = "<"
		}
		this := keys[i] + " " + op + " " + b.arg(vals[i])
		if i == len(keys)-1 {
			return this
		}
		return "(" + this + " OR (" + keys[i] + " = " + b.arg(vals[i]) + " AND " + build(i+1) + "))"
	}
	return build(0)
}

func cursorArg(v access.Value) any {
	if v.Kind == access.ValueNumber {
		return int64(v.N)
	}
	return v.S
}

// cond writes one condition of a filter.
func (b *sqlBuilder) cond(c *access.Cond) string {
	switch c.Op {
	case access.OpAnd, access.OpOr:
		parts := make([]string, len(c.Args))
		for i, a := range c.Args {
			parts[i] = b.cond(a)
		}
		return "(" + strings.Join(parts, " "+strings.ToUpper(string(c.Op))+" ") + ")"
	case access.OpNot:
		return "(NOT " + b.cond(c.Args[0]) + ")"
	}
	switch c.Field {
	case access.FieldApprover:
		return b.approver(c, true)
	case access.FieldFormerApprover:
		return b.approver(c, false)
	case access.FieldCatalogRoleOf:
		return b.catalogRoleOf(c)
	}
	typ := b.fields[c.Field]
	e := b.expr(c.Field)
	if c.Value.Kind == access.ValueNull && (c.Op == access.OpEq || c.Op == access.OpNe) {
		if c.Op == access.OpEq {
			return e + " IS NULL"
		}
		return e + " IS NOT NULL"
	}
	fold := typ == access.TypeString
	side := func(s string) string {
		if fold {
			return "lower(" + s + ")"
		}
		return s
	}
	switch c.Op {
	case access.OpStartsWith, access.OpEndsWith, access.OpContains:
		pattern := likeEscape(c.Value.S)
		switch c.Op {
		case access.OpStartsWith:
			pattern += "%"
		case access.OpEndsWith:
			pattern = "%" + pattern
		default:
			pattern = "%" + pattern + "%"
		}
		return "(" + side(e) + " LIKE " + side(b.arg(pattern)) + " ESCAPE '\\')"
	case access.OpIn:
		marks := make([]string, len(c.Values))
		for i, v := range c.Values {
			marks[i] = side(b.arg(b.literal(typ, v)))
		}
		return "(" + side(e) + " IN (" + strings.Join(marks, ", ") + "))"
	}
	ops := map[access.CondOp]string{access.OpEq: "=", access.OpNe: "<>", access.OpGt: ">", access.OpGe: ">=", access.OpLt: "<", access.OpLe: "<="}
	op, ok := ops[c.Op]
	if !ok {
		b.err = access.Invalidf("$filter: the operator %q is not supported", c.Op)
		return "1=0"
	}
	if c.Op == access.OpNe {
		// OData's ne is true where the value is missing, SQL's <> is not.
		return "(" + e + " IS NULL OR " + side(e) + " <> " + side(b.arg(b.literal(typ, c.Value))) + ")"
	}
	return "(" + side(e) + " " + op + " " + side(b.arg(b.literal(typ, c.Value))) + ")"
}

// literal turns a filter value into the argument its field compares with.
func (b *sqlBuilder) literal(typ access.FieldType, v access.Value) any {
	switch v.Kind {
	case access.ValueTime:
		return v.T.UnixMicro()
	case access.ValueBool:
		return b.t.dialect.boolArg(v.B)
	case access.ValueNumber:
		return v.N
	}
	return v.S
}

// approver is the condition "the compared id approves the request's stage
// waiting for a decision now".
func (b *sqlBuilder) approver(c *access.Cond, pending bool) string {
	if c.Op != access.OpEq || c.Value.Kind != access.ValueString {
		b.err = access.Invalidf("$filter: the approver can only be compared with eq and an id")
		return "1=0"
	}
	flag := "0"
	if pending {
		flag = "1"
	}
	return "(id IN (SELECT request_id FROM request_approvers WHERE approver_id = " + b.arg(c.Value.S) + " AND pending = " + flag + "))"
}

// likeEscape escapes LIKE's wildcards (and the escape character) in a literal.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
