package graph

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
)

// OData's query options through the API, on SQLite and (with
// ACCESSD_TEST_STORE=postgres) on PostgreSQL: $filter, $orderby, $count and
// /$count, $top, $skip, paging by nextLink, nested $expand and $select, and
// what is refused.

// odataCatalogID is the id of the nth catalog the tests store directly:
// GUIDs, so that they can be written without quotes too.
func odataCatalogID(n int) string { return fmt.Sprintf("c0000000-0000-4000-8000-%012d", n) }

// odataJan1 is when the first stored catalog was created; each next one an hour later.
var odataJan1 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// odataCatalogs stores five catalogs with fixed ids, names and times.
func odataCatalogs(t *testing.T, a *testAPI) []string {
	t.Helper()
	catalogs := []access.Catalog{
		{DisplayName: "Sales Ops", Description: "the sales team", CatalogType: access.CatalogUserManaged, State: access.CatalogPublished, ModifiedBy: "admin"},
		{DisplayName: "sales tools", Description: "50% off_sale", CatalogType: access.CatalogUserManaged, State: access.CatalogUnpublished, IsExternallyVisible: true},
		{DisplayName: "Marketing", CatalogType: access.CatalogServiceManaged, State: access.CatalogPublished},
		{DisplayName: "O'Brien's", Description: "quote", CatalogType: access.CatalogUserManaged, State: access.CatalogPublished, IsExternallyVisible: true,
			CreatedBy: "o'brien@contoso.test"},
		{DisplayName: "ZETA", Description: "the last one", CatalogType: access.CatalogServiceDefault, State: access.CatalogUnpublished},
	}
	var ids []string
	odataStore(t, a, func(tx access.Tx) error {
		var errs []error
		for i, c := range catalogs {
			c.ID = odataCatalogID(i + 1)
			c.CreatedDateTime = odataJan1.Add(time.Duration(i) * time.Hour)
			c.ModifiedDateTime = c.CreatedDateTime
			ids = append(ids, c.ID)
			errs = append(errs, tx.PutCatalog(c))
		}
		return errors.Join(errs...)
	})
	return ids
}

// odataStore writes straight to the store, for worlds the API would take
// long to build or could not date.
func odataStore(t *testing.T, a *testAPI, fn func(tx access.Tx) error) {
	t.Helper()
	if err := a.Store.Update(context.Background(), fn); err != nil {
		t.Fatalf("store: %v", err)
	}
}

// pagedIDs follows every nextLink from path and returns the ids in the
// order the pages listed them.
func (a *testAPI) pagedIDs(t *testing.T, token, path string) []string {
	t.Helper()
	ids := []string{}
	for pages := 0; path != ""; pages++ {
		if pages > 50 {
			t.Fatalf("paging from %s does not end", path)
		}
		got := a.get(t, token, path)
		ids = append(ids, valueIDs(t, got)...)
		path, _ = got["@odata.nextLink"].(string)
	}
	return ids
}

// withQuery adds an escaped query to path.
func withQuery(path string, options ...string) string {
	values := url.Values{}
	for i := 0; i+1 < len(options); i += 2 {
		values.Set(options[i], options[i+1])
	}
	return path + "?" + values.Encode()
}

func TestODataFilterOnCatalogsAndTheDirectory(t *testing.T) {
	a := newEMAPI(t)
	c := odataCatalogs(t, a.testAPI)
	c1, c2, c3, c4, c5 := c[0], c[1], c[2], c[3], c[4]
	dir := directoryAdmin(t, a.testAPI)
	odataStore(t, a.testAPI, func(tx access.Tx) error {
		return errors.Join(
			tx.PutUser(access.User{ID: "u1", DisplayName: "Ada Lovelace", UserPrincipalName: "ada@contoso.test", Mail: "ada@contoso.test", AccountEnabled: true}),
			tx.PutUser(access.User{ID: "u2", DisplayName: "Bob O'Brien", UserPrincipalName: "bob@contoso.test", Mail: "bob@contoso.test", ManagerID: "u1"}),
			tx.PutUser(access.User{ID: "u3", DisplayName: "carol", UserPrincipalName: "CAROL@Contoso.test", AccountEnabled: true}),
			tx.PutGroup(access.Group{ID: "g1", DisplayName: "Sales team", MailNickname: "sales", SecurityEnabled: true}),
			tx.PutGroup(access.Group{ID: "g2", DisplayName: "Mail list", MailNickname: "list", MailEnabled: true}),
			tx.PutServicePrincipal(access.ServicePrincipal{ID: "sp1", AppID: "app-1", DisplayName: "Sales CRM"}),
		)
	})
	// test-app, the tokens' service principal, is listed too.
	spIDs := a.pagedIDs(t, dir, "/v1.0/servicePrincipals")

	for _, tc := range []struct {
		path, filter string
		want         []string
	}{
		// catalogs, v1.0
		{emV1 + "/catalogs", "displayName eq 'sales tools'", []string{c2}},
		{emV1 + "/catalogs", "DisplayName eq 'SALES TOOLS'", []string{c2}},
		{emV1 + "/catalogs", "displayName ne 'zeta'", []string{c1, c2, c3, c4}},
		{emV1 + "/catalogs", "displayName eq 'O''Brien''s'", []string{c4}},
		{emV1 + "/catalogs", "startswith(displayName,'SAL')", []string{c1, c2}},
		{emV1 + "/catalogs", "endswith(displayName,'ing')", []string{c3}},
		{emV1 + "/catalogs", "contains(description,'% off_')", []string{c2}},
		{emV1 + "/catalogs", "contains(description,'o_f')", []string{}},
		{emV1 + "/catalogs", "contains(tolower(description),'SALE')", []string{c1, c2}},
		{emV1 + "/catalogs", "toupper(displayName) eq 'zeta'", []string{c5}},
		{emV1 + "/catalogs", "state eq 'Unpublished'", []string{c2, c5}},
		{emV1 + "/catalogs", "catalogType in ('serviceManaged','SERVICEDEFAULT')", []string{c3, c5}},
		{emV1 + "/catalogs", "isExternallyVisible eq true", []string{c2, c4}},
		{emV1 + "/catalogs", "isExternallyVisible ne true", []string{c1, c3, c5}},
		{emV1 + "/catalogs", "createdDateTime gt 2026-01-01T02:00:00Z", []string{c4, c5}},
		{emV1 + "/catalogs", "createdDateTime le 2026-01-01T01:00:00Z", []string{c1, c2}},
		{emV1 + "/catalogs", "createdDateTime ge 2026-01-01T03:00:00+01:00", []string{c3, c4, c5}},
		{emV1 + "/catalogs", "2026-01-01T01:00:00Z ge createdDateTime", []string{c1, c2}},
		{emV1 + "/catalogs", "createdDateTime eq 2026-01-01T04:00:00.000Z", []string{c5}},
		{emV1 + "/catalogs", "id eq " + c3, []string{c3}},
		{emV1 + "/catalogs", "id eq '" + strings.ToUpper(c3) + "'", []string{}},
		{emV1 + "/catalogs", "id in ('" + c1 + "', " + c5 + ")", []string{c1, c5}},
		{emV1 + "/catalogs", "description eq null", []string{c3}},
		{emV1 + "/catalogs", "description ne null", []string{c1, c2, c4, c5}},
		{emV1 + "/catalogs", "state eq 'published' and isExternallyVisible eq true", []string{c4}},
		{emV1 + "/catalogs", "displayName eq 'zeta' or id eq '" + c1 + "'", []string{c1, c5}},
		{emV1 + "/catalogs", "not startswith(displayName,'s')", []string{c3, c4, c5}},
		{emV1 + "/catalogs", "startswith(displayName,'s') eq false", []string{c3, c4, c5}},
		{emV1 + "/catalogs", "(id eq '" + c1 + "' or id eq '" + c2 + "') and not (state eq 'unpublished')", []string{c1}},
		{emV1 + "/catalogs", "((((displayName eq 'Marketing'))))", []string{c3}},
		{emV1 + "/catalogs", "(state eq 'published' or (isExternallyVisible eq true and not (catalogType eq 'userManaged'))) and createdDateTime lt 2026-01-01T03:00:00Z", []string{c1, c3}},
		// catalogs, beta: beta's names and v1.0's
		{emBeta + "/accessPackageCatalogs", "catalogStatus eq 'Unpublished'", []string{c2, c5}},
		{emBeta + "/accessPackageCatalogs", "state eq 'unpublished'", []string{c2, c5}},
		{emBeta + "/accessPackageCatalogs", "createdBy eq 'O''BRIEN@contoso.test'", []string{c4}},
		{emBeta + "/accessPackageCatalogs", "modifiedBy eq null", []string{c2, c3, c4, c5}},
		{emBeta + "/accessPackageCatalogs", "catalogType eq 'ServiceDefault'", []string{c5}},
		// the directory, both versions
		{"/v1.0/users", "userPrincipalName eq 'carol@CONTOSO.test'", []string{"u3"}},
		{"/beta/users", "accountEnabled eq false", []string{"u2"}},
		{"/v1.0/users", "manager/id eq 'u1'", []string{"u2"}},
		{"/beta/users", "displayName eq 'Bob O''Brien'", []string{"u2"}},
		{"/v1.0/users", "mail eq null", []string{"u3"}},
		{"/v1.0/users", "startswith(userPrincipalName,'a') or mailNickname eq null and accountEnabled eq true", []string{"u1", "u3"}},
		{"/v1.0/groups", "mailEnabled eq true", []string{"g2"}},
		{"/beta/groups", "securityEnabled eq true and startswith(displayName,'sales')", []string{"g1"}},
		{"/v1.0/servicePrincipals", "appId eq 'app-1'", []string{"sp1"}},
		{"/beta/servicePrincipals", "displayName ne 'Sales CRM'", slices.DeleteFunc(slices.Clone(spIDs), func(id string) bool { return id == "sp1" })},
	} {
		t.Run(tc.path+" "+tc.filter, func(t *testing.T) {
			token := a.tok
			if !strings.Contains(tc.path, "entitlementManagement") {
				token = dir
			}
			emSame(t, "ids in id order", rqSorted(tc.want...), a.pagedIDs(t, token, withQuery(tc.path, "$filter", tc.filter)))
		})
	}
}

func TestODataFilterOnRequestsAssignmentsPackagesAndPolicies(t *testing.T) {
	ra := newRQAPI(t)
	sales := ra.catalog
	pkgA, polA, _ := ra.pkgPolicy(t, "A", nil)
	pkgB, polB, _ := ra.pkgPolicy(t, "B", nil)
	slow, slowPol, _ := ra.pkgPolicy(t, "Slow", rqApproval(ra.carol))
	marketing := ra.emAPI.catalog(t, "Marketing")
	other := ra.accessPackage(t, marketing, "Other")
	otherPol := ra.policy(t, emMinimalPolicy(other, "Other policy"))
	reqAliceA := emID(t, ra.submit(t, ra.tok, rqAdd("adminAdd", pkgA, polA, ra.alice)))
	reqBobA := emID(t, ra.submit(t, ra.adminTok, rqAdd("adminAdd", pkgA, polA, ra.bob)))
	reqAliceB := emID(t, ra.submit(t, ra.tok, rqAdd("adminAdd", pkgB, polB, ra.alice)))
	reqPending := emID(t, ra.submit(t, ra.tok, rqAdd("adminAdd", slow, slowPol, ra.bob)))
	reqOther := emID(t, ra.submit(t, ra.tok, rqAdd("adminAdd", other, otherPol, ra.dave)))
	aliceA, bobA, aliceB, daveOther := ra.assignmentOf(t, reqAliceA), ra.assignmentOf(t, reqBobA), ra.assignmentOf(t, reqAliceB), ra.assignmentOf(t, reqOther)
	reqRemove := emID(t, ra.submit(t, ra.tok, map[string]any{"requestType": "adminRemove", "assignment": map[string]any{"id": bobA}}))

	for _, tc := range []struct {
		path, filter string
		want         []string
	}{
		{emV1 + "/assignments", "state in ('delivered','EXPIRED')", []string{aliceA, bobA, aliceB, daveOther}},
		{emV1 + "/assignments", "accessPackage/catalog/id eq '" + sales + "'", []string{aliceA, bobA, aliceB}},
		{emV1 + "/assignments", "target/objectId ne '" + ra.alice + "'", []string{bobA, daveOther}},
		{emV1 + "/assignments", "assignmentPolicy/id eq '" + polB + "' or state eq 'expired'", []string{bobA, aliceB}},
		{emV1 + "/assignments", "expiredDateTime ne null", []string{bobA}},
		{emV1 + "/assignments", "schedule/startDateTime gt 2000-01-01T00:00:00Z and status eq 'DELIVERED'", []string{aliceA, aliceB, daveOther}},
		{emV1 + "/assignments", "target/displayName eq 'ALICE'", []string{aliceA, aliceB}},
		{emBeta + "/accessPackageAssignments", "catalogId eq '" + sales + "' and assignmentState ne 'Expired'", []string{aliceA, aliceB}},
		{emBeta + "/accessPackageAssignments", "accessPackage/accessPackageCatalog/id eq '" + marketing + "'", []string{daveOther}},
		{emBeta + "/accessPackageAssignments", "targetId in ('" + ra.bob + "','" + ra.dave + "')", []string{bobA, daveOther}},
		{emBeta + "/accessPackageAssignments", "assignmentPolicyId eq '" + polA + "' and accessPackageAssignmentPolicy/id eq '" + polA + "'", []string{aliceA, bobA}},
		{emV1 + "/assignmentRequests", "requestType eq 'AdminRemove'", []string{reqRemove}},
		{emV1 + "/assignmentRequests", "requestor/objectId eq '" + ra.admin + "'", []string{reqBobA}},
		{emV1 + "/assignmentRequests", "completedDateTime eq null", []string{reqPending}},
		{emV1 + "/assignmentRequests", "completedDateTime ne null and createdDateTime gt 2000-01-01T00:00:00Z", []string{reqAliceA, reqBobA, reqAliceB, reqOther, reqRemove}},
		{emV1 + "/assignmentRequests", "createdDateTime lt 2000-01-01T00:00:00Z", []string{}},
		{emV1 + "/assignmentRequests", "accessPackage/catalog/id eq '" + marketing + "'", []string{reqOther}},
		{emV1 + "/assignmentRequests", "assignment/id eq null", []string{reqPending}},
		{emV1 + "/assignmentRequests", "target/objectId eq '" + ra.bob + "' and not (state eq 'pendingApproval')", []string{reqBobA, reqRemove}},
		{emBeta + "/accessPackageAssignmentRequests", "requestState eq 'Delivered' and accessPackageAssignment/targetId eq '" + ra.alice + "'", []string{reqAliceA, reqAliceB}},
		{emBeta + "/accessPackageAssignmentRequests", "requestStatus eq 'pendingapproval'", []string{reqPending}},
		// The assignment's ids name the request's own, also before there is an assignment.
		{emBeta + "/assignmentRequests", "accessPackageAssignment/catalogId eq '" + sales + "'", []string{reqAliceA, reqBobA, reqAliceB, reqPending, reqRemove}},
		{emBeta + "/assignmentRequests", "accessPackage/accessPackageCatalog/id eq '" + sales + "'", []string{reqAliceA, reqBobA, reqAliceB, reqPending, reqRemove}},
		{emBeta + "/assignmentRequests", "completedDate eq null or requestType eq 'AdminRemove'", []string{reqPending, reqRemove}},
		{emV1 + "/accessPackages", "catalog/id eq '" + sales + "'", []string{pkgA, pkgB, slow}},
		{emV1 + "/accessPackages", "displayName eq 'a' or contains(displayName,'LO')", []string{pkgA, slow}},
		{emV1 + "/catalogs/" + sales + "/accessPackages", "displayName ne 'A'", []string{pkgB, slow}},
		{emBeta + "/accessPackages", "catalogId eq '" + marketing + "'", []string{other}},
		{emBeta + "/accessPackages", "accessPackageCatalog/id ne '" + marketing + "' and isHidden eq false", []string{pkgA, pkgB, slow}},
		{emV1 + "/assignmentPolicies", "accessPackage/id eq '" + pkgA + "'", []string{polA}},
		{emV1 + "/assignmentPolicies", "catalog/id eq '" + marketing + "' or displayName eq 'b policy'", []string{polB, otherPol}},
		{emV1 + "/assignmentPolicies", "allowedTargetScope eq 'ALLMEMBERUSERS'", []string{polA, polB, slowPol, otherPol}},
		{emV1 + "/accessPackages/" + slow + "/assignmentPolicies", "allowedTargetScope ne 'allMemberUsers'", []string{}},
	} {
		t.Run(tc.path+" "+tc.filter, func(t *testing.T) {
			path := withQuery(tc.path, "$filter", tc.filter)
			emSame(t, "ids in id order", rqSorted(tc.want...), ra.pagedIDs(t, ra.tok, path))
			// One item per page: the nextLink keeps the filter.
			emSame(t, "ids one per page", rqSorted(tc.want...), ra.pagedIDs(t, ra.tok, path+"&$top=1"))
		})
	}
}
