package sqlstore

import "github.com/accessd/accessd/access"

func (t *tx) RoleAssignment(id string) (access.RoleAssignment, error) {
	return get(t, scanDoc[access.RoleAssignment], access.NotFoundf("no role assignment with id %q", id),
		"SELECT doc FROM role_assignments WHERE id = ?", id)
}

func (t *tx) RolesHeld(principalID string) ([]access.HeldRole, error) {
	return list(t, func(s scanner) (access.HeldRole, error) {
		var h access.HeldRole
		err := s.Scan(&h.RoleID, &h.CatalogID)
		return h, err
	}, "SELECT role_definition_id, catalog_id FROM role_assignments WHERE principal_id = ? ORDER BY id", principalID)
}

// AddRoleAssignment does nothing on a conflict rather than fail the
// statement, which on PostgreSQL would abort the transaction.
func (t *tx) AddRoleAssignment(a access.RoleAssignment) error {
	doc, err := t.encode(a)
	if err != nil {
		return err
	}
	n, err := t.execCount(`INSERT INTO role_assignments (id, principal_id, role_definition_id, catalog_id, doc) VALUES (?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING`, a.ID, a.PrincipalID, a.RoleDefinitionID, a.CatalogID, doc)
	if err != nil {
		return err
	}
	if n == 0 {
		if _, err := t.RoleAssignment(a.ID); err == nil {
			return access.Conflictf("a role assignment with id %q already exists", a.ID)
		}
		return access.Conflictf("principal %q already holds role %q there", a.PrincipalID, a.RoleDefinitionID)
	}
	return nil
}

func (t *tx) DeleteRoleAssignment(id string) error {
	return t.deleteByID("role_assignments", id, access.NotFoundf("no role assignment with id %q", id))
}

func (t *tx) DeleteRoleAssignmentsOn(catalogID string) error {
	if catalogID == "" {
		return nil
	}
	_, err := t.exec("DELETE FROM role_assignments WHERE catalog_id = ?", catalogID)
	return err
}

// dropRolesOf removes the roles of a principal that is deleted.
func (t *tx) dropRolesOf(principalID string) error {
	_, err := t.exec("DELETE FROM role_assignments WHERE principal_id = ?", principalID)
	return err
}

// catalogRoleOf is the condition "the compared principal holds a role on
// the catalog whose id catalogExpr is".
func (b *sqlBuilder) catalogRoleOf(c *access.Cond) string {
	if c.Op != access.OpEq || c.Value.Kind != access.ValueString || b.nt.catalog == "" {
		b.err = access.Invalidf("$filter: a catalog role can only be compared with eq and an id")
		return "1=0"
	}
	return "(" + b.nt.catalog + " IN (SELECT catalog_id FROM role_assignments WHERE principal_id = " + b.arg(c.Value.S) + " AND catalog_id <> ''))"
}
