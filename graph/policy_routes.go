package graph

import (
	"net/http"

	"github.com/accessd/accessd/access"
)

// policyExpandable lists what $expand may name on a v1.0 policy.
var policyExpandable = []string{"accessPackage", "catalog", "customExtensionStageSettings", "customExtensionStageSettings/customExtension", "questions"}

// listPoliciesV1 lists all policies, or a package's when the route names
// one ({id}).
func (s *Server) listPoliciesV1() handler {
	return serveList(s, storedList[access.AssignmentPolicy]{
		fields:     policyFields,
		expandable: policyExpandable,
		context: func(r *http.Request) string {
			if id := r.PathValue("id"); id != "" {
				return s.emContext("v1.0", "accessPackages('"+id+"')/assignmentPolicies", false)
			}
			return s.emContext("v1.0", "assignmentPolicies", false)
		},
		scope: underParent(asCaller(s.svc.AccessPackage), "AccessPackageID"),
		shape: func(r *http.Request, p access.AssignmentPolicy, expand expandSet) (any, error) {
			return s.policyV1(r, p, expand)
		},
	})
}

// policyV1 writes a policy with the navigation properties $expand names;
// customExtensionStageSettings carries its extension only with a nested
// $expand=customExtension, as in Graph.
func (s *Server) policyV1(r *http.Request, p access.AssignmentPolicy, expand expandSet) (policyV1, error) {
	out := policyToV1(p)
	ctx := r.Context()
	if expand.has("accessPackage") {
		pkg, err := s.svc.AccessPackage(ctx, callerIn(ctx), p.AccessPackageID)
		if err != nil {
			return out, err
		}
		pw := accessPackageToV1(pkg)
		out.AccessPackage = &pw
	}
	if expand.has("catalog") {
		c, err := s.svc.Catalog(ctx, callerIn(ctx), p.CatalogID)
		if err != nil {
			return out, err
		}
		cw := catalogToV1(c)
		out.Catalog = &cw
	}
	if expand.has("customExtensionStageSettings") {
		withExtension := expand["customExtensionStageSettings"].has("customExtension")
		settings := []stageSettingWire{}
		for _, b := range p.ExtensionBindings {
			sw := stageSettingWire{ID: b.ID, Stage: string(b.Stage)}
			if withExtension {
				x, err := s.svc.CustomExtension(ctx, callerIn(ctx), p.CatalogID, b.CustomExtensionID)
				if err != nil {
					return out, err
				}
				xw := customExtensionToWire(x)
				sw.CustomExtension = &xw
			}
			settings = append(settings, sw)
		}
		out.CustomExtensionStageSettings = &settings
	}
	if expand.has("questions") {
		qs := questionsOut(p.Questions)
		out.Questions = &qs
	}
	return out, nil
}

func (s *Server) getPolicyV1(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, policyExpandable...)
	if err != nil {
		return err
	}
	p, err := s.svc.AssignmentPolicy(r.Context(), callerOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	out, err := s.policyV1(r, p, q.expand)
	if err != nil {
		return err
	}
	return writeEntity(w, http.StatusOK, s.emContext("v1.0", "assignmentPolicies", true), out, q.selectSet)
}

func decodePolicy(r *http.Request) (access.AssignmentPolicy, error) {
	var in policyInput
	if err := decodeBody(r, &in); err != nil {
		return access.AssignmentPolicy{}, err
	}
	return in.toDomain()
}

// policyAnswer is what POST and PUT return: the policy with the bindings and
// questions that were sent, so a client sees what it stored.
func (s *Server) policyAnswer(r *http.Request, p access.AssignmentPolicy) (policyV1, error) {
	return s.policyV1(r, p, expandSet{"customExtensionStageSettings": expandSet{"customExtension": {}}, "questions": {}})
}

func (s *Server) createPolicyV1(w http.ResponseWriter, r *http.Request) error {
	p, err := decodePolicy(r)
	if err != nil {
		return err
	}
	if p, err = s.svc.CreateAssignmentPolicy(r.Context(), callerOf(r), p); err != nil {
		return err
	}
	out, err := s.policyAnswer(r, p)
	if err != nil {
		return err
	}
	return writeEntity(w, http.StatusCreated, s.emContext("v1.0", "assignmentPolicies", true), out, nil)
}

// replacePolicyV1 is PUT: a full replace that returns the policy.
func (s *Server) replacePolicyV1(w http.ResponseWriter, r *http.Request) error {
	p, err := decodePolicy(r)
	if err != nil {
		return err
	}
	if p, err = s.svc.ReplaceAssignmentPolicy(r.Context(), callerOf(r), r.PathValue("id"), p); err != nil {
		return err
	}
	out, err := s.policyAnswer(r, p)
	if err != nil {
		return err
	}
	return writeEntity(w, http.StatusOK, s.emContext("v1.0", "assignmentPolicies", true), out, nil)
}

func (s *Server) deletePolicy(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteAssignmentPolicy(r.Context(), callerOf(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
