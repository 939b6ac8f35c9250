package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/accessd/accessd/access"
)

// The wire shapes of the directory's nouns, for directoryList and
// getHandler, and a group's id, for lists of groups held in memory.
func userShape(u access.User) any                          { return userOut(u) }
func groupShape(g access.Group) any                        { return groupOut(g) }
func servicePrincipalShape(sp access.ServicePrincipal) any { return servicePrincipalOut(sp) }
func groupID(g access.Group) string                        { return g.ID }

// directory holds the handlers of the directory routes of one version.
type directory struct {
	s       *Server
	version string
}

func (d directory) context(set string, entity bool) string {
	return contextURL(d.s.cfg.PublicURL, d.version, set, entity)
}

// ---- wire types: output ----

// userWire is a user as Graph shows it.
type userWire struct {
	ID                string  `json:"id"`
	DisplayName       string  `json:"displayName"`
	UserPrincipalName string  `json:"userPrincipalName"`
	Mail              *string `json:"mail"`
	MailNickname      *string `json:"mailNickname"`
	AccountEnabled    bool    `json:"accountEnabled"`
}

func userOut(u access.User) userWire {
	return userWire{
		ID:                u.ID,
		DisplayName:       u.DisplayName,
		UserPrincipalName: u.UserPrincipalName,
		Mail:              optional(u.Mail),
		MailNickname:      optional(u.MailNickname),
		AccountEnabled:    u.AccountEnabled,
	}
}

// groupWire is a group as Graph shows it. accessd has only security and
// mail groups, so groupTypes is always empty.
type groupWire struct {
	ID              string   `json:"id"`
	DisplayName     string   `json:"displayName"`
	Description     *string  `json:"description"`
	GroupTypes      []string `json:"groupTypes"`
	MailNickname    string   `json:"mailNickname"`
	MailEnabled     bool     `json:"mailEnabled"`
	SecurityEnabled bool     `json:"securityEnabled"`
}

func groupOut(g access.Group) groupWire {
	return groupWire{
		ID:              g.ID,
		DisplayName:     g.DisplayName,
		Description:     optional(g.Description),
		GroupTypes:      []string{},
		MailNickname:    g.MailNickname,
		MailEnabled:     g.MailEnabled,
		SecurityEnabled: g.SecurityEnabled,
	}
}

// servicePrincipalWire is a service principal as Graph shows it.
type servicePrincipalWire struct {
	ID          string        `json:"id"`
	AppID       string        `json:"appId"`
	DisplayName *string       `json:"displayName"`
	AppRoles    []appRoleWire `json:"appRoles"`
}

type appRoleWire struct {
	ID                 string   `json:"id"`
	AllowedMemberTypes []string `json:"allowedMemberTypes"`
	Description        *string  `json:"description"`
	DisplayName        *string  `json:"displayName"`
	IsEnabled          bool     `json:"isEnabled"`
	Value              *string  `json:"value"`
}

func servicePrincipalOut(sp access.ServicePrincipal) servicePrincipalWire {
	roles := make([]appRoleWire, 0, len(sp.AppRoles))
	for _, r := range sp.AppRoles {
		types := r.AllowedMemberTypes
		if types == nil {
			types = []string{}
		}
		roles = append(roles, appRoleWire{
			ID:                 r.ID,
			AllowedMemberTypes: types,
			Description:        optional(r.Description),
			DisplayName:        optional(r.DisplayName),
			IsEnabled:          r.IsEnabled,
			Value:              optional(r.Value),
		})
	}
	return servicePrincipalWire{ID: sp.ID, AppID: sp.AppID, DisplayName: optional(sp.DisplayName), AppRoles: roles}
}

// userFields, groupFields and servicePrincipalFields are what $filter and
// $orderby may name on the directory's lists, in both versions.
var (
	userFields = wireFields{noun: access.NounUsers, paths: map[string]wireField{
		"id":                {field: "ID"},
		"displayName":       {field: "DisplayName"},
		"userPrincipalName": {field: "UserPrincipalName"},
		"mail":              {field: "Mail"},
		"mailNickname":      {field: "MailNickname"},
		"accountEnabled":    {field: "AccountEnabled"},
		"manager/id":        {field: "ManagerID"},
	}}
	groupFields = wireFields{noun: access.NounGroups, paths: map[string]wireField{
		"id":              {field: "ID"},
		"displayName":     {field: "DisplayName"},
		"description":     {field: "Description"},
		"mailNickname":    {field: "MailNickname"},
		"mailEnabled":     {field: "MailEnabled"},
		"securityEnabled": {field: "SecurityEnabled"},
	}}
	servicePrincipalFields = wireFields{noun: access.NounServicePrincipals, paths: map[string]wireField{
		"id":          {field: "ID"},
		"appId":       {field: "AppID"},
		"displayName": {field: "DisplayName"},
	}}
)

// Members and owners are directory objects of several types; each carries
// its @odata.type and then that type's own properties.
type (
	userObjectWire struct {
		Type string `json:"@odata.type"`
		userWire
	}
	groupObjectWire struct {
		Type string `json:"@odata.type"`
		groupWire
	}
	servicePrincipalObjectWire struct {
		Type string `json:"@odata.type"`
		servicePrincipalWire
	}
	bareObjectWire struct {
		Type string `json:"@odata.type"`
		ID   string `json:"id"`
	}
)

func directoryObjectOut(o access.DirectoryObject) any {
	switch {
	case o.Kind == access.ObjectUser && o.User != nil:
		return userObjectWire{"#microsoft.graph.user", userOut(*o.User)}
	case o.Kind == access.ObjectGroup && o.Group != nil:
		return groupObjectWire{"#microsoft.graph.group", groupOut(*o.Group)}
	case o.Kind == access.ObjectServicePrincipal && o.ServicePrincipal != nil:
		return servicePrincipalObjectWire{"#microsoft.graph.servicePrincipal", servicePrincipalOut(*o.ServicePrincipal)}
	}
	return bareObjectWire{"#microsoft.graph." + string(o.Kind), o.ID}
}

// ---- wire types: input ----

// Input types have pointer fields so that PATCH changes only what was sent;
// POST reads the same types. Read-only properties a client copies back from
// a GET (id) are accepted and ignored. nulls records the properties sent as
// an explicit null (lower-cased): null clears a nullable property and is
// refused for the others.

type userInput struct {
	ODataType         *string         `json:"@odata.type"`
	ID                *string         `json:"id"` // read-only
	DisplayName       *string         `json:"displayName"`
	UserPrincipalName *string         `json:"userPrincipalName"`
	Mail              *string         `json:"mail"`
	MailNickname      *string         `json:"mailNickname"`
	AccountEnabled    *bool           `json:"accountEnabled"`
	PasswordProfile   json.RawMessage `json:"passwordProfile"` // Graph clients send one; accessd has no passwords
	ManagerBind       *string         `json:"manager@odata.bind"`

	nulls map[string]bool
}

func (in *userInput) check() error {
	if err := checkODataType("@odata.type", in.ODataType, "user"); err != nil {
		return err
	}
	return refuseNulls(in.nulls, "displayName", "userPrincipalName", "accountEnabled")
}

// apply checks the input and copies what was sent onto u.
func (in *userInput) apply(u *access.User) error {
	if err := in.check(); err != nil {
		return err
	}
	assignIfSent(&u.DisplayName, in.DisplayName)
	assignIfSent(&u.UserPrincipalName, in.UserPrincipalName)
	assignOrClear(&u.Mail, in.Mail, in.nulls, "mail")
	assignOrClear(&u.MailNickname, in.MailNickname, in.nulls, "mailNickname")
	assignIfSent(&u.AccountEnabled, in.AccountEnabled)
	return nil
}

type groupInput struct {
	ODataType       *string  `json:"@odata.type"`
	ID              *string  `json:"id"` // read-only
	DisplayName     *string  `json:"displayName"`
	Description     *string  `json:"description"`
	MailNickname    *string  `json:"mailNickname"`
	SecurityEnabled *bool    `json:"securityEnabled"`
	MailEnabled     *bool    `json:"mailEnabled"`
	GroupTypes      []string `json:"groupTypes"` // accepted and ignored: accessd keeps no Microsoft 365 groups
	MembersBind     []string `json:"members@odata.bind"`
	OwnersBind      []string `json:"owners@odata.bind"`

	nulls map[string]bool
}

func (in *groupInput) check() error {
	if err := checkODataType("@odata.type", in.ODataType, "group"); err != nil {
		return err
	}
	return refuseNulls(in.nulls, "displayName", "mailNickname", "securityEnabled", "mailEnabled")
}

// apply checks the input and copies what was sent onto g.
func (in *groupInput) apply(g *access.Group) error {
	if err := in.check(); err != nil {
		return err
	}
	assignIfSent(&g.DisplayName, in.DisplayName)
	assignOrClear(&g.Description, in.Description, in.nulls, "description")
	assignIfSent(&g.MailNickname, in.MailNickname)
	assignIfSent(&g.SecurityEnabled, in.SecurityEnabled)
	assignIfSent(&g.MailEnabled, in.MailEnabled)
	return nil
}

type servicePrincipalInput struct {
	ODataType   *string         `json:"@odata.type"`
	ID          *string         `json:"id"` // read-only
	AppID       *string         `json:"appId"`
	DisplayName *string         `json:"displayName"`
	AppRoles    *[]appRoleInput `json:"appRoles"`

	nulls map[string]bool
}

type appRoleInput struct {
	ODataType          *string  `json:"@odata.type"`
	ID                 string   `json:"id"`
	AllowedMemberTypes []string `json:"allowedMemberTypes"`
	Description        *string  `json:"description"`
	DisplayName        *string  `json:"displayName"`
	IsEnabled          *bool    `json:"isEnabled"` // true when absent, as in Graph
	Value              *string  `json:"value"`
}

func (in *servicePrincipalInput) check() error {
	if err := checkODataType("@odata.type", in.ODataType, "servicePrincipal"); err != nil {
		return err
	}
	if in.AppRoles != nil {
		for i, r := range *in.AppRoles {
			if err := checkODataType("appRoles["+strconv.Itoa(i)+"].@odata.type", r.ODataType, "appRole"); err != nil {
				return err
			}
		}
	}
	return refuseNulls(in.nulls, "appId", "appRoles")
}

// apply checks the input and copies what was sent onto sp.
func (in *servicePrincipalInput) apply(sp *access.ServicePrincipal) error {
	if err := in.check(); err != nil {
		return err
	}
	assignIfSent(&sp.AppID, in.AppID)
	assignOrClear(&sp.DisplayName, in.DisplayName, in.nulls, "displayName")
	if in.AppRoles != nil {
		roles := make([]access.AppRole, 0, len(*in.AppRoles))
		for _, r := range *in.AppRoles {
			role := access.AppRole{ID: r.ID, AllowedMemberTypes: r.AllowedMemberTypes, IsEnabled: true}
			if role.AllowedMemberTypes == nil {
				role.AllowedMemberTypes = []string{}
			}
			assignIfSent(&role.Description, r.Description)
			assignIfSent(&role.DisplayName, r.DisplayName)
			assignIfSent(&role.IsEnabled, r.IsEnabled)
			assignIfSent(&role.Value, r.Value)
			roles = append(roles, role)
		}
		sp.AppRoles = roles
	}
	return nil
}

// readInput reads a request body strictly into dst and reports which
// top-level properties were sent as null (see decodeInput).
func readInput(r *http.Request, dst any) (map[string]bool, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return decodeInput(body, dst)
}

// decodeInput decodes body strictly into dst, as decodeJSON does, and
// reports which top-level properties were sent as null, lower-cased, for an
// input type's nulls field.
func decodeInput(body []byte, dst any) (map[string]bool, error) {
	if err := decodeJSON(body, dst); err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, access.Internal(err) // decodeJSON has already accepted it as an object
	}
	nulls := map[string]bool{}
	for k, v := range top {
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			nulls[strings.ToLower(k)] = true
		}
	}
	return nulls, nil
}

func refuseNulls(nulls map[string]bool, names ...string) error {
	for _, n := range names {
		if nulls[strings.ToLower(n)] {
			return access.Invalidf("property '%s' cannot be null", n)
		}
	}
	return nil
}

func assignIfSent[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func assignOrClear(dst *string, v *string, nulls map[string]bool, name string) {
	if nulls[strings.ToLower(name)] {
		*dst = ""
		return
	}
	assignIfSent(dst, v)
}

// checkODataType accepts an absent @odata.type or one naming want, in any of
// the spellings typeName reads.
func checkODataType(property string, got *string, want string) error {
	if got == nil {
		return nil
	}
	if !strings.EqualFold(typeName(*got), want) {
		return access.Invalidf("property '%s': %q is not #microsoft.graph.%s", property, *got, want)
	}
	return nil
}

// ---- references ----

// directoryObjectURL is the example a message about a reference to a
// directory object gives.
const directoryObjectURL = "https://graph.microsoft.com/v1.0/directoryObjects/{id}"

// refID reads the object id out of a $ref body: {"@odata.id": "<url>"}.
// decodeBody drops annotations, so $ref bodies are parsed here.
func refID(body []byte) (string, error) { return refIDTo(body, directoryObjectURL) }

// refIDTo is refID for a reference to anything; example is a URL of the
// kind expected, for messages.
func refIDTo(body []byte, example string) (string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return "", access.Invalidf("a JSON body with '@odata.id' is required")
	}
	var tree any
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&tree); err != nil {
		return "", jsonError(err)
	}
	if dec.More() {
		return "", access.Invalidf("the body holds more than one JSON value")
	}
	obj, ok := tree.(map[string]any)
	if !ok {
		return "", access.Invalidf("the body must be a JSON object with '@odata.id'")
	}
	var ref any
	for k, v := range obj {
		switch {
		case k == "@odata.id":
			ref = v
		case strings.HasPrefix(k, "@"):
			// other annotations (@odata.context, @odata.type) carry nothing here
		default:
			return "", access.Invalidf("property '%s' is not known on a $ref body; send only '@odata.id'", k)
		}
	}
	if ref == nil {
		return "", access.Invalidf("property '@odata.id' is required: a URL such as %s", example)
	}
	s, ok := ref.(string)
	if !ok {
		return "", access.Invalidf("property '@odata.id' has the wrong type: expected a string, a URL such as %s", example)
	}
	return refKeyTo("@odata.id", s, example)
}

// refKey takes the object id from a reference URL such as
// https://graph.microsoft.com/v1.0/users/{id}, …/directoryObjects/{id} or
// …/users('{id}'); a relative URL or a bare id works too. property names
// where the URL came from, for the error message.
func refKey(property, ref string) (string, error) { return refKeyTo(property, ref, directoryObjectURL) }

// refKeyTo is refKey for a reference to anything; example is a URL of the
// kind expected, for messages.
func refKeyTo(property, ref, example string) (string, error) {
	bad := func(why string) error {
		return access.Invalidf("property '%s': %q %s; send a URL such as %s", property, ref, why, example)
	}
	u, err := url.Parse(strings.TrimSpace(ref))
	if err != nil {
		return "", bad("is not a URL")
	}
	seg := u.Path[strings.LastIndex(u.Path, "/")+1:]
	if m := keySegment.FindStringSubmatch(seg); m != nil {
		seg = m[2]
	}
	if seg == "" || seg == "$ref" || strings.ContainsAny(seg, "()'") {
		return "", bad("names no object")
	}
	return seg, nil
}

// refKeys reads the ids of an @odata.bind array.
func refKeys(property string, refs []string) ([]string, error) {
	ids := make([]string, 0, len(refs))
	for i, ref := range refs {
		id, err := refKey(property+"["+strconv.Itoa(i)+"]", ref)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// ---- answers ----

func writeNoContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// pageItems turns one page of domain objects into list items and the last id.
func pageItems[T any](xs []T, out func(T) any, id func(T) string) ([]any, string) {
	items := make([]any, 0, len(xs))
	last := ""
	for _, x := range xs {
		items = append(items, out(x))
		last = id(x)
	}
	return items, last
}

// directoryList answers GET on a list of the directory: one kind of
// object, nothing to expand.
func directoryList[T any](s *Server, fields wireFields, context string, shape func(T) any) handler {
	return serveList(s, storedList[T]{
		fields:  fields,
		context: fixedContext(context),
		shape:   func(_ *http.Request, x T, _ expandSet) (any, error) { return shape(x), nil },
	})
}

// getHandler answers GET on one object by the {id} of its route, with $select.
func getHandler[T any](context string, get func(context.Context, string) (T, error), shape func(T) any) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r)
		if err != nil {
			return err
		}
		x, err := get(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeEntity(w, http.StatusOK, context, shape(x), q.selectSet)
	}
}

// ---- users ----

func (d directory) createUser(w http.ResponseWriter, r *http.Request) error {
	var in userInput
	var err error
	if in.nulls, err = readInput(r, &in); err != nil {
		return err
	}
	u := access.User{AccountEnabled: true}
	if err := in.apply(&u); err != nil {
		return err
	}
	if in.ManagerBind != nil {
		if u.ManagerID, err = refKey("manager@odata.bind", *in.ManagerBind); err != nil {
			return err
		}
	}
	if u, err = d.s.svc.CreateUser(r.Context(), u); err != nil {
		return err
	}
	return writeEntity(w, http.StatusCreated, d.context("users", true), userOut(u), nil)
}

func (d directory) updateUser(w http.ResponseWriter, r *http.Request) error {
	var in userInput
	var err error
	if in.nulls, err = readInput(r, &in); err != nil {
		return err
	}
	if in.ManagerBind != nil || in.nulls["manager@odata.bind"] {
		return access.Invalidf("property 'manager@odata.bind' can be sent only when a user is created; change a manager with PUT or DELETE /users/{id}/manager/$ref")
	}
	if _, err := d.s.svc.UpdateUser(r.Context(), r.PathValue("id"), in.apply); err != nil {
		return err
	}
	return writeNoContent(w)
}

func (d directory) deleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := d.s.svc.DeleteUser(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return writeNoContent(w)
}

func (d directory) getManager(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	m, err := d.s.svc.Manager(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeEntity(w, http.StatusOK, d.context("users", true), userOut(m), q.selectSet)
}

func (d directory) setManager(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	managerID, err := refID(body)
	if err != nil {
		return err
	}
	if err := d.s.svc.SetManager(r.Context(), r.PathValue("id"), managerID); err != nil {
		return err
	}
	return writeNoContent(w)
}

func (d directory) removeManager(w http.ResponseWriter, r *http.Request) error {
	if err := d.s.svc.SetManager(r.Context(), r.PathValue("id"), ""); err != nil {
		return err
	}
	return writeNoContent(w)
}

// ---- groups ----

func (d directory) createGroup(w http.ResponseWriter, r *http.Request) error {
	var in groupInput
	var err error
	if in.nulls, err = readInput(r, &in); err != nil {
		return err
	}
	members, err := refKeys("members@odata.bind", in.MembersBind)
	if err != nil {
		return err
	}
	owners, err := refKeys("owners@odata.bind", in.OwnersBind)
	if err != nil {
		return err
	}
	g := access.Group{SecurityEnabled: true}
	if err := in.apply(&g); err != nil {
		return err
	}
	if g, err = d.s.svc.CreateGroup(r.Context(), g, members, owners); err != nil {
		return err
	}
	return writeEntity(w, http.StatusCreated, d.context("groups", true), groupOut(g), nil)
}

func (d directory) updateGroup(w http.ResponseWriter, r *http.Request) error {
	var in groupInput
	var err error
	if in.nulls, err = readInput(r, &in); err != nil {
		return err
	}
	for _, name := range []string{"members@odata.bind", "owners@odata.bind"} {
		sent := in.nulls[name] || (name == "members@odata.bind" && in.MembersBind != nil) || (name == "owners@odata.bind" && in.OwnersBind != nil)
		if sent {
			return access.Invalidf("property '%s' can be sent only when a group is created; add with POST /groups/{id}/%s/$ref", name, strings.TrimSuffix(name, "@odata.bind"))
		}
	}
	if _, err := d.s.svc.UpdateGroup(r.Context(), r.PathValue("id"), in.apply); err != nil {
		return err
	}
	return writeNoContent(w)
}

func (d directory) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	if err := d.s.svc.DeleteGroup(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return writeNoContent(w)
}

func (d directory) listRelation(rel access.GroupRelation) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r)
		if err != nil {
			return err
		}
		objs, more, err := d.s.svc.GroupRelation(r.Context(), r.PathValue("id"), rel, q.page())
		if err != nil {
			return err
		}
		items, last := pageItems(objs, directoryObjectOut, func(o access.DirectoryObject) string { return o.ID })
		return d.s.writeList(w, r, d.context("directoryObjects", false), items, last, more, q.selectSet)
	}
}

func (d directory) addRelation(rel access.GroupRelation) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := readBody(r)
		if err != nil {
			return err
		}
		objectID, err := refID(body)
		if err != nil {
			return err
		}
		if err := d.s.svc.AddToGroup(r.Context(), r.PathValue("id"), rel, objectID); err != nil {
			return err
		}
		return writeNoContent(w)
	}
}

// removeRelation serves both …/{objectId}/$ref and …/$ref?$id=<url>.
func (d directory) removeRelation(rel access.GroupRelation) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		objectID := r.PathValue("objectId")
		if objectID == "" {
			var ref string
			for k, v := range r.URL.Query() {
				if strings.EqualFold(k, "$id") && len(v) > 0 {
					ref = v[0]
				}
			}
			if ref == "" {
				return access.Invalidf("name the object to remove: DELETE /groups/{id}/%s/{objectId}/$ref, or …/%s/$ref?$id=<its URL>", rel, rel)
			}
			var err error
			if objectID, err = refKey("$id", ref); err != nil {
				return err
			}
		}
		if err := d.s.svc.RemoveFromGroup(r.Context(), r.PathValue("id"), rel, objectID); err != nil {
			return err
		}
		return writeNoContent(w)
	}
}

// ---- service principals ----

func (d directory) createServicePrincipal(w http.ResponseWriter, r *http.Request) error {
	var in servicePrincipalInput
	var err error
	if in.nulls, err = readInput(r, &in); err != nil {
		return err
	}
	var sp access.ServicePrincipal
	if err := in.apply(&sp); err != nil {
		return err
	}
	if sp, err = d.s.svc.CreateServicePrincipal(r.Context(), sp); err != nil {
		return err
	}
	return writeEntity(w, http.StatusCreated, d.context("servicePrincipals", true), servicePrincipalOut(sp), nil)
}

func (d directory) updateServicePrincipal(w http.ResponseWriter, r *http.Request) error {
	var in servicePrincipalInput
	var err error
	if in.nulls, err = readInput(r, &in); err != nil {
		return err
	}
	if _, err := d.s.svc.UpdateServicePrincipal(r.Context(), r.PathValue("id"), in.apply); err != nil {
		return err
	}
	return writeNoContent(w)
}

func (d directory) deleteServicePrincipal(w http.ResponseWriter, r *http.Request) error {
	if err := d.s.svc.DeleteServicePrincipal(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return writeNoContent(w)
}

// ---- app role assignments ----

func appRoleAssignmentID(a access.AppRoleAssignment) string { return a.ID }

// listAppRoleAssignedTo lists who holds the service principal's app roles,
// through access packages or assigned directly.
func (d directory) listAppRoleAssignedTo(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	items, more, err := d.s.svc.AppRoleAssignedTo(r.Context(), id, q.page())
	if err != nil {
		return err
	}
	out, last := pageItems(items, appRoleAssignmentOut, appRoleAssignmentID)
	return d.s.writeList(w, r, d.context("servicePrincipals('"+id+"')/appRoleAssignedTo", false), out, last, more, q.selectSet)
}

// assignAppRole is POST: 201 with the new appRoleAssignment.
func (d directory) assignAppRole(w http.ResponseWriter, r *http.Request) error {
	var in appRoleAssignmentInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	id := r.PathValue("id")
	principalID, appRoleID, err := in.check(id)
	if err != nil {
		return err
	}
	a, err := d.s.svc.AssignAppRole(r.Context(), id, principalID, appRoleID)
	if err != nil {
		return err
	}
	return writeEntity(w, http.StatusCreated, d.context("servicePrincipals('"+id+"')/appRoleAssignedTo", true), appRoleAssignmentOut(a), nil)
}

func (d directory) removeAppRoleAssignment(w http.ResponseWriter, r *http.Request) error {
	if err := d.s.svc.RemoveAppRoleAssignment(r.Context(), r.PathValue("id"), r.PathValue("assignmentId")); err != nil {
		return err
	}
	return writeNoContent(w)
}
