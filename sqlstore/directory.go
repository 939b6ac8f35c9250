package sqlstore

import (
	"fmt"
	"strings"

	"github.com/accessd/accessd/access"
	json "github.com/segmentio/encoding/json"
)

var (
	upsertUser  = upsert("users", "id", "user_principal_name", "display_name", "manager_id", "doc")
	upsertGroup = upsert("groups", "id", "display_name", "doc")
	upsertSP    = upsert("service_principals", "id", "app_id", "display_name", "doc")
)

func (t *tx) User(id string) (access.User, error) {
	return get(t, scanDoc[access.User], access.NotFoundf("no user with id %q", id), "SELECT doc FROM users WHERE id = ?", id)
}

// UserByPrincipalName compares lower-cased UPNs: the column holds the UPN
// lower-cased in Go, so every engine folds case the same way.
func (t *tx) UserByPrincipalName(upn string) (access.User, error) {
	notFound := access.NotFoundf("no user with userPrincipalName %q", upn)
	if upn == "" {
		return access.User{}, notFound
	}
	return get(t, scanDoc[access.User], notFound, "SELECT doc FROM users WHERE user_principal_name = ?", strings.ToLower(upn))
}

func (t *tx) Users(p access.Page) ([]access.User, error) {
	return listPage[access.User](t, "users", "", "", p)
}

func (t *tx) PutUser(u access.User) error {
	t.directoryChanged = true
	doc, err := t.encode(u)
	if err != nil {
		return err
	}
	_, err = t.exec(upsertUser, u.ID, strings.ToLower(u.UserPrincipalName), u.DisplayName, u.ManagerID, doc)
	if access.KindOf(err) == access.KindConflict {
		return &access.Error{Kind: access.KindConflict,
			Message: fmt.Sprintf("another user already has userPrincipalName %q", u.UserPrincipalName), Err: err}
	}
	return err
}

func (t *tx) DeleteUser(id string) error {
	t.directoryChanged = true
	if err := t.deleteByID("users", id, access.NotFoundf("no user with id %q", id)); err != nil {
		return err
	}
	if err := t.removeFromAllGroups(access.ObjectUser, id); err != nil {
		return err
	}
	if err := t.dropRolesOf(id); err != nil {
		return err
	}
	// The manager lives in doc too, so the users it managed are rewritten whole.
	reports, err := list(t, scanDoc[access.User], "SELECT doc FROM users WHERE manager_id = ?", id)
	if err != nil {
		return err
	}
	for _, u := range reports {
		u.ManagerID = ""
		if err := t.PutUser(u); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) Group(id string) (access.Group, error) {
	return get(t, scanDoc[access.Group], access.NotFoundf("no group with id %q", id), "SELECT doc FROM groups WHERE id = ?", id)
}

func (t *tx) Groups(p access.Page) ([]access.Group, error) {
	return listPage[access.Group](t, "groups", "", "", p)
}

func (t *tx) PutGroup(g access.Group) error {
	doc, err := t.encode(g)
	if err != nil {
		return err
	}
	_, err = t.exec(upsertGroup, g.ID, g.DisplayName, doc)
	return err
}

func (t *tx) DeleteGroup(id string) error {
	if err := t.deleteByID("groups", id, access.NotFoundf("no group with id %q", id)); err != nil {
		return err
	}
	// The foreign key cascades too; saying it here keeps the rule readable.
	if _, err := t.exec("DELETE FROM group_relations WHERE group_id = ?", id); err != nil {
		return err
	}
	return t.removeFromAllGroups(access.ObjectGroup, id)
}

// removeFromAllGroups deletes every membership and ownership of one object,
// and the app roles it holds or, for a service principal, offers.
func (t *tx) removeFromAllGroups(kind access.DirectoryObjectKind, id string) error {
	if _, err := t.exec("DELETE FROM group_relations WHERE object_kind = ? AND object_id = ?", string(kind), id); err != nil {
		return err
	}
	_, err := t.exec("DELETE FROM app_role_assignments WHERE principal_id = ? OR resource_id = ?", id, id)
	return err
}

// selectRelations joins each relation to the table its kind names. A row
// whose object is gone (which only a bug could cause) is left out rather
// than failing the whole list.
const selectRelations = `SELECT r.object_kind, r.object_id, u.doc, g.doc, s.doc
FROM group_relations r
LEFT JOIN users u ON r.object_kind = ? AND u.id = r.object_id
LEFT JOIN groups g ON r.object_kind = ? AND g.id = r.object_id
LEFT JOIN service_principals s ON r.object_kind = ? AND s.id = r.object_id`

func (t *tx) GroupRelation(groupID string, rel access.GroupRelation, p access.Page) ([]access.DirectoryObject, error) {
	q, args, err := pageQuery(selectRelations, "r.object_id",
		"r.group_id = ? AND r.relation = ? AND (u.id IS NOT NULL OR g.id IS NOT NULL OR s.id IS NOT NULL)", p,
		string(access.ObjectUser), string(access.ObjectGroup), string(access.ObjectServicePrincipal), groupID, string(rel))
	if err != nil {
		return nil, err
	}
	return list(t, scanDirectoryObject, q, args...)
}

func scanDirectoryObject(s scanner) (access.DirectoryObject, error) {
	var o access.DirectoryObject
	var user, group, sp []byte
	if err := s.Scan(&o.Kind, &o.ID, &user, &group, &sp); err != nil {
		return o, err
	}
	var err error
	switch o.Kind {
	case access.ObjectUser:
		o.User, err = decodePtr[access.User](user)
	case access.ObjectGroup:
		o.Group, err = decodePtr[access.Group](group)
	case access.ObjectServicePrincipal:
		o.ServicePrincipal, err = decodePtr[access.ServicePrincipal](sp)
	default:
		err = fmt.Errorf("group relation to %q, an unknown kind of object", o.Kind)
	}
	return o, err
}

func decodePtr[T any](doc []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(doc, v); err != nil {
		return nil, fmt.Errorf("decode stored %T: %w", *v, err)
	}
	return v, nil
}

// AddToGroup checks that the group and the object exist, so a listed
// relation always has an object to show.
func (t *tx) AddToGroup(groupID string, rel access.GroupRelation, kind access.DirectoryObjectKind, objectID string) error {
	if rel != access.GroupMembers && rel != access.GroupOwners {
		return access.Invalidf("%q is not a group relation: use members or owners", rel)
	}
	if _, err := t.Group(groupID); err != nil {
		return err
	}
	var err error
	switch kind {
	case access.ObjectUser:
		_, err = t.User(objectID)
	case access.ObjectGroup:
		_, err = t.Group(objectID)
	case access.ObjectServicePrincipal:
		_, err = t.ServicePrincipal(objectID)
	default:
		err = access.Invalidf("%q is not a kind of directory object", kind)
	}
	if err != nil {
		return err
	}
	// DO NOTHING rather than a constraint error: on PostgreSQL an error would
	// also abort the caller's transaction.
	n, err := t.execCount(`INSERT INTO group_relations (group_id, relation, object_id, object_kind) VALUES (?, ?, ?, ?)
ON CONFLICT (group_id, relation, object_id) DO NOTHING`, groupID, string(rel), objectID, string(kind))
	if err != nil {
		return err
	}
	if n == 0 {
		return access.Conflictf("%s %q is already one of the %s of group %q", kind, objectID, rel, groupID)
	}
	return nil
}

func (t *tx) RemoveFromGroup(groupID string, rel access.GroupRelation, objectID string) error {
	n, err := t.execCount("DELETE FROM group_relations WHERE group_id = ? AND relation = ? AND object_id = ?",
		groupID, string(rel), objectID)
	if err != nil {
		return err
	}
	if n == 0 {
		return access.NotFoundf("%q is not one of the %s of group %q", objectID, rel, groupID)
	}
	return nil
}

func (t *tx) ServicePrincipal(id string) (access.ServicePrincipal, error) {
	return get(t, scanDoc[access.ServicePrincipal], access.NotFoundf("no service principal with id %q", id),
		"SELECT doc FROM service_principals WHERE id = ?", id)
}

func (t *tx) ServicePrincipalByAppID(appID string) (access.ServicePrincipal, error) {
	notFound := access.NotFoundf("no service principal with appId %q", appID)
	if appID == "" {
		return access.ServicePrincipal{}, notFound // many may have none; none is found by it
	}
	return get(t, scanDoc[access.ServicePrincipal], notFound, "SELECT doc FROM service_principals WHERE app_id = ? AND app_id <> ''", appID)
}

func (t *tx) ServicePrincipalByName(name string) (access.ServicePrincipal, error) {
	return get(t, scanDoc[access.ServicePrincipal], access.NotFoundf("no service principal with displayName %q", name),
		"SELECT doc FROM service_principals WHERE display_name = ? ORDER BY id LIMIT 1", name)
}

func (t *tx) ServicePrincipals(p access.Page) ([]access.ServicePrincipal, error) {
	return listPage[access.ServicePrincipal](t, "service_principals", "", "", p)
}

func (t *tx) PutServicePrincipal(sp access.ServicePrincipal) error {
	t.directoryChanged = true
	doc, err := t.encode(sp)
	if err != nil {
		return err
	}
	_, err = t.exec(upsertSP, sp.ID, sp.AppID, sp.DisplayName, doc)
	if access.KindOf(err) == access.KindConflict {
		return &access.Error{Kind: access.KindConflict,
			Message: fmt.Sprintf("another service principal already has appId %q", sp.AppID), Err: err}
	}
	return err
}

func (t *tx) DeleteServicePrincipal(id string) error {
	t.directoryChanged = true
	if err := t.deleteByID("service_principals", id, access.NotFoundf("no service principal with id %q", id)); err != nil {
		return err
	}
	if err := t.dropRolesOf(id); err != nil {
		return err
	}
	return t.removeFromAllGroups(access.ObjectServicePrincipal, id)
}
