package graph

import (
	"net/http"

	"github.com/accessd/accessd/access"
)

// Role-based access control: the entitlement-management roles
// (/roleManagement/entitlementManagement) and the one directory role
// accessd knows, Identity Governance Administrator
// (/roleManagement/directory), in v1.0 and beta alike. Who may give and see
// roles is the service's rule; handlers decode, call it and write Graph's
// unifiedRoleDefinition and unifiedRoleAssignment.

// roleProvider is one of Graph's RBAC providers, in one version.
type roleProvider struct {
	version   string
	name      string // entitlementManagement or directory
	directory bool
}

func (p roleProvider) set(collection string) string {
	return "roleManagement/" + p.name + "/" + collection
}

// roleDefinitionOut is a unifiedRoleDefinition. accessd's roles are the
// built-in ones; their permissions are the rules of access/authorize.go,
// which have no resource-action names, so rolePermissions is empty.
type roleDefinitionOut struct {
	ID              string `json:"id"`
	DisplayName     string `json:"displayName"`
	Description     string `json:"description"`
	IsBuiltIn       bool   `json:"isBuiltIn"`
	IsEnabled       bool   `json:"isEnabled"`
	TemplateID      string `json:"templateId"`
	Version         string `json:"version"`
	RolePermissions []any  `json:"rolePermissions"`
}

func roleDefinitionToWire(d access.RoleDefinition) roleDefinitionOut {
	return roleDefinitionOut{ID: d.ID, DisplayName: d.DisplayName, Description: d.Description, IsBuiltIn: true, IsEnabled: true,
		TemplateID: d.ID, Version: "1", RolePermissions: []any{}}
}

// roleAssignmentOut is a unifiedRoleAssignment: one of directoryScopeId and
// appScopeId is set, the other null.
type roleAssignmentOut struct {
	ID               string  `json:"id"`
	PrincipalID      string  `json:"principalId"`
	RoleDefinitionID string  `json:"roleDefinitionId"`
	DirectoryScopeID *string `json:"directoryScopeId"`
	AppScopeID       *string `json:"appScopeId"`
	Condition        *string `json:"condition"`
	Principal        any     `json:"principal,omitempty"`
	RoleDefinition   any     `json:"roleDefinition,omitempty"`
}

// roleAssignmentInput is the POST body. Read-only and navigation
// properties sent back from a GET are accepted and ignored.
type roleAssignmentInput struct {
	ODataType        *string `json:"@odata.type"`
	PrincipalID      *string `json:"principalId"`
	RoleDefinitionID *string `json:"roleDefinitionId"`
	DirectoryScopeID *string `json:"directoryScopeId"`
	AppScopeID       *string `json:"appScopeId"`
	ID               ignored `json:"id"`
	Condition        ignored `json:"condition"`
	Principal        ignored `json:"principal"`
	RoleDefinition   ignored `json:"roleDefinition"`
}

// roleAssignmentFields are what $filter and $orderby may name.
var roleAssignmentFields = wireFields{noun: access.NounRoleAssignments, paths: map[string]wireField{
	"id":                {field: "ID"},
	"principalId":       {field: "PrincipalID"},
	"roleDefinitionId":  {field: "RoleDefinitionID"},
	"directoryScopeId":  {field: "DirectoryScopeID"},
	"appScopeId":        {field: "AppScopeID"},
	"principal/id":      {field: "PrincipalID"},
	"roleDefinition/id": {field: "RoleDefinitionID"},
}}

var roleAssignmentExpandable = []string{"principal", "roleDefinition"}

func (s *Server) listRoleDefinitions(p roleProvider) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r)
		if err != nil {
			return err
		}
		defs := access.EntitlementRoleDefinitions()
		page, more := pageInIDOrder(defs, func(d access.RoleDefinition) string { return d.ID }, q.page())
		out := make([]any, len(page))
		for i, d := range page {
			out[i] = roleDefinitionToWire(d)
		}
		return s.writeList(w, r, contextURL(s.cfg.PublicURL, p.version, p.set("roleDefinitions"), false), out,
			lastID(page, func(d access.RoleDefinition) string { return d.ID }), more, q.selectSet)
	}
}

func (s *Server) getRoleDefinition(p roleProvider) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r)
		if err != nil {
			return err
		}
		d, ok := access.RoleDefinitionByID(r.PathValue("id"))
		if !ok || d.Directory != p.directory {
			return access.NotFoundf("no role definition with id %q", r.PathValue("id"))
		}
		return writeEntity(w, http.StatusOK, contextURL(s.cfg.PublicURL, p.version, p.set("roleDefinitions"), true), roleDefinitionToWire(d), q.selectSet)
	}
}

// listRoleAssignments lists the provider's role assignments the caller may
// see: the rule runs inside the query, with $filter.
func (s *Server) listRoleAssignments(p roleProvider) handler {
	return serveList(s, storedList[access.RoleAssignment]{
		fields:     roleAssignmentFields,
		expandable: roleAssignmentExpandable,
		context:    fixedContext(contextURL(s.cfg.PublicURL, p.version, p.set("roleAssignments"), false)),
		scope: func(r *http.Request) (*access.Cond, error) {
			iga := access.Value{Kind: access.ValueString, S: access.RoleIdentityGovernanceAdministrator}
			op := access.OpNe
			if p.directory {
				op = access.OpEq
			}
			return &access.Cond{Op: op, Field: "RoleDefinitionID", Value: iga}, nil
		},
		shape: func(r *http.Request, a access.RoleAssignment, expand expandSet) (any, error) {
			return s.roleAssignmentToWire(r, a, expand)
		},
	})
}

func (s *Server) roleAssignmentToWire(r *http.Request, a access.RoleAssignment, expand expandSet) (any, error) {
	out := roleAssignmentOut{ID: a.ID, PrincipalID: a.PrincipalID, RoleDefinitionID: a.RoleDefinitionID,
		DirectoryScopeID: optional(a.DirectoryScopeID), AppScopeID: optional(a.AppScopeID)}
	if expand.has("principal") {
		o, err := s.svc.Principal(r.Context(), a.PrincipalID)
		switch {
		case access.IsNotFound(err):
			out.Principal = jsonNull
		case err != nil:
			return nil, err
		default:
			out.Principal = directoryObjectOut(o)
		}
	}
	if expand.has("roleDefinition") {
		if d, ok := access.RoleDefinitionByID(a.RoleDefinitionID); ok {
			out.RoleDefinition = roleDefinitionToWire(d)
		}
	}
	return out, nil
}

func (s *Server) getRoleAssignment(p roleProvider) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r, roleAssignmentExpandable...)
		if err != nil {
			return err
		}
		a, err := s.svc.RoleAssignment(r.Context(), callerOf(r), p.directory, r.PathValue("id"))
		if err != nil {
			return err
		}
		out, err := s.roleAssignmentToWire(r, a, q.expand)
		if err != nil {
			return err
		}
		return writeEntity(w, http.StatusOK, contextURL(s.cfg.PublicURL, p.version, p.set("roleAssignments"), true), out, q.selectSet)
	}
}

// createRoleAssignment is POST: 201 with the assignment.
func (s *Server) createRoleAssignment(p roleProvider) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in roleAssignmentInput
		if err := decodeBody(r, &in); err != nil {
			return err
		}
		if err := checkODataType("@odata.type", in.ODataType, "unifiedRoleAssignment"); err != nil {
			return err
		}
		a, err := s.svc.CreateRoleAssignment(r.Context(), callerOf(r), p.directory, access.RoleAssignmentInput{
			PrincipalID: str(in.PrincipalID), RoleDefinitionID: str(in.RoleDefinitionID),
			DirectoryScopeID: in.DirectoryScopeID, AppScopeID: in.AppScopeID})
		if err != nil {
			return err
		}
		out, err := s.roleAssignmentToWire(r, a, nil)
		if err != nil {
			return err
		}
		return writeEntity(w, http.StatusCreated, contextURL(s.cfg.PublicURL, p.version, p.set("roleAssignments"), true), out, nil)
	}
}

func (s *Server) deleteRoleAssignment(p roleProvider) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.svc.DeleteRoleAssignment(r.Context(), callerOf(r), p.directory, r.PathValue("id")); err != nil {
			return err
		}
		return writeNoContent(w)
	}
}
