package client_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// recent fails unless at is set and within a minute of now: accessd's
// clocks are the machine's here, or ahead of it only in the clock tests.
func recent(t *testing.T, what string, at time.Time) {
	t.Helper()
	if d := time.Since(at); at.IsZero() || d < -time.Minute || d > time.Minute {
		t.Errorf("%s is %v, not just now", what, at)
	}
}

func TestCatalogs(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, nil)
	ctx := context.Background()

	created, err := c.CreateCatalog(ctx, access.Catalog{DisplayName: "Sales", Description: "What sales asks for", IsExternallyVisible: true})
	ok(t, err, "CreateCatalog")
	want := access.Catalog{ID: created.ID, DisplayName: "Sales", Description: "What sales asks for", IsExternallyVisible: true,
		CatalogType: access.CatalogUserManaged, State: access.CatalogPublished,
		CreatedDateTime: created.CreatedDateTime, ModifiedDateTime: created.ModifiedDateTime}
	if diff := cmp.Diff(want, created); diff != "" || created.ID == "" {
		t.Errorf("CreateCatalog (-want +got):\n%s", diff)
	}
	recent(t, "createdDateTime", created.CreatedDateTime)

	hidden, err := c.CreateCatalog(ctx, access.Catalog{DisplayName: "Hidden", State: access.CatalogUnpublished})
	ok(t, err, "CreateCatalog")
	if hidden.State != access.CatalogUnpublished || hidden.IsExternallyVisible || hidden.Description != "" {
		t.Errorf("second catalog %+v", hidden)
	}

	got, err := c.GetCatalog(ctx, created.ID)
	ok(t, err, "GetCatalog")
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("GetCatalog differs from the created catalog (-created +got):\n%s", diff)
	}

	all, err := c.ListCatalogs(ctx)
	ok(t, err, "ListCatalogs")
	if diff := cmp.Diff([]access.Catalog{created, hidden}, all); diff != "" {
		t.Errorf("ListCatalogs (-want +got):\n%s", diff)
	}

	ok(t, c.UpdateCatalog(ctx, created.ID, map[string]any{"displayName": "Sales EMEA", "isExternallyVisible": false}), "UpdateCatalog")
	got, err = c.GetCatalog(ctx, created.ID)
	ok(t, err, "GetCatalog")
	if got.DisplayName != "Sales EMEA" || got.IsExternallyVisible || got.Description != "What sales asks for" {
		t.Errorf("after the PATCH: %+v", got)
	}

	ok(t, c.DeleteCatalog(ctx, created.ID), "DeleteCatalog")
	_, err = c.GetCatalog(ctx, created.ID)
	wantError(t, err, 404, "itemNotFound", access.KindNotFound)
}

func TestAccessPackages(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, nil)
	ctx := context.Background()
	sales, err := c.CreateCatalog(ctx, access.Catalog{DisplayName: "Sales"})
	ok(t, err, "CreateCatalog")
	hr, err := c.CreateCatalog(ctx, access.Catalog{DisplayName: "HR"})
	ok(t, err, "CreateCatalog")

	tools, err := c.CreateAccessPackage(ctx, access.AccessPackage{DisplayName: "Sales tools", Description: "CRM", IsHidden: true, CatalogID: sales.ID})
	ok(t, err, "CreateAccessPackage")
	if tools.ID == "" || tools.CatalogID != sales.ID || tools.DisplayName != "Sales tools" || tools.Description != "CRM" || !tools.IsHidden {
		t.Errorf("CreateAccessPackage = %+v", tools)
	}
	recent(t, "createdDateTime", tools.CreatedDateTime)
	payroll, err := c.CreateAccessPackage(ctx, access.AccessPackage{DisplayName: "Payroll", CatalogID: hr.ID})
	ok(t, err, "CreateAccessPackage")

	got, err := c.GetAccessPackage(ctx, tools.ID)
	ok(t, err, "GetAccessPackage")
	if diff := cmp.Diff(tools, got); diff != "" {
		t.Errorf("GetAccessPackage (-created +got):\n%s", diff)
	}

	for _, tc := range []struct {
		catalog string
		want    []access.AccessPackage
	}{
		{"", []access.AccessPackage{tools, payroll}},
		{sales.ID, []access.AccessPackage{tools}},
		{hr.ID, []access.AccessPackage{payroll}},
	} {
		list, err := c.ListAccessPackages(ctx, tc.catalog)
		ok(t, err, "ListAccessPackages")
		if diff := cmp.Diff(tc.want, list); diff != "" {
			t.Errorf("ListAccessPackages(%q) (-want +got):\n%s", tc.catalog, diff)
		}
	}

	ok(t, c.UpdateAccessPackage(ctx, tools.ID, map[string]any{"isHidden": false}), "UpdateAccessPackage")
	got, err = c.GetAccessPackage(ctx, tools.ID)
	ok(t, err, "GetAccessPackage")
	if got.IsHidden || got.DisplayName != "Sales tools" {
		t.Errorf("after the PATCH: %+v", got)
	}

	_, err = c.CreateAccessPackage(ctx, access.AccessPackage{DisplayName: "Orphan", CatalogID: "no-such-catalog"})
	wantError(t, err, 400, "invalidRequest", access.KindInvalid)

	ok(t, c.DeleteAccessPackage(ctx, tools.ID), "DeleteAccessPackage")
	_, err = c.GetAccessPackage(ctx, tools.ID)
	wantError(t, err, 404, "itemNotFound", access.KindNotFound)
}

func TestCustomExtensions(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, nil)
	ctx := context.Background()
	cat, err := c.CreateCatalog(ctx, access.Catalog{DisplayName: "Sales"})
	ok(t, err, "CreateCatalog")
	two, zero := 2000, 0
	var made []access.CustomExtension
	for _, tc := range []struct {
		name string
		in   access.CustomExtension
		want func(x *access.CustomExtension) // what accessd fills in besides ids and audit fields
	}{
		{name: "http endpoint, PoP, launch and wait", in: access.CustomExtension{
			Type: access.RequestWorkflowExtension, DisplayName: "SoD check", Description: "Separation of duties",
			Endpoint:       access.Endpoint{Type: access.HTTPRequestEndpoint, TargetURL: "https://ext.contoso.test/callout"},
			Authentication: access.Authentication{Type: access.PopTokenAuthentication},
			Client:         &access.ClientConfiguration{TimeoutInMilliseconds: &two, MaximumRetries: &zero},
			Callback:       &access.CallbackConfiguration{TimeoutDuration: access.MustDuration("PT1H30M")},
		}, want: func(x *access.CustomExtension) { x.Callback.Type = access.CallbackConfigurationType }},
		{name: "Logic App, bearer, launch and continue", in: access.CustomExtension{
			Type: access.RequestWorkflowExtension, DisplayName: "Notify",
			Endpoint: access.Endpoint{Type: access.LogicAppEndpoint, SubscriptionID: "38ab2ccc-3747-4567-b36b-9478f5602f0d",
				ResourceGroupName: "EM", LogicAppWorkflowName: "Notify",
				URL: "https://prod-12.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=secret"},
			Authentication: access.Authentication{Type: access.BearerTokenAuthentication, ResourceID: "api://notify"},
		}},
		{name: "pre-expiration", in: access.CustomExtension{
			Type: access.AssignmentWorkflowExtension, DisplayName: "Warn before expiry",
			Endpoint:       access.Endpoint{Type: access.HTTPRequestEndpoint, TargetURL: "https://ext.contoso.test/expiry"},
			Authentication: access.Authentication{Type: access.PopTokenAuthentication},
			Callback:       nil,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			created, err := c.CreateCustomExtension(ctx, cat.ID, tc.in)
			ok(t, err, "CreateCustomExtension")
			want := tc.in
			if want.Callback != nil {
				cb := *want.Callback
				want.Callback = &cb
			}
			if tc.want != nil {
				tc.want(&want)
			}
			want.ID, want.CatalogID = created.ID, cat.ID
			want.CreatedBy, want.LastModifiedBy = "client-test", "client-test"
			want.CreatedDateTime, want.LastModifiedDateTime = created.CreatedDateTime, created.LastModifiedDateTime
			if diff := cmp.Diff(want, created); diff != "" || created.ID == "" {
				t.Errorf("CreateCustomExtension (-want +got):\n%s", diff)
			}
			recent(t, "createdDateTime", created.CreatedDateTime)
			got, err := c.GetCustomExtension(ctx, cat.ID, created.ID)
			ok(t, err, "GetCustomExtension")
			if diff := cmp.Diff(created, got); diff != "" {
				t.Errorf("GetCustomExtension (-created +got):\n%s", diff)
			}
			made = append(made, created)
		})
	}

	all, err := c.ListCustomExtensions(ctx, cat.ID)
	ok(t, err, "ListCustomExtensions")
	if diff := cmp.Diff(made, all); diff != "" {
		t.Errorf("ListCustomExtensions (-want +got):\n%s", diff)
	}

	_, err = c.CreateCustomExtension(ctx, cat.ID, access.CustomExtension{Type: access.RequestWorkflowExtension, DisplayName: "No endpoint",
		Authentication: access.Authentication{Type: access.PopTokenAuthentication}})
	e := wantError(t, err, 400, "invalidRequest", access.KindInvalid)
	if e.Message != "endpointConfiguration is required" {
		t.Errorf("message %q", e.Message)
	}

	ok(t, c.DeleteCustomExtension(ctx, cat.ID, made[0].ID), "DeleteCustomExtension")
	_, err = c.GetCustomExtension(ctx, cat.ID, made[0].ID)
	wantError(t, err, 404, "itemNotFound", access.KindNotFound)
}

func TestAssignmentPolicies(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, nil)
	ctx := context.Background()
	x := newExtension(t)
	var ext access.CustomExtension
	f := newFixture(t, c, func(catalogID string) (access.Stage, string) {
		var err error
		ext, err = c.CreateCustomExtension(ctx, catalogID, waitingExtension(x))
		ok(t, err, "CreateCustomExtension")
		return access.StageRequestCreated, ext.ID
	})

	got, err := c.GetAssignmentPolicy(ctx, f.policy)
	ok(t, err, "GetAssignmentPolicy")
	if len(got.ExtensionBindings) != 1 || got.ExtensionBindings[0].ID == "" {
		t.Fatalf("bindings %+v, want one with an id", got.ExtensionBindings)
	}
	want := access.AssignmentPolicy{ID: f.policy, AccessPackageID: f.pkg, CatalogID: f.catalog, DisplayName: "Employees, 30 days",
		AllowedTargetScope: access.ScopeAllMemberUsers,
		Expiration:         access.Expiration{Type: access.ExpirationAfterDuration, Duration: access.MustDuration("P30D")},
		ExtensionBindings: []access.ExtensionBinding{{ID: got.ExtensionBindings[0].ID, Stage: access.StageRequestCreated,
			CustomExtensionID: ext.ID}},
		CreatedDateTime: got.CreatedDateTime, ModifiedDateTime: got.ModifiedDateTime}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetAssignmentPolicy (-want +got):\n%s", diff)
	}
	recent(t, "createdDateTime", got.CreatedDateTime)

	// A second policy, as raw JSON, with the settings the client reads beyond the first's.
	second, err := c.CreateAssignmentPolicy(ctx, json.RawMessage(`{
		"displayName": "Managers", "description": "With justification",
		"accessPackage": {"id": "`+f.pkg+`"},
		"allowedTargetScope": "allDirectoryUsers",
		"expiration": {"type": "afterDateTime", "endDateTime": "2031-01-31T09:00:00Z"},
		"requestorSettings": {"enableTargetsToSelfAddAccess": true, "allowCustomAssignmentSchedule": true},
		"requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isRequestorJustificationRequired": true, "stages": []},
		"reviewSettings": {"isEnabled": false}
	}`))
	ok(t, err, "CreateAssignmentPolicy")
	end := time.Date(2031, 1, 31, 9, 0, 0, 0, time.UTC)
	wantSecond := access.AssignmentPolicy{ID: second.ID, AccessPackageID: f.pkg, CatalogID: f.catalog, DisplayName: "Managers",
		Description: "With justification", AllowedTargetScope: access.ScopeAllDirectoryUsers,
		Expiration:              access.Expiration{Type: access.ExpirationAfterDateTime, EndDateTime: &end},
		RequestorSettings:       access.RequestorSettings{EnableTargetsToSelfAddAccess: true, AllowCustomAssignmentSchedule: true},
		RequestApprovalSettings: access.ApprovalSettings{IsRequestorJustificationRequired: true},
		ReviewSettings:          json.RawMessage(`{"isEnabled":false}`),
		CreatedDateTime:         second.CreatedDateTime, ModifiedDateTime: second.ModifiedDateTime}
	if diff := cmp.Diff(wantSecond, second, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("CreateAssignmentPolicy (-want +got):\n%s", diff)
	}

	all, err := c.ListAssignmentPolicies(ctx, "")
	ok(t, err, "ListAssignmentPolicies")
	byPackage, err := c.ListAssignmentPolicies(ctx, f.pkg)
	ok(t, err, "ListAssignmentPolicies")
	for _, list := range [][]access.AssignmentPolicy{all, byPackage} {
		if diff := cmp.Diff([]access.AssignmentPolicy{got, second}, list, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ListAssignmentPolicies (-want +got):\n%s", diff)
		}
	}

	_, err = c.CreateAssignmentPolicy(ctx, map[string]any{"displayName": "No package"})
	wantError(t, err, 400, "invalidRequest", access.KindInvalid)

	ok(t, c.DeleteAssignmentPolicy(ctx, second.ID), "DeleteAssignmentPolicy")
	_, err = c.GetAssignmentPolicy(ctx, second.ID)
	wantError(t, err, 404, "itemNotFound", access.KindNotFound)
}
