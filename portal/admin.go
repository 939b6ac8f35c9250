package portal

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The admin view's simple edits and an extension's page. Each edit is the
// API's own update with the signed-in user's token: PATCH of a catalog or a
// package, and GET-modify-PUT of a policy (v1.0 has no PATCH for policies).
// Who may edit is the API's to say (Catalog owner, Access package manager);
// its refusal is shown on the form.

// editContent is the edit form of one catalog, package or policy.
type editContent struct {
	Kind        string // catalog, access package, policy
	Action      string // where the form posts
	DisplayName string
	Description string
	State       string // catalogs only
	IsHidden    bool   // packages only
}

func (s *Server) editCatalogForm(w http.ResponseWriter, r *http.Request, sess *session) (string, view, error) {
	var cat catalogWire
	id := r.PathValue("id")
	if err := s.api.Do(apiContext(r, sess), http.MethodGet, em+"/catalogs/"+url.PathEscape(id), nil, &cat); err != nil {
		return "", view{}, err
	}
	c := editContent{Kind: "catalog", Action: "/portal/admin/catalogs/" + id, DisplayName: cat.DisplayName, Description: cat.Description, State: cat.State}
	return "adminedit", view{Title: "Edit catalog " + cat.DisplayName, Nav: "admin", Content: c}, nil
}

func (s *Server) editCatalog(r *http.Request, sess *session) (string, string, error) {
	id := r.PathValue("id")
	name, err := requiredName(r)
	if err != nil {
		return "", "", err
	}
	state := r.PostForm.Get("state")
	if state != "published" && state != "unpublished" {
		return "", "", pageError("Choose published or unpublished.")
	}
	body := map[string]any{"displayName": name, "description": strings.TrimSpace(r.PostForm.Get("description")), "state": state}
	if err := s.api.Do(apiContext(r, sess), http.MethodPatch, em+"/catalogs/"+url.PathEscape(id), body, nil); err != nil {
		return "", "", err
	}
	return "/portal/admin", "Saved the catalog " + name + ".", nil
}

func (s *Server) editPackageForm(w http.ResponseWriter, r *http.Request, sess *session) (string, view, error) {
	var pkg packageWire
	id := r.PathValue("id")
	if err := s.api.Do(apiContext(r, sess), http.MethodGet, em+"/accessPackages/"+url.PathEscape(id), nil, &pkg); err != nil {
		return "", view{}, err
	}
	c := editContent{Kind: "access package", Action: "/portal/admin/packages/" + id, DisplayName: pkg.DisplayName, Description: pkg.Description, IsHidden: pkg.IsHidden}
	return "adminedit", view{Title: "Edit access package " + pkg.DisplayName, Nav: "admin", Content: c}, nil
}

func (s *Server) editPackage(r *http.Request, sess *session) (string, string, error) {
	id := r.PathValue("id")
	name, err := requiredName(r)
	if err != nil {
		return "", "", err
	}
	body := map[string]any{"displayName": name, "description": strings.TrimSpace(r.PostForm.Get("description")),
		"isHidden": r.PostForm.Get("isHidden") == "on"}
	if err := s.api.Do(apiContext(r, sess), http.MethodPatch, em+"/accessPackages/"+url.PathEscape(id), body, nil); err != nil {
		return "", "", err
	}
	return "/portal/admin", "Saved the access package " + name + ".", nil
}

// policyExpand is what a policy's GET must carry for its PUT to keep
// everything: its questions and its extensions' stages.
const policyExpand = "questions,customExtensionStageSettings($expand=customExtension)"

func (s *Server) editPolicyForm(w http.ResponseWriter, r *http.Request, sess *session) (string, view, error) {
	var p policyWire
	id := r.PathValue("id")
	if err := s.api.Do(apiContext(r, sess), http.MethodGet, em+"/assignmentPolicies/"+url.PathEscape(id), nil, &p); err != nil {
		return "", view{}, err
	}
	c := editContent{Kind: "policy", Action: "/portal/admin/policies/" + id, DisplayName: p.DisplayName, Description: p.Description}
	return "adminedit", view{Title: "Edit policy " + p.DisplayName, Nav: "admin", Content: c}, nil
}

func (s *Server) editPolicy(r *http.Request, sess *session) (string, string, error) {
	ctx, id := apiContext(r, sess), r.PathValue("id")
	name, err := requiredName(r)
	if err != nil {
		return "", "", err
	}
	path := em + "/assignmentPolicies/" + url.PathEscape(id)
	var p map[string]any
	if err := s.api.Do(ctx, http.MethodGet, path+"?$expand="+url.QueryEscape(policyExpand), nil, &p); err != nil {
		return "", "", err
	}
	p["displayName"], p["description"] = name, strings.TrimSpace(r.PostForm.Get("description"))
	if err := s.api.Do(ctx, http.MethodPut, path, p, nil); err != nil {
		return "", "", err
	}
	return "/portal/admin", "Saved the policy " + name + ".", nil
}

// requiredName is the form's display name, which every object needs.
func requiredName(r *http.Request) (string, error) {
	name := strings.TrimSpace(r.PostForm.Get("displayName"))
	if name == "" {
		return "", pageError("Give a display name.")
	}
	return name, nil
}

// ---- an extension and its callouts ----

type calloutRow struct {
	Request  requestWire
	Callout  calloutWire
	Attempts []attemptWire
}

type extensionContent struct {
	CatalogID   string
	Extension   extensionWire
	Callouts    []calloutRow // its recent callout instances, newest request first
	CalloutErr  string
	Recorded    bool          // the server records attempts
	Unassigned  []attemptWire // attempts of callouts not listed above (assignments, requests not shown)
	AttemptsErr string
}

// maxCallouts bounds the callout instances an extension's page lists.
const maxCallouts = 25

func (s *Server) extensionPage(w http.ResponseWriter, r *http.Request, sess *session) (string, view, error) {
	ctx := apiContext(r, sess)
	catalogID, xid := r.PathValue("id"), r.PathValue("xid")
	c := extensionContent{CatalogID: catalogID}
	if err := s.api.Do(ctx, http.MethodGet, em+"/catalogs/"+url.PathEscape(catalogID)+"/customWorkflowExtensions/"+url.PathEscape(xid), nil, &c.Extension); err != nil {
		return "", view{}, err
	}
	attempts, err := s.extensionAttempts(ctx, catalogID, xid)
	switch {
	case err == nil:
		c.Recorded = true
	case absent(err):
		// not recorded on this server: the instances are all there is
	default:
		c.AttemptsErr = explain(err)
	}
	byInstance := map[string][]attemptWire{}
	for i := len(attempts) - 1; i >= 0; i-- { // oldest first within an instance
		byInstance[attempts[i].InstanceID] = append(byInstance[attempts[i].InstanceID], attempts[i])
	}
	reqs, err := listAll[requestWire](ctx, s.api, em+"/assignmentRequests", url.Values{
		"$filter":  {"accessPackage/catalog/id eq '" + strings.ReplaceAll(catalogID, "'", "''") + "'"},
		"$orderby": {"createdDateTime desc"}, "$top": {"100"}, "$expand": {"accessPackage,requestor"}})
	if err != nil {
		c.CalloutErr = explain(err)
	}
	shown := map[string]bool{}
	for _, req := range reqs {
		for _, co := range req.Callouts {
			if co.CustomExtensionID != xid || len(c.Callouts) >= maxCallouts {
				continue
			}
			c.Callouts = append(c.Callouts, calloutRow{Request: req, Callout: co, Attempts: byInstance[co.ID]})
			shown[co.ID] = true
		}
	}
	for _, a := range attempts {
		if !shown[a.InstanceID] {
			c.Unassigned = append(c.Unassigned, a)
		}
	}
	return "adminextension", view{Title: "Extension " + c.Extension.DisplayName, Nav: "admin", Content: c}, nil
}

// extensionAttempts are an extension's recorded attempts, newest first
// (GET /_accessd/…/calloutAttempts, there with --dev or --record-callouts).
func (s *Server) extensionAttempts(ctx context.Context, catalogID, extensionID string) ([]attemptWire, error) {
	path := "/_accessd/catalogs/" + url.PathEscape(catalogID) + "/customWorkflowExtensions/" + url.PathEscape(extensionID) + "/calloutAttempts"
	var p page[attemptWire]
	if err := s.api.Do(ctx, http.MethodGet, path+"?$top=200", nil, &p); err != nil {
		return nil, err
	}
	return slices.Clip(p.Value), nil
}
