package sqlstore

import (
	"github.com/accessd/accessd/access"
)

var upsertResource = upsert("resources", "id", "catalog_id", "origin_system", "origin_id", "doc")

func (t *tx) Resource(id string) (access.Resource, error) {
	return get(t, scanDoc[access.Resource], access.NotFoundf("no resource with id %q", id),
		"SELECT doc FROM resources WHERE id = ?", id)
}

func (t *tx) Resources(catalogID string, p access.Page) ([]access.Resource, error) {
	return listPage[access.Resource](t, "resources", "catalog_id", catalogID, p)
}

func (t *tx) ResourceByOrigin(catalogID, originSystem, originID string) (access.Resource, error) {
	return get(t, scanDoc[access.Resource],
		access.NotFoundf("catalog %q has no %s resource %q", catalogID, originSystem, originID),
		"SELECT doc FROM resources WHERE catalog_id = ? AND origin_system = ? AND origin_id = ?", catalogID, originSystem, originID)
}

// PutResource refuses a second resource for the same group or application in
// one catalog: the unique index would, and a conflict says it better.
func (t *tx) PutResource(r access.Resource) error {
	if other, err := t.ResourceByOrigin(r.CatalogID, r.OriginSystem, r.OriginID); err == nil && other.ID != r.ID {
		return access.Conflictf("catalog %q already has resource %q for %s %q", r.CatalogID, other.ID, r.OriginSystem, r.OriginID)
	} else if err != nil && !access.IsNotFound(err) {
		return err
	}
	doc, err := t.encode(r)
	if err != nil {
		return err
	}
	_, err = t.exec(upsertResource, r.ID, r.CatalogID, r.OriginSystem, r.OriginID, doc)
	return err
}

func (t *tx) DeleteResource(id string) error {
	return t.deleteByID("resources", id, access.NotFoundf("no resource with id %q", id))
}

func (t *tx) ResourceRequest(id string) (access.ResourceRequest, error) {
	return get(t, scanDoc[access.ResourceRequest], access.NotFoundf("no resource request with id %q", id),
		"SELECT doc FROM resource_requests WHERE id = ?", id)
}

func (t *tx) ResourceRequests(p access.Page) ([]access.ResourceRequest, error) {
	return listPage[access.ResourceRequest](t, "resource_requests", "", "", p)
}

func (t *tx) AddResourceRequest(r access.ResourceRequest) error {
	doc, err := t.encode(r)
	if err != nil {
		return err
	}
	_, err = t.exec("INSERT INTO resource_requests (id, catalog_id, created_us, doc) VALUES (?, ?, ?, ?)", r.ID, r.CatalogID, r.CreatedDateTime.UnixMicro(), doc)
	return err
}

func (t *tx) AppRoleAssignments(resourceID, principalID string, p access.Page) ([]access.AppRoleAssignment, error) {
	var c conds
	c.eq("resource_id", resourceID)
	c.eq("principal_id", principalID)
	return listWhere[access.AppRoleAssignment](t, "app_role_assignments", c, p)
}

// AddAppRoleAssignment does nothing on a conflict rather than fail the
// statement: on PostgreSQL a failed statement would abort the transaction.
func (t *tx) AddAppRoleAssignment(a access.AppRoleAssignment) error {
	doc, err := t.encode(a)
	if err != nil {
		return err
	}
	n, err := t.execCount(`INSERT INTO app_role_assignments (id, resource_id, principal_id, app_role_id, doc) VALUES (?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING`, a.ID, a.ResourceID, a.PrincipalID, a.AppRoleID, doc)
	if err != nil {
		return err
	}
	if n == 0 {
		return access.Conflictf("%s %q already holds app role %q of %q", a.PrincipalType, a.PrincipalID, a.AppRoleID, a.ResourceID)
	}
	return nil
}

func (t *tx) DeleteAppRoleAssignment(id string) error {
	return t.deleteByID("app_role_assignments", id, access.NotFoundf("no app role assignment with id %q", id))
}

func (t *tx) InGroup(groupID string, rel access.GroupRelation, objectID string) (bool, error) {
	n, err := t.count("SELECT COUNT(*) FROM group_relations WHERE group_id = ? AND relation = ? AND object_id = ?",
		groupID, string(rel), objectID)
	return n > 0, err
}

func (t *tx) PackagesIncompatibleWith(id string) ([]string, error) {
	return listStringsCached(t, "SELECT package_id FROM package_incompatibilities WHERE other_id = ? ORDER BY package_id", id)
}

// putIncompatibilities keeps a package's incompatibility rows in step with its doc.
func (t *tx) putIncompatibilities(p access.AccessPackage) error {
	if _, err := t.exec("DELETE FROM package_incompatibilities WHERE package_id = ?", p.ID); err != nil {
		return err
	}
	for _, other := range p.IncompatiblePackages {
		if _, err := t.exec("INSERT INTO package_incompatibilities (package_id, other_id) VALUES (?, ?) ON CONFLICT DO NOTHING", p.ID, other); err != nil {
			return err
		}
	}
	return nil
}

func scanString(s scanner) (string, error) {
	var v string
	err := s.Scan(&v)
	return v, err
}
