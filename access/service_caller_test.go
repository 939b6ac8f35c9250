package access_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/accessd/accessd/access"
)

func TestCheckSignedInUser(t *testing.T) {
	e := newEnv(t)
	alice := must[access.User](t)(e.svc.CreateUser(e.ctx, access.User{DisplayName: "Alice", UserPrincipalName: "alice@contoso.test", AccountEnabled: true}))
	bob := must[access.User](t)(e.svc.CreateUser(e.ctx, access.User{DisplayName: "Bob", UserPrincipalName: "bob@contoso.test", AccountEnabled: true}))
	if err := e.svc.DeleteUser(e.ctx, bob.ID); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		caller access.Caller
		want   string // part of the refusal; "" means allowed
	}{
		{"a user in the directory", access.Caller{ObjectID: alice.ID, UPN: alice.UserPrincipalName}, ""},
		{"a deleted user", access.Caller{ObjectID: bob.ID, UPN: bob.UserPrincipalName},
			`the token's user "bob@contoso.test" (id "` + bob.ID + `") is not in the directory`},
		{"a user never in the directory", access.Caller{ObjectID: "ghost", UPN: "ghost@contoso.test"},
			`the token's user "ghost@contoso.test" (id "ghost") is not in the directory`},
		{"an application that is no service principal", access.Caller{ObjectID: "gone-sp", IsApp: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.svc.CheckSignedInUser(e.ctx, tt.caller)
			if tt.want == "" {
				if err != nil {
					t.Errorf("CheckSignedInUser: %v, want allowed", err)
				}
				return
			}
			var ae *access.Error
			if !errors.As(err, &ae) || ae.Kind != access.KindUnauthenticated || !strings.Contains(ae.Message, tt.want) {
				t.Errorf("CheckSignedInUser = %v, want an unauthenticated error %q", err, tt.want)
			}
		})
	}
}
