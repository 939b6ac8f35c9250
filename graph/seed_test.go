package graph

import (
	"os"
	"strings"
	"testing"

	"github.com/accessd/accessd/access"
)

// The example seed that the README's walkthrough starts with decodes, every
// item with its id and what refers to other items.
func TestDecodeSeedOfTheExample(t *testing.T) {
	f, err := os.Open("../examples/seed.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seed, err := DecodeSeed(f)
	if err != nil {
		t.Fatalf("examples/seed.json: %v", err)
	}
	counts := []int{len(seed.Users), len(seed.Groups), len(seed.ServicePrincipals), len(seed.Catalogs),
		len(seed.AccessPackages), len(seed.CustomExtensions), len(seed.Policies)}
	if want := []int{4, 1, 1, 1, 1, 2, 1}; !equalInts(counts, want) {
		t.Fatalf("items per noun %v, want %v", counts, want)
	}
	bob := seed.Users[1]
	if bob.ID != "5d6f1e0a-0000-4000-8000-000000000002" || bob.UserPrincipalName != "bob@contoso.test" ||
		bob.ManagerID != "5d6f1e0a-0000-4000-8000-000000000001" || !bob.AccountEnabled {
		t.Errorf("bob = %+v", bob)
	}
	if g := seed.Groups[0]; len(g.Owners) != 1 || g.Owners[0] != "5d6f1e0a-0000-4000-8000-000000000001" || len(g.Members) != 0 {
		t.Errorf("group = %+v", g)
	}
	if sp := seed.ServicePrincipals[0]; len(sp.AppRoles) != 1 || sp.AppRoles[0].Value != "CRM.User" {
		t.Errorf("service principal = %+v", sp)
	}
	if p := seed.AccessPackages[0]; p.CatalogID != "c0ffee00-0000-4000-8000-000000000001" {
		t.Errorf("package catalog %q", p.CatalogID)
	}
	for _, x := range seed.CustomExtensions {
		if x.CatalogID != "c0ffee00-0000-4000-8000-000000000001" || x.ID == "" {
			t.Errorf("extension %q in catalog %q", x.ID, x.CatalogID)
		}
	}
	if p := seed.Policies[0]; p.AccessPackageID != "ac0e55ed-0000-4000-8000-000000000001" || len(p.ExtensionBindings) != 2 {
		t.Errorf("policy package %q, %d bindings", p.AccessPackageID, len(p.ExtensionBindings))
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A mistake in a seed fails the start with the item and the property named,
// read with the API's own strict rules.
func TestDecodeSeedRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		names      []string
	}{
		{"an unknown array", `{"roles": []}`, []string{"roles"}},
		{"an item without an id", `{"users": [{"displayName": "A", "userPrincipalName": "a@x.test"}]}`, []string{"users[0]", "id"}},
		{"an id that is not a string", `{"catalogs": [{"id": 5, "displayName": "A"}]}`, []string{"catalogs[0]", "id"}},
		{"an unknown property", `{"catalogs": [{"id": "c1", "displayName": "A", "colour": "red"}]}`, []string{"catalogs[0] (c1)", "colour"}},
		{"a bad enum member", `{"catalogs": [{"id": "c1", "displayName": "A", "catalogType": "bogus"}]}`, []string{"catalogs[0] (c1)", "catalogType"}},
		{"a null userPrincipalName", `{"users": [{"id": "u1", "displayName": "A", "userPrincipalName": null}]}`, []string{"users[0] (u1)", "userPrincipalName"}},
		{"a manager bind that names no user", `{"users": [{"id": "u1", "displayName": "A", "userPrincipalName": "a@x.test", "manager@odata.bind": "https://graph.microsoft.com/v1.0/users/"}]}`,
			[]string{"users[0] (u1)", "manager@odata.bind"}},
		{"a group of the wrong type", `{"groups": [{"id": "g1", "@odata.type": "#microsoft.graph.user", "displayName": "G", "mailNickname": "g"}]}`,
			[]string{"groups[0] (g1)", "@odata.type"}},
		{"an app role of the wrong type", `{"servicePrincipals": [{"id": "s1", "appRoles": [{"@odata.type": "#microsoft.graph.group", "id": "r"}]}]}`,
			[]string{"servicePrincipals[0] (s1)", "appRoles[0]"}},
		{"a package naming its catalog twice", `{"accessPackages": [{"id": "p1", "displayName": "P", "catalogId": "c1", "catalog": {"id": "c1"}}]}`,
			[]string{"accessPackages[0] (p1)", "catalog"}},
		{"an extension without catalogId", `{"customWorkflowExtensions": [{"id": "x1", "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension", "displayName": "X"}]}`,
			[]string{"customWorkflowExtensions[0] (x1)", "catalogId"}},
		{"a policy with a bad scope", `{"assignmentPolicies": [{"id": "p1", "displayName": "P", "accessPackage": {"id": "a"}, "allowedTargetScope": "everyone"}]}`,
			[]string{"assignmentPolicies[0] (p1)", "allowedTargetScope"}},
		{"one property twice in two cases", `{"catalogs": [{"id": "c1", "displayName": "A", "DisplayName": "B"}]}`, []string{"DisplayName", "twice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeSeed(strings.NewReader(tc.file))
			if access.KindOf(err) != access.KindInvalid {
				t.Fatalf("DecodeSeed: %v, want an invalid-input error", err)
			}
			for _, n := range tc.names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("message %q does not name %q", err.Error(), n)
				}
			}
		})
	}
}
