package client_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/accessd/accessd/access"
	"github.com/google/go-cmp/cmp"
)

func TestUsers(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, nil)
	ctx := context.Background()

	ada, err := c.CreateUser(ctx, access.User{DisplayName: "Ada Admin", UserPrincipalName: "ada@contoso.test",
		Mail: "ada@contoso.test", MailNickname: "ada", AccountEnabled: true})
	ok(t, err, "CreateUser")
	want := access.User{ID: ada.ID, DisplayName: "Ada Admin", UserPrincipalName: "ada@contoso.test", Mail: "ada@contoso.test",
		MailNickname: "ada", AccountEnabled: true}
	if diff := cmp.Diff(want, ada); diff != "" || ada.ID == "" {
		t.Errorf("CreateUser (-want +got):\n%s", diff)
	}
	bob, err := c.CreateUser(ctx, access.User{DisplayName: "Bob", UserPrincipalName: "bob@contoso.test", ManagerID: ada.ID})
	ok(t, err, "CreateUser with a manager")
	if bob.AccountEnabled || bob.Mail != "" || bob.ManagerID != "" {
		t.Errorf("CreateUser = %+v; want a disabled account, no mail, and no manager read back", bob)
	}
	// The manager went over the wire: accessd shows it at /users/{id}/manager.
	var manager struct {
		ID string `json:"id"`
	}
	ok(t, c.Do(ctx, "GET", "/v1.0/users/"+bob.ID+"/manager", nil, &manager), "GET manager")
	if manager.ID != ada.ID {
		t.Errorf("bob's manager is %q, want %q", manager.ID, ada.ID)
	}

	for _, key := range []string{ada.ID, "ada@contoso.test"} {
		got, err := c.GetUser(ctx, key)
		ok(t, err, "GetUser "+key)
		if diff := cmp.Diff(ada, got); diff != "" {
			t.Errorf("GetUser(%q) (-want +got):\n%s", key, diff)
		}
	}
	all, err := c.ListUsers(ctx)
	ok(t, err, "ListUsers")
	if diff := cmp.Diff([]access.User{ada, bob}, all); diff != "" {
		t.Errorf("ListUsers (-want +got):\n%s", diff)
	}

	_, err = c.CreateUser(ctx, access.User{DisplayName: "No UPN"})
	e := wantError(t, err, 400, "invalidRequest", access.KindInvalid)
	if e.Message != "userPrincipalName is required" {
		t.Errorf("message %q", e.Message)
	}

	ok(t, c.DeleteUser(ctx, bob.ID), "DeleteUser")
	_, err = c.GetUser(ctx, bob.ID)
	wantError(t, err, 404, "itemNotFound", access.KindNotFound)
}

func TestGroups(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, nil)
	ctx := context.Background()
	ada := newUser(t, c, "ada@contoso.test")
	bob := newUser(t, c, "bob@contoso.test")
	crm, err := c.CreateServicePrincipal(ctx, access.ServicePrincipal{DisplayName: "CRM"})
	ok(t, err, "CreateServicePrincipal")

	sales, err := c.CreateGroup(ctx, access.Group{DisplayName: "Sales", Description: "Everyone in sales", MailNickname: "sales",
		SecurityEnabled: true}, []string{ada.ID, crm.ID}, []string{bob.ID})
	ok(t, err, "CreateGroup")
	want := access.Group{ID: sales.ID, DisplayName: "Sales", Description: "Everyone in sales", MailNickname: "sales", SecurityEnabled: true}
	if diff := cmp.Diff(want, sales); diff != "" || sales.ID == "" {
		t.Errorf("CreateGroup (-want +got):\n%s", diff)
	}
	mail, err := c.CreateGroup(ctx, access.Group{DisplayName: "Mail", MailNickname: "mail", MailEnabled: true}, nil, nil)
	ok(t, err, "CreateGroup")
	if mail.SecurityEnabled || !mail.MailEnabled {
		t.Errorf("CreateGroup = %+v, want a mail group that is not a security group", mail)
	}

	got, err := c.GetGroup(ctx, sales.ID)
	ok(t, err, "GetGroup")
	if diff := cmp.Diff(sales, got); diff != "" {
		t.Errorf("GetGroup (-want +got):\n%s", diff)
	}
	all, err := c.ListGroups(ctx)
	ok(t, err, "ListGroups")
	if diff := cmp.Diff([]access.Group{sales, mail}, all); diff != "" {
		t.Errorf("ListGroups (-want +got):\n%s", diff)
	}

	members, err := c.ListGroupMembers(ctx, sales.ID)
	ok(t, err, "ListGroupMembers")
	crmAsRead, err := c.GetServicePrincipal(ctx, crm.ID)
	ok(t, err, "GetServicePrincipal")
	wantMembers := []access.DirectoryObject{
		{Kind: access.ObjectUser, ID: ada.ID, User: &ada},
		{Kind: access.ObjectServicePrincipal, ID: crm.ID, ServicePrincipal: &crmAsRead},
	}
	byID := func(a, b access.DirectoryObject) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(wantMembers, byID)
	slices.SortFunc(members, byID)
	if diff := cmp.Diff(wantMembers, members); diff != "" {
		t.Errorf("ListGroupMembers (-want +got):\n%s", diff)
	}

	ok(t, c.AddGroupMember(ctx, sales.ID, mail.ID), "AddGroupMember (a group)")
	ok(t, c.RemoveGroupMember(ctx, sales.ID, ada.ID), "RemoveGroupMember")
	members, err = c.ListGroupMembers(ctx, sales.ID)
	ok(t, err, "ListGroupMembers")
	var kinds []access.DirectoryObjectKind
	for _, m := range members {
		kinds = append(kinds, m.Kind)
		if m.Kind == access.ObjectGroup && (m.Group == nil || *m.Group != mail) {
			t.Errorf("the group member reads %+v, want %+v", m.Group, mail)
		}
	}
	slices.Sort(kinds)
	if diff := cmp.Diff([]access.DirectoryObjectKind{access.ObjectGroup, access.ObjectServicePrincipal}, kinds); diff != "" {
		t.Errorf("member kinds after adding a group and removing ada (-want +got):\n%s", diff)
	}

	err = c.AddGroupMember(ctx, sales.ID, "no-such-object")
	wantError(t, err, 404, "itemNotFound", access.KindNotFound)

	ok(t, c.DeleteGroup(ctx, mail.ID), "DeleteGroup")
	_, err = c.GetGroup(ctx, mail.ID)
	wantError(t, err, 404, "itemNotFound", access.KindNotFound)
}

func TestServicePrincipals(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, nil)
	ctx := context.Background()

	in := access.ServicePrincipal{AppID: "9e8d7c6b-0000-4000-8000-0000000000a1", DisplayName: "Sales CRM", AppRoles: []access.AppRole{
		{ID: "9e8d7c6b-0000-4000-8000-0000000000f1", AllowedMemberTypes: []string{"User"}, Description: "Can use the CRM",
			DisplayName: "CRM user", IsEnabled: true, Value: "CRM.User"},
		{ID: "9e8d7c6b-0000-4000-8000-0000000000f2", AllowedMemberTypes: []string{"User", "Application"}, IsEnabled: false},
	}}
	crm, err := c.CreateServicePrincipal(ctx, in)
	ok(t, err, "CreateServicePrincipal")
	want := in
	want.ID = crm.ID
	if diff := cmp.Diff(want, crm); diff != "" || crm.ID == "" {
		t.Errorf("CreateServicePrincipal (-want +got):\n%s", diff)
	}
	bare, err := c.CreateServicePrincipal(ctx, access.ServicePrincipal{DisplayName: "Bare"})
	ok(t, err, "CreateServicePrincipal")
	if bare.AppID == "" || len(bare.AppRoles) != 0 {
		t.Errorf("CreateServicePrincipal = %+v, want an appId made by accessd and no roles", bare)
	}

	got, err := c.GetServicePrincipal(ctx, crm.ID)
	ok(t, err, "GetServicePrincipal")
	if diff := cmp.Diff(crm, got); diff != "" {
		t.Errorf("GetServicePrincipal (-want +got):\n%s", diff)
	}
	all, err := c.ListServicePrincipals(ctx)
	ok(t, err, "ListServicePrincipals")
	var names []string
	for _, sp := range all {
		names = append(names, sp.DisplayName)
	}
	// client-test is the application the test's token belongs to.
	if diff := cmp.Diff([]string{"client-test", "Sales CRM", "Bare"}, names); diff != "" {
		t.Errorf("ListServicePrincipals names (-want +got):\n%s", diff)
	}

	ok(t, c.DeleteServicePrincipal(ctx, bare.ID), "DeleteServicePrincipal")
	_, err = c.GetServicePrincipal(ctx, bare.ID)
	wantError(t, err, 404, "itemNotFound", access.KindNotFound)
}
