package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/accessd/accessd/access"
)

// The directory: /v1.0/users, /v1.0/groups and /v1.0/servicePrincipals.

// userWire is a user, both ways. Graph shows a user's manager only at
// /users/{id}/manager, so ManagerID is sent on create and never read back.
type userWire struct {
	ID                string  `json:"id,omitempty"`
	DisplayName       string  `json:"displayName"`
	UserPrincipalName string  `json:"userPrincipalName"`
	Mail              *string `json:"mail,omitempty"`
	MailNickname      *string `json:"mailNickname,omitempty"`
	AccountEnabled    bool    `json:"accountEnabled"`
	ManagerBind       string  `json:"manager@odata.bind,omitempty"`
}

func (w userWire) toDomain() (access.User, error) {
	return access.User{ID: w.ID, DisplayName: w.DisplayName, UserPrincipalName: w.UserPrincipalName,
		Mail: str(w.Mail), MailNickname: str(w.MailNickname), AccountEnabled: w.AccountEnabled}, nil
}

// objectURL names a directory object in an @odata.bind or $ref body.
func (c *Client) objectURL(id string) (string, error) {
	path, err := route("/v1.0/directoryObjects/%s", id)
	return c.base + path, err
}

// objectURLs names several directory objects.
func (c *Client) objectURLs(ids []string) ([]string, error) {
	var urls []string
	for _, id := range ids {
		u, err := c.objectURL(id)
		if err != nil {
			return nil, err
		}
		urls = append(urls, u)
	}
	return urls, nil
}

// CreateUser creates a user; accessd makes the id. AccountEnabled is sent
// as given, so a zero User creates a disabled account.
func (c *Client) CreateUser(ctx context.Context, u access.User) (access.User, error) {
	in := userWire{DisplayName: u.DisplayName, UserPrincipalName: u.UserPrincipalName, AccountEnabled: u.AccountEnabled}
	if u.Mail != "" {
		in.Mail = &u.Mail
	}
	if u.MailNickname != "" {
		in.MailNickname = &u.MailNickname
	}
	if u.ManagerID != "" {
		var err error
		if in.ManagerBind, err = c.objectURL(u.ManagerID); err != nil {
			return access.User{}, err
		}
	}
	var w userWire
	if err := c.Do(ctx, http.MethodPost, "/v1.0/users", in, &w); err != nil {
		return access.User{}, err
	}
	return w.toDomain()
}

// GetUser reads a user by id or by userPrincipalName.
func (c *Client) GetUser(ctx context.Context, idOrUPN string) (access.User, error) {
	path, err := route("/v1.0/users/%s", idOrUPN)
	if err != nil {
		return access.User{}, err
	}
	var w userWire
	if err := c.Do(ctx, http.MethodGet, path, nil, &w); err != nil {
		return access.User{}, err
	}
	return w.toDomain()
}

func (c *Client) ListUsers(ctx context.Context) ([]access.User, error) {
	return list(ctx, c, "/v1.0/users", nil, userWire.toDomain)
}

func (c *Client) DeleteUser(ctx context.Context, idOrUPN string) error {
	path, err := route("/v1.0/users/%s", idOrUPN)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodDelete, path, nil, nil)
}

// groupWire is a group, both ways.
type groupWire struct {
	ID              string   `json:"id,omitempty"`
	DisplayName     string   `json:"displayName"`
	Description     *string  `json:"description,omitempty"`
	MailNickname    string   `json:"mailNickname"`
	SecurityEnabled bool     `json:"securityEnabled"`
	MailEnabled     bool     `json:"mailEnabled"`
	MembersBind     []string `json:"members@odata.bind,omitempty"`
	OwnersBind      []string `json:"owners@odata.bind,omitempty"`
}

func (w groupWire) toDomain() (access.Group, error) {
	return access.Group{ID: w.ID, DisplayName: w.DisplayName, Description: str(w.Description), MailNickname: w.MailNickname,
		SecurityEnabled: w.SecurityEnabled, MailEnabled: w.MailEnabled}, nil
}

// CreateGroup creates a group with its first members and owners, named by
// directory object id (users, groups or service principals), in one call.
func (c *Client) CreateGroup(ctx context.Context, g access.Group, memberIDs, ownerIDs []string) (access.Group, error) {
	in := groupWire{DisplayName: g.DisplayName, MailNickname: g.MailNickname, SecurityEnabled: g.SecurityEnabled, MailEnabled: g.MailEnabled}
	if g.Description != "" {
		in.Description = &g.Description
	}
	var err error
	if in.MembersBind, err = c.objectURLs(memberIDs); err != nil {
		return access.Group{}, err
	}
	if in.OwnersBind, err = c.objectURLs(ownerIDs); err != nil {
		return access.Group{}, err
	}
	var w groupWire
	if err := c.Do(ctx, http.MethodPost, "/v1.0/groups", in, &w); err != nil {
		return access.Group{}, err
	}
	return w.toDomain()
}

func (c *Client) GetGroup(ctx context.Context, id string) (access.Group, error) {
	path, err := route("/v1.0/groups/%s", id)
	if err != nil {
		return access.Group{}, err
	}
	var w groupWire
	if err := c.Do(ctx, http.MethodGet, path, nil, &w); err != nil {
		return access.Group{}, err
	}
	return w.toDomain()
}

func (c *Client) ListGroups(ctx context.Context) ([]access.Group, error) {
	return list(ctx, c, "/v1.0/groups", nil, groupWire.toDomain)
}

func (c *Client) DeleteGroup(ctx context.Context, id string) error {
	path, err := route("/v1.0/groups/%s", id)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodDelete, path, nil, nil)
}

// ListGroupMembers lists a group's members; each carries the user, group or
// service principal it is, as accessd describes it.
func (c *Client) ListGroupMembers(ctx context.Context, groupID string) ([]access.DirectoryObject, error) {
	path, err := route("/v1.0/groups/%s/members", groupID)
	if err != nil {
		return nil, err
	}
	return list(ctx, c, path, nil, directoryObjectOf)
}

// AddGroupMember adds a directory object to a group's members.
func (c *Client) AddGroupMember(ctx context.Context, groupID, objectID string) error {
	path, err := route("/v1.0/groups/%s/members/$ref", groupID)
	if err != nil {
		return err
	}
	object, err := c.objectURL(objectID)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodPost, path, map[string]string{"@odata.id": object}, nil)
}

func (c *Client) RemoveGroupMember(ctx context.Context, groupID, objectID string) error {
	path, err := route("/v1.0/groups/%s/members/%s/$ref", groupID, objectID)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodDelete, path, nil, nil)
}

// directoryObjectOf reads one member by its @odata.type.
func directoryObjectOf(raw json.RawMessage) (access.DirectoryObject, error) {
	var head struct {
		ODataType string `json:"@odata.type"`
		ID        string `json:"id"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return access.DirectoryObject{}, err
	}
	o := access.DirectoryObject{Kind: access.DirectoryObjectKind(typeName(head.ODataType)), ID: head.ID}
	var err error
	switch o.Kind {
	case access.ObjectUser:
		var w userWire
		if err = json.Unmarshal(raw, &w); err == nil {
			u, _ := w.toDomain()
			o.User = &u
		}
	case access.ObjectGroup:
		var w groupWire
		if err = json.Unmarshal(raw, &w); err == nil {
			g, _ := w.toDomain()
			o.Group = &g
		}
	case access.ObjectServicePrincipal:
		var w servicePrincipalWire
		if err = json.Unmarshal(raw, &w); err == nil {
			sp, _ := w.toDomain()
			o.ServicePrincipal = &sp
		}
	default:
		err = fmt.Errorf("a member's @odata.type %q is not a user, group or service principal", head.ODataType)
	}
	return o, err
}

// servicePrincipalWire is a service principal, both ways.
type servicePrincipalWire struct {
	ID          string        `json:"id,omitempty"`
	AppID       string        `json:"appId,omitempty"`
	DisplayName *string       `json:"displayName,omitempty"`
	AppRoles    []appRoleWire `json:"appRoles,omitempty"`
}

type appRoleWire struct {
	ID                 string   `json:"id"`
	AllowedMemberTypes []string `json:"allowedMemberTypes"`
	Description        *string  `json:"description,omitempty"`
	DisplayName        *string  `json:"displayName,omitempty"`
	IsEnabled          bool     `json:"isEnabled"`
	Value              *string  `json:"value,omitempty"`
}

func (w servicePrincipalWire) toDomain() (access.ServicePrincipal, error) {
	sp := access.ServicePrincipal{ID: w.ID, AppID: w.AppID, DisplayName: str(w.DisplayName)}
	for _, r := range w.AppRoles {
		sp.AppRoles = append(sp.AppRoles, access.AppRole{ID: r.ID, AllowedMemberTypes: r.AllowedMemberTypes,
			Description: str(r.Description), DisplayName: str(r.DisplayName), IsEnabled: r.IsEnabled, Value: str(r.Value)})
	}
	return sp, nil
}

// CreateServicePrincipal creates a service principal with its app roles;
// accessd makes the id, and the appId too when none is given.
func (c *Client) CreateServicePrincipal(ctx context.Context, sp access.ServicePrincipal) (access.ServicePrincipal, error) {
	in := servicePrincipalWire{AppID: sp.AppID}
	if sp.DisplayName != "" {
		in.DisplayName = &sp.DisplayName
	}
	for _, r := range sp.AppRoles {
		role := appRoleWire{ID: r.ID, AllowedMemberTypes: r.AllowedMemberTypes, IsEnabled: r.IsEnabled}
		if role.AllowedMemberTypes == nil {
			role.AllowedMemberTypes = []string{}
		}
		if r.Description != "" {
			role.Description = &r.Description
		}
		if r.DisplayName != "" {
			role.DisplayName = &r.DisplayName
		}
		if r.Value != "" {
			role.Value = &r.Value
		}
		in.AppRoles = append(in.AppRoles, role)
	}
	var w servicePrincipalWire
	if err := c.Do(ctx, http.MethodPost, "/v1.0/servicePrincipals", in, &w); err != nil {
		return access.ServicePrincipal{}, err
	}
	return w.toDomain()
}

func (c *Client) GetServicePrincipal(ctx context.Context, id string) (access.ServicePrincipal, error) {
	path, err := route("/v1.0/servicePrincipals/%s", id)
	if err != nil {
		return access.ServicePrincipal{}, err
	}
	var w servicePrincipalWire
	if err := c.Do(ctx, http.MethodGet, path, nil, &w); err != nil {
		return access.ServicePrincipal{}, err
	}
	return w.toDomain()
}

func (c *Client) ListServicePrincipals(ctx context.Context) ([]access.ServicePrincipal, error) {
	return list(ctx, c, "/v1.0/servicePrincipals", nil, servicePrincipalWire.toDomain)
}

func (c *Client) DeleteServicePrincipal(ctx context.Context, id string) error {
	path, err := route("/v1.0/servicePrincipals/%s", id)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodDelete, path, nil, nil)
}
