package sdk

import (
	"errors"
	"strings"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// TestErrorsArriveAsODataError checks that what accessd refuses reaches the
// SDK as its ODataError, with the status, the code and the inner error's
// request ids read.
func TestErrorsArriveAsODataError(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			a := startAccessd(t, backend)
			ctx := t.Context()
			admin := a.client(t, a.appToken(t, "sdk-admin", readWriteEntitlements, readWriteDirectory))
			reader := a.client(t, a.appToken(t, "sdk-reader", readEntitlements))
			em := admin.IdentityGovernance().EntitlementManagement()

			alice := createUser(t, admin, "Alice Adams", "alice@contoso.test")
			catalog := models.NewAccessPackageCatalog()
			catalog.SetDisplayName(ptr("Sales"))
			created, err := em.Catalogs().Post(ctx, catalog, nil)
			mustSDK(t, err, "create the catalog")
			catalogID := deref(created.GetId())
			pkg := models.NewAccessPackage()
			pkg.SetDisplayName(ptr("Sales tools"))
			catalogRef := models.NewAccessPackageCatalog()
			catalogRef.SetId(ptr(catalogID))
			pkg.SetCatalog(catalogRef)
			createdPkg, err := em.AccessPackages().Post(ctx, pkg, nil)
			mustSDK(t, err, "create the access package")
			policy := models.NewAccessPackageAssignmentPolicy()
			policy.SetDisplayName(ptr("Everyone"))
			policy.SetAllowedTargetScope(ptr(models.ALLMEMBERUSERS_ALLOWEDTARGETSCOPE))
			pkgRef := models.NewAccessPackage()
			pkgRef.SetId(createdPkg.GetId())
			policy.SetAccessPackage(pkgRef)
			createdPolicy, err := em.AssignmentPolicies().Post(ctx, policy, nil)
			mustSDK(t, err, "create the policy")
			request := func(pkgID string) models.AccessPackageAssignmentRequestable {
				r := models.NewAccessPackageAssignmentRequest()
				r.SetRequestType(ptr(models.ADMINADD_ACCESSPACKAGEREQUESTTYPE))
				asg := models.NewAccessPackageAssignment()
				asg.SetAdditionalData(map[string]any{"targetId": alice, "assignmentPolicyId": deref(createdPolicy.GetId()), "accessPackageId": pkgID})
				r.SetAssignment(asg)
				return r
			}
			_, err = em.AssignmentRequests().Post(ctx, request(deref(createdPkg.GetId())), nil)
			mustSDK(t, err, "ask for Alice's access")

			stranger := a.client(t, "not-a-token")
			_, strangerErr := stranger.IdentityGovernance().EntitlementManagement().Catalogs().Get(ctx, nil)
			_, unknownPackage := em.AssignmentRequests().Post(ctx, request("0190a0a0-0000-7000-8000-000000000000"), nil)
			readerCatalog := models.NewAccessPackageCatalog()
			readerCatalog.SetDisplayName(ptr("Not mine to make"))
			_, forbidden := reader.IdentityGovernance().EntitlementManagement().Catalogs().Post(ctx, readerCatalog, nil)
			_, missing := em.Catalogs().ByAccessPackageCatalogId("0190a0a0-0000-7000-8000-000000000001").Get(ctx, nil)
			_, twice := em.AssignmentRequests().Post(ctx, request(deref(createdPkg.GetId())), nil)
			inUse := em.Catalogs().ByAccessPackageCatalogId(catalogID).Delete(ctx, nil)

			for _, tc := range []struct {
				name   string
				err    error
				status int
				code   string
				says   string
			}{
				{"a token accessd did not sign", strangerErr, 401, "InvalidAuthenticationToken", ""},
				{"a request for a package that does not exist", unknownPackage, 400, "invalidRequest", "assignment.accessPackageId"},
				{"a reader creating a catalog", forbidden, 403, "accessDenied", ""},
				{"a catalog that does not exist", missing, 404, "itemNotFound", ""},
				{"a second request while the first is delivered", twice, 409, "conflict", alice},
				{"deleting a catalog that has a package", inUse, 409, "conflict", ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					var oe *odataerrors.ODataError
					if !errors.As(tc.err, &oe) {
						t.Fatalf("error %v (%T), want an ODataError", tc.err, tc.err)
					}
					if oe.ResponseStatusCode != tc.status {
						t.Errorf("status %d, want %d", oe.ResponseStatusCode, tc.status)
					}
					allKnown(t, "error", oe)
					main := oe.GetErrorEscaped()
					if main == nil {
						t.Fatalf("the SDK read no error object")
					}
					if code := deref(main.GetCode()); code != tc.code {
						t.Errorf("code %q, want %q", code, tc.code)
					}
					msg := deref(main.GetMessage())
					if msg == "" || !strings.Contains(msg, tc.says) {
						t.Errorf("message %q, want one naming %q", msg, tc.says)
					}
					inner := main.GetInnerError()
					if inner == nil || deref(inner.GetRequestId()) == "" || deref(inner.GetClientRequestId()) == "" || inner.GetDate() == nil {
						t.Errorf("the SDK read no innerError with request-id, client-request-id and date")
					}
				})
			}
		})
	}
}
