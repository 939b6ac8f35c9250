package graph

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/accessd/accessd/access"
)

// Paging limits of accessd's lists, and bounds on the options that are
// parsed, so that no client makes accessd parse or build without end.
const (
	defaultPageSize = 100
	maxPageSize     = 999
	maxOptionLength = 4000 // $expand, $select, $orderby; $filter has maxFilterLength
	maxExpandDepth  = 5
)

// query holds the OData system query options of a call that reads one
// object or a list held whole in memory.
type query struct {
	top       int
	after     string // where a list held in memory resumes: after this id
	expand    expandSet
	selectSet selection
}

// options are the system query options of one call, by lower-cased name.
type options map[string]string

// readOptions reads the $-options of r. An option allowed does not name is
// refused (where says why), rather than silently ignored, so a client never
// trusts a filter that did nothing; so is one given twice. An option given
// empty ($top=) counts as absent, as it always has.
func readOptions(r *http.Request, allowed []string, where string) (options, error) {
	values, err := queryValues(r.URL.RawQuery)
	if err != nil {
		return nil, access.Invalidf("the query string is malformed: %v", err)
	}
	opts := options{}
	for name, v := range values {
		if !strings.HasPrefix(name, "$") {
			continue
		}
		key := strings.ToLower(name)
		if !contains(allowed, key) {
			return nil, access.Invalidf("query option %s is not supported %s", name, where)
		}
		if _, twice := opts[key]; twice || len(v) > 1 {
			return nil, access.Invalidf("query option %s is given more than once", name)
		}
		if v[0] != "" {
			opts[key] = v[0]
		}
	}
	return opts, nil
}

// queryValues reads a query string as url.ParseQuery does, but splits it
// only at '&': Graph clients separate the options inside $expand with a
// bare ';' ($expand=a($select=b;$expand=c)), which url.ParseQuery refuses.
func queryValues(raw string) (url.Values, error) {
	values := url.Values{}
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, err
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		values[key] = append(values[key], value)
	}
	return values, nil
}

// parseQuery reads the options of a call for one object or for a list
// held in memory (a package's role scopes, a group's members): $top,
// $skiptoken, $expand and $select. expandable names what $expand may name
// here, nested names as "parent/child".
func parseQuery(r *http.Request, expandable ...string) (query, error) {
	opts, err := readOptions(r, []string{"$top", "$skiptoken", "$expand", "$select"}, "on this resource")
	if err != nil {
		return query{}, err
	}
	return opts.query(expandable)
}

// query reads the options of a call for one object or a list held in memory.
func (o options) query(expandable []string) (query, error) {
	var q query
	var err error
	if q.top, err = o.top(); err != nil {
		return q, err
	}
	if tok, ok := o["$skiptoken"]; ok {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		after, ok := strings.CutPrefix(string(raw), "after:")
		if err != nil || !ok || after == "" {
			return q, badSkipToken
		}
		q.after = after
	}
	q.expand, q.selectSet, err = o.expandAndSelect(expandable)
	return q, err
}

func (q query) page() access.Page { return access.Page{After: q.after, Limit: q.top} }

// listQuery is what a call asks of a list the store keeps as rows.
type listQuery struct {
	query     access.Query
	expand    expandSet
	selectSet selection
	// fingerprint names the address, $filter and $orderby the query is
	// for, so that a $skiptoken issued for one query is refused by another.
	fingerprint string
}

// listOptions are the options a stored list reads; countOptions those of
// its /$count segment.
var (
	listOptions  = []string{"$filter", "$orderby", "$top", "$skip", "$count", "$skiptoken", "$expand", "$select"}
	countOptions = []string{"$filter"}
)

// parseListQuery reads the options of a call on a stored list: fields is
// what $filter and $orderby may name, expandable what $expand may. For the
// /$count segment (countOnly) only $filter is read.
func parseListQuery(r *http.Request, fields wireFields, expandable []string, countOnly bool) (listQuery, error) {
	allowed, where := listOptions, "on this resource"
	if countOnly {
		allowed, where = countOptions, "with /$count, which reads only $filter"
	}
	opts, err := readOptions(r, allowed, where)
	if err != nil {
		return listQuery{}, err
	}
	lq := listQuery{fingerprint: fingerprint(addressOf(r), opts)}
	q := &lq.query
	if q.Top, err = opts.top(); err != nil {
		return lq, err
	}
	if v, ok := opts["$skip"]; ok {
		if q.Skip, err = strconv.Atoi(v); err != nil || q.Skip < 0 {
			return lq, access.Invalidf("$skip must be a whole number, 0 or more, not %q", v)
		}
	}
	if v, ok := opts["$count"]; ok {
		switch strings.ToLower(v) {
		case "true":
			q.Count = true
		case "false":
		default:
			return lq, access.Invalidf("$count must be true or false, not %q", v)
		}
	}
	if v, ok := opts["$filter"]; ok {
		if q.Filter, err = parseFilter(v, fields); err != nil {
			return lq, err
		}
	}
	if v, ok := opts["$orderby"]; ok {
		if q.OrderBy, err = parseOrderBy(v, fields); err != nil {
			return lq, err
		}
	}
	if tok, ok := opts["$skiptoken"]; ok {
		if q.After, err = decodeSkipToken(tok, lq.fingerprint, q.OrderBy, access.FieldsOf[fields.noun]); err != nil {
			return lq, err
		}
	}
	lq.expand, lq.selectSet, err = opts.expandAndSelect(expandable)
	return lq, err
}

// top reads $top: a page holds 1 to 999 items, 100 when $top is absent.
func (o options) top() (int, error) {
	t, ok := o["$top"]
	if !ok {
		return defaultPageSize, nil
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 1 || n > maxPageSize {
		return 0, access.Invalidf("$top must be a whole number from 1 to %d, not %q", maxPageSize, t)
	}
	return n, nil
}

// expandAndSelect reads $expand and $select. $select keeps the navigation
// properties $expand names, as in Graph.
func (o options) expandAndSelect(expandable []string) (expandSet, selection, error) {
	for _, name := range []string{"$expand", "$select"} {
		if len(o[name]) > maxOptionLength {
			return nil, nil, access.Invalidf("%s is %d characters long; at most %d are read", name, len(o[name]), maxOptionLength)
		}
	}
	sel := selection{}
	var set expandSet
	if e := o["$expand"]; e != "" {
		var err error
		if set, err = parseExpand(e, "", sel, 1); err != nil {
			return nil, nil, err
		}
		if err := set.check("", expandable); err != nil {
			return nil, nil, err
		}
	}
	if s := o["$select"]; s != "" {
		names := splitNames(s)
		for name := range set {
			names = append(names, name)
		}
		if len(names) > 0 {
			sel[""] = names
		}
	}
	if len(sel) == 0 {
		sel = nil
	}
	return set, sel, nil
}

// splitNames reads a comma-separated list of property names.
func splitNames(s string) []string {
	var names []string
	for _, name := range strings.Split(s, ",") {
		if name = strings.TrimSpace(name); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// check refuses names that expandable does not list under prefix.
func (e expandSet) check(prefix string, expandable []string) error {
	for name, nested := range e {
		path := prefix + name
		if !contains(expandable, path) {
			var here []string
			for _, x := range expandable {
				if rest, ok := strings.CutPrefix(x, prefix); ok && !strings.Contains(rest, "/") {
					here = append(here, rest)
				}
			}
			if len(here) == 0 {
				return access.Invalidf("$expand: '%s' cannot be expanded; nothing here is expandable", name)
			}
			return access.Invalidf("$expand: '%s' cannot be expanded here; expandable: %s", name, strings.Join(here, ", "))
		}
		if err := nested.check(path+"/", expandable); err != nil {
			return err
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// expandSet maps an expanded navigation property to its nested options.
type expandSet map[string]expandSet

func (e expandSet) has(name string) bool { _, ok := e[name]; return ok }

// parseExpand reads "a,b($expand=c;$select=d,e)" into a tree, putting what
// a nested $select keeps into sel under the property's path ("b"). prefix
// is the path of the property whose $expand s is; depth counts the levels.
func parseExpand(s, prefix string, sel selection, depth int) (expandSet, error) {
	if depth > maxExpandDepth {
		return nil, access.Invalidf("$expand is nested too deeply (more than %d levels)", maxExpandDepth)
	}
	items, err := splitOutsideParentheses(s, ',')
	if err != nil {
		return nil, err
	}
	set := expandSet{}
	for _, item := range items {
		item = strings.TrimSpace(item)
		name, inner, nested := strings.Cut(item, "(")
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, access.Invalidf("$expand: %q is not a navigation property", item)
		}
		set[name] = expandSet{}
		if !nested {
			continue
		}
		inner, closed := strings.CutSuffix(strings.TrimSpace(inner), ")")
		if !closed {
			return nil, access.Invalidf("$expand: unbalanced parentheses in %q", item)
		}
		nestedOptions, err := splitOutsideParentheses(inner, ';')
		if err != nil {
			return nil, err
		}
		var names []string
		selected := false
		for _, opt := range nestedOptions {
			k, v, _ := strings.Cut(strings.TrimSpace(opt), "=")
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "$expand":
				if set[name], err = parseExpand(v, prefix+name+"/", sel, depth+1); err != nil {
					return nil, err
				}
			case "$select":
				names, selected = append(names, splitNames(v)...), true
			default:
				return nil, access.Invalidf("$expand: nested option %q is not supported; inside $expand accessd reads $select and $expand", strings.TrimSpace(k))
			}
		}
		if selected {
			for child := range set[name] {
				names = append(names, child)
			}
			if len(names) > 0 {
				sel[prefix+name] = names
			}
		}
	}
	return set, nil
}

// splitOutsideParentheses splits s at each sep that no parenthesis encloses.
func splitOutsideParentheses(s string, sep rune) ([]string, error) {
	var parts []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return nil, access.Invalidf("$expand: unbalanced parentheses in %q", s)
			}
		case sep:
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, access.Invalidf("$expand: unbalanced parentheses in %q", s)
	}
	return append(parts, s[start:]), nil
}

// ---- $skiptoken ----

var badSkipToken = access.Invalidf("$skiptoken is not one accessd issued for this query; follow @odata.nextLink as given")

// pageToken is what a stored list's $skiptoken carries: the cursor of the
// last item of the page before (its id, and its values of the $orderby
// keys: a string, or a number for times and booleans) and the fingerprint
// of the query that listed it.
type pageToken struct {
	Query string `json:"q"`
	ID    string `json:"id"`
	Keys  []any  `json:"k,omitempty"`
}

// fingerprint names the address, $filter and $orderby of a query, as given:
// a nextLink repeats them exactly.
func fingerprint(path string, opts options) string {
	sum := sha256.Sum256([]byte(path + "\n" + opts["$filter"] + "\n" + opts["$orderby"]))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// encodeSkipToken writes the $skiptoken of the page after the cursor.
func encodeSkipToken(fingerprint string, c access.Cursor) string {
	t := pageToken{Query: fingerprint, ID: c.ID}
	for _, v := range c.Values {
		if v.Kind == access.ValueNumber {
			t.Keys = append(t.Keys, v.N)
		} else {
			t.Keys = append(t.Keys, v.S)
		}
	}
	raw, _ := json.Marshal(t) // strings and finite numbers always encode
	return base64.RawURLEncoding.EncodeToString(raw)
}

// decodeSkipToken reads a $skiptoken for a query with the fingerprint and
// order. A token of the older kind, "after:" and an id, still reads on a
// query that orders by id alone.
func decodeSkipToken(tok, fingerprint string, order []access.Order, fields access.Fields) (access.Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return access.Cursor{}, badSkipToken
	}
	if after, ok := strings.CutPrefix(string(raw), "after:"); ok {
		if after == "" || len(order) > 0 || !storable(after) {
			return access.Cursor{}, badSkipToken
		}
		return access.Cursor{ID: after}, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var t pageToken
	if err := dec.Decode(&t); err != nil || dec.More() || t.Query != fingerprint || t.ID == "" || !storable(t.ID) || len(t.Keys) != len(order) {
		return access.Cursor{}, badSkipToken
	}
	c := access.Cursor{ID: t.ID}
	for i, k := range t.Keys {
		switch fields[order[i].Field] {
		case access.TypeTime, access.TypeBool, access.TypeNumber:
			n, ok := k.(json.Number)
			f, err := n.Float64()
			if !ok || err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return access.Cursor{}, badSkipToken
			}
			c.Values = append(c.Values, access.Value{Kind: access.ValueNumber, N: f})
		default:
			s, ok := k.(string)
			if !ok || !storable(s) {
				return access.Cursor{}, badSkipToken
			}
			c.Values = append(c.Values, access.Value{Kind: access.ValueString, S: s})
		}
	}
	return c, nil
}

// storable reports whether both databases can compare s: UTF-8 without NUL.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// legacySkipToken is the $skiptoken of a list held in memory: after an id.
func legacySkipToken(lastID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("after:" + lastID))
}

// nextLink repeats the call with $skiptoken set to token, keeping every
// other option as it was given.
func nextLink(base string, r *http.Request, token string) string {
	given, _ := queryValues(r.URL.RawQuery) // readOptions has read it already
	values := url.Values{}
	for k, v := range given {
		if !strings.EqualFold(k, "$skiptoken") {
			values[k] = v
		}
	}
	values.Set("$skiptoken", token)
	return base + addressOf(r) + "?" + values.Encode()
}

// ---- $select ----

// selection is what $select keeps of an answer: under "" the properties of
// each object the answer is made of, under the path of an expanded
// navigation property ("accessPackage", "accessPackage/catalog") those of
// the objects it holds, when a $select inside $expand names them.
type selection map[string][]string

// entity applies the selection to one encoded object; a name the object
// lacks is refused.
func (sel selection) entity(obj []byte) ([]byte, error) {
	obj, err := sel.nested(obj, "")
	if err != nil {
		return nil, err
	}
	return selectProperties(obj, sel[""], false)
}

// nested applies what sel keeps below path to the navigation properties
// of obj, the object found at path.
func (sel selection) nested(obj []byte, path string) ([]byte, error) {
	if !sel.below(path) {
		return obj, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil || m == nil {
		return obj, nil // null, or no object: nothing to select from
	}
	for k, v := range m {
		child := k
		if path != "" {
			child = path + "/" + k
		}
		if strings.HasPrefix(k, "@") || !(sel.below(child) || sel[child] != nil) {
			continue
		}
		var err error
		if m[k], err = sel.value(v, child); err != nil {
			return nil, err
		}
	}
	return marshal(m)
}

// value applies what sel keeps at path to a navigation property's value:
// an object, a list of objects, or null.
func (sel selection) value(v json.RawMessage, path string) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(v)
	if len(trimmed) == 0 {
		return v, nil
	}
	switch trimmed[0] {
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			return nil, access.Internal(err)
		}
		for i := range items {
			var err error
			if items[i], err = sel.value(items[i], path); err != nil {
				return nil, err
			}
		}
		return marshal(items)
	case '{':
		obj, err := sel.nested(v, path)
		if err != nil {
			return nil, err
		}
		return selectProperties(obj, sel[path], false)
	}
	return v, nil
}

// below reports whether sel keeps anything strictly below path.
func (sel selection) below(path string) bool {
	for k := range sel {
		if k != "" && (path == "" || strings.HasPrefix(k, path+"/")) {
			return true
		}
	}
	return false
}

// selectProperties keeps only the selected properties of an encoded object
// (plus id and annotations, which Graph always returns). A name the object
// lacks is refused, unless lenient: a list's items may be of several types.
func selectProperties(obj []byte, sel []string, lenient bool) ([]byte, error) {
	if len(sel) == 0 {
		return obj, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		return nil, access.Internal(err)
	}
	out := map[string]json.RawMessage{}
	for _, name := range sel {
		v, ok := m[name]
		if !ok && lenient {
			continue
		}
		if !ok {
			names := make([]string, 0, len(m))
			for k := range m {
				if !strings.HasPrefix(k, "@") {
					names = append(names, k)
				}
			}
			sort.Strings(names)
			return nil, access.Invalidf("$select: '%s' is not a property of this resource; properties: %s", name, strings.Join(names, ", "))
		}
		out[name] = v
	}
	for k, v := range m {
		if k == "id" || strings.HasPrefix(k, "@") {
			out[k] = v
		}
	}
	return marshal(out)
}

// keySegment matches an OData key in a path segment: accessPackages('id'),
// with a quote inside the key written twice: users('o”brien@x.test').
var keySegment = regexp.MustCompile(`^([A-Za-z.]+)\('((?:[^'/]|'')*)'\)$`)

// rewriteKeys turns OData key syntax into plain segments, so the router sees
// /accessPackages/id for /accessPackages('id').
func rewriteKeys(path string) string {
	if !strings.Contains(path, "('") {
		return path
	}
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if m := keySegment.FindStringSubmatch(seg); m != nil {
			segs[i] = m[1] + "/" + strings.ReplaceAll(m[2], "''", "'")
		}
	}
	return strings.Join(segs, "/")
}

// operations are the actions and functions routes name in their paths.
// Clients write them in any case and with or without the microsoft.graph.
// namespace (beta's metadata spells Cancel), and pass a function's
// parameters in the segment: filterByCurrentUser(on='target').
var operations = []string{"cancel", "resume", "reprocess", "filterByCurrentUser", "additionalAccess", "getApplicablePolicyRequirements"}

type callKey struct{}

// canonicalOperation rewrites a path segment that names an operation to the
// name the route table writes, so that each operation has a route of its
// own, and keeps the segment as sent (with a function's parameters) for the
// handler: see callSegment. A segment is rewritten only where the table has
// the operation at that place, so an object whose id happens to read like
// an operation's name is still found by its id.
func (s *Server) canonicalOperation(r *http.Request) *http.Request {
	segs := strings.Split(r.URL.Path, "/")
	for i, seg := range segs {
		name, _, _ := strings.Cut(seg, "(")
		name = typeName(name)
		k := slices.IndexFunc(operations, func(op string) bool { return strings.EqualFold(op, name) })
		if k < 0 || seg == operations[k] {
			continue
		}
		rewritten := slices.Clone(segs)
		rewritten[i] = operations[k]
		probe := r.Clone(r.Context())
		probe.URL.Path, probe.URL.RawPath = strings.Join(rewritten, "/"), ""
		_, pattern := s.mux.Handler(probe)
		_, path, _ := strings.Cut(pattern, " ")
		if psegs := strings.Split(path, "/"); i >= len(psegs) || psegs[i] != operations[k] {
			continue
		}
		sent := call{segment: seg, path: r.URL.Path}
		r.URL.Path, r.URL.RawPath = probe.URL.Path, ""
		return r.WithContext(context.WithValue(r.Context(), callKey{}, sent))
	}
	return r
}

// call is an operation's segment and the whole path, as the client sent them.
type call struct{ segment, path string }

// callSegment is the path segment that named the route's operation, as the
// client sent it: filterByCurrentUser(on='target'), or the bare name when
// the client wrote it so.
func callSegment(r *http.Request, name string) string {
	if c, ok := r.Context().Value(callKey{}).(call); ok {
		return c.segment
	}
	return name
}

// addressOf is the path as the client addressed it, a function's
// parameters included, for nextLinks and the fingerprints of skiptokens.
func addressOf(r *http.Request) string {
	if c, ok := r.Context().Value(callKey{}).(call); ok {
		return c.path
	}
	return r.URL.Path
}

// contextURL builds @odata.context: base/version/$metadata#set[/$entity].
func contextURL(base, version, set string, entity bool) string {
	u := base + "/" + version + "/$metadata#" + set
	if entity {
		u += "/$entity"
	}
	return u
}

// currentUserFilter reads a path segment that calls the function
// filterByCurrentUser, such as filterByCurrentUser(on='approver'), with or
// without the microsoft.graph. namespace. The function shares its place in
// the path with an object's id: called is false for any other segment. A
// call that does not pass one quoted on value is 400.
func currentUserFilter(segment string) (on string, called bool, err error) {
	name, args, hasArgs := strings.Cut(segment, "(")
	if !strings.EqualFold(typeName(name), "filterByCurrentUser") {
		return "", false, nil
	}
	bad := access.Invalidf("%s: filterByCurrentUser takes one parameter, as in filterByCurrentUser(on='approver')", segment)
	inner, closed := strings.CutSuffix(args, ")")
	param, value, hasValue := strings.Cut(inner, "=")
	value = strings.TrimSpace(value)
	if !hasArgs || !closed || !hasValue || !strings.EqualFold(strings.TrimSpace(param), "on") ||
		len(value) < 2 || value[0] != '\'' || value[len(value)-1] != '\'' {
		return "", true, bad
	}
	return strings.ReplaceAll(value[1:len(value)-1], "''", "'"), true, nil
}

// functionCall reads a path segment that calls the function name with
// quoted parameters, such as
// additionalAccess(accessPackageId='a',incompatibleAccessPackageId='b'),
// with or without the microsoft.graph. namespace. Like filterByCurrentUser
// it shares its place in the path with an object's id: called is false for
// any other segment. A parameter list that is not name='value' pairs is 400.
func functionCall(segment, name string) (params map[string]string, called bool, err error) {
	fn, args, hasArgs := strings.Cut(segment, "(")
	if !hasArgs || !strings.EqualFold(typeName(fn), name) {
		return nil, false, nil
	}
	bad := access.Invalidf("%s: parameters are written name='value', separated by commas, as in %s(accessPackageId='…')", segment, name)
	inner, closed := strings.CutSuffix(args, ")")
	if !closed {
		return nil, true, bad
	}
	params = map[string]string{}
	for strings.TrimSpace(inner) != "" {
		param, rest, ok := strings.Cut(inner, "=")
		param, rest = strings.TrimSpace(param), strings.TrimSpace(rest)
		if !ok || param == "" || !strings.HasPrefix(rest, "'") {
			return nil, true, bad
		}
		value, after, ok := quotedLiteral(rest)
		if !ok {
			return nil, true, bad
		}
		if _, twice := params[param]; twice {
			return nil, true, access.Invalidf("%s: parameter %s is given twice", segment, param)
		}
		params[param] = value
		after = strings.TrimSpace(after)
		if after != "" && !strings.HasPrefix(after, ",") {
			return nil, true, bad
		}
		inner = strings.TrimPrefix(after, ",")
		if after != "" && strings.TrimSpace(inner) == "" {
			return nil, true, bad // a trailing comma
		}
	}
	return params, true, nil
}

// quotedLiteral reads the OData string literal that s starts with, where
// two quotes in a row stand for one, and returns its value and what
// follows it.
func quotedLiteral(s string) (value, rest string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '\'' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		return b.String(), s[i+1:], true
	}
	return "", "", false
}
