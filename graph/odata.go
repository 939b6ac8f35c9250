package graph

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/accessd/accessd/access"
)

// Paging limits of accessd's lists.
const (
	defaultPageSize = 100
	maxPageSize     = 999
)

// query holds the OData system query options of one call.
type query struct {
	top       int
	after     string
	expand    expandSet
	selectSet []string
	filter    string // $filter as given; only lists that read it accept it (parseFilteredQuery)
}

// supportedOptions are the $-options accessd reads today; others are refused
// rather than silently ignored, so a client never trusts a filter that did nothing.
var supportedOptions = map[string]bool{"$top": true, "$skiptoken": true, "$expand": true, "$select": true}

// parseQuery reads the options of r; expandable names what $expand may name
// here, nested names as "parent/child". $filter is refused.
func parseQuery(r *http.Request, expandable ...string) (query, error) {
	return readQuery(r, false, expandable)
}

// parseFilteredQuery is parseQuery for the lists that read $filter
// themselves (see filter.go); it keeps the expression in q.filter.
func parseFilteredQuery(r *http.Request, expandable ...string) (query, error) {
	return readQuery(r, true, expandable)
}

func readQuery(r *http.Request, allowFilter bool, expandable []string) (query, error) {
	q := query{top: defaultPageSize}
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return q, access.Invalidf("the query string is malformed: %v", err)
	}
	for name := range values {
		if allowFilter && strings.EqualFold(name, "$filter") {
			continue
		}
		if strings.HasPrefix(name, "$") && !supportedOptions[strings.ToLower(name)] {
			return q, access.Invalidf("query option %s is not supported on this resource yet", name)
		}
	}
	get := func(name string) string {
		for k, v := range values {
			if strings.EqualFold(k, name) && len(v) > 0 {
				return v[0]
			}
		}
		return ""
	}
	if allowFilter {
		q.filter = get("$filter")
	}
	if t := get("$top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > maxPageSize {
			return q, access.Invalidf("$top must be a whole number from 1 to %d, not %q", maxPageSize, t)
		}
		q.top = n
	}
	if tok := get("$skiptoken"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		after, ok := strings.CutPrefix(string(raw), "after:")
		if err != nil || !ok || after == "" {
			return q, access.Invalidf("$skiptoken is not one accessd issued; follow @odata.nextLink as given")
		}
		q.after = after
	}
	if e := get("$expand"); e != "" {
		set, err := parseExpand(e)
		if err != nil {
			return q, err
		}
		if err := set.check("", expandable); err != nil {
			return q, err
		}
		q.expand = set
	}
	if s := get("$select"); s != "" {
		for _, name := range strings.Split(s, ",") {
			if name = strings.TrimSpace(name); name != "" {
				q.selectSet = append(q.selectSet, name)
			}
		}
		// Expanded navigation properties stay in the answer, as in Graph.
		for name := range q.expand {
			q.selectSet = append(q.selectSet, name)
		}
	}
	return q, nil
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

func (q query) page() access.Page { return access.Page{After: q.after, Limit: q.top} }

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

// parseExpand reads "a,b($expand=c),d" into a tree.
func parseExpand(s string) (expandSet, error) {
	set := expandSet{}
	for _, item := range splitTop(s) {
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
		if !strings.HasSuffix(inner, ")") {
			return nil, access.Invalidf("$expand: unbalanced parentheses in %q", item)
		}
		inner = strings.TrimSuffix(inner, ")")
		for _, opt := range strings.Split(inner, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(opt), "=")
			if !strings.EqualFold(k, "$expand") {
				return nil, access.Invalidf("$expand: nested option %q is not supported yet", k)
			}
			sub, err := parseExpand(v)
			if err != nil {
				return nil, err
			}
			set[name] = sub
		}
	}
	return set, nil
}

// splitTop splits on commas outside parentheses.
func splitTop(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
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

// contextURL builds @odata.context: base/version/$metadata#set[/$entity].
func contextURL(base, version, set string, entity bool) string {
	u := base + "/" + version + "/$metadata#" + set
	if entity {
		u += "/$entity"
	}
	return u
}

// nextLink repeats the call with a $skiptoken after the last id of this page.
func nextLink(base string, r *http.Request, lastID string) string {
	values := url.Values{}
	for k, v := range r.URL.Query() {
		if !strings.EqualFold(k, "$skiptoken") {
			values[k] = v
		}
	}
	values.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte("after:"+lastID)))
	return base + r.URL.Path + "?" + values.Encode()
}

// applySelect keeps only the selected properties of an encoded object (plus
// id and annotations, which Graph always returns). A name the object lacks is
// refused; lists use selectLenient, since their items may be of several types.
func applySelect(obj []byte, sel []string) ([]byte, error) {
	return selectProperties(obj, sel, false)
}

func selectLenient(obj []byte, sel []string) ([]byte, error) {
	return selectProperties(obj, sel, true)
}

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
