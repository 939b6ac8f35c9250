package access_test

import (
	"testing"

	"github.com/accessd/accessd/access"
)

// A directly assigned app role must be one the application offers, enabled,
// and meant for the kind of principal that gets it.
func TestServiceAssignAppRole(t *testing.T) {
	e := newEnv(t)
	must[access.User](t)(e.svc.CreateUser(e.ctx, newUser("ada")))
	must[access.ServicePrincipal](t)(e.svc.CreateServicePrincipal(e.ctx, access.ServicePrincipal{ID: "sp-crm", AppID: "crm", DisplayName: "CRM",
		AppRoles: []access.AppRole{
			{ID: "r-user", AllowedMemberTypes: []string{"User"}, DisplayName: "User", IsEnabled: true, Value: "User"},
			{ID: "r-app", AllowedMemberTypes: []string{"Application"}, DisplayName: "Daemon", IsEnabled: true, Value: "Daemon"},
			{ID: "r-off", AllowedMemberTypes: []string{"User"}, DisplayName: "Retired", IsEnabled: false, Value: "Retired"},
		}}))
	must[access.ServicePrincipal](t)(e.svc.CreateServicePrincipal(e.ctx, access.ServicePrincipal{ID: "sp-job", AppID: "job", DisplayName: "Job"}))
	for _, tc := range []struct {
		name, principal, role string
		ok                    bool
	}{
		{"a user role to a user", "ada", "r-user", true},
		{"an application role to an application", "sp-job", "r-app", true},
		{"default access to a user", "ada", access.DefaultAccessRoleID, true},
		{"an application role to a user", "ada", "r-app", false},
		{"a disabled role", "ada", "r-off", false},
		{"an unknown role", "ada", "r-none", false},
		{"an unknown principal", "nobody", "r-user", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := e.svc.AssignAppRole(e.ctx, "sp-crm", tc.principal, tc.role)
			if !tc.ok {
				wantInvalid(t, err, "")
				return
			}
			noErr(t, err)
			held := must[[]access.AppRoleAssignment](t)(func() ([]access.AppRoleAssignment, error) {
				as, _, err := e.svc.AppRoleAssignedTo(e.ctx, "sp-crm", access.Page{Limit: 10})
				return as, err
			}())
			found := false
			for _, x := range held {
				found = found || (x.ID == a.ID && x.PrincipalID == tc.principal && x.AppRoleID == tc.role)
			}
			if !found {
				t.Errorf("assignment %+v not listed in %+v", a, held)
			}
		})
	}
	_, err := e.svc.AssignAppRole(e.ctx, "sp-crm", "ada", "r-user")
	wantKind(t, err, access.KindConflict, "already holds")
}
