package access

import "strings"

// User is a person in accessd's small directory: a requestor, a target or an approver.
type User struct {
	ID                string `json:"ID"`
	DisplayName       string `json:"DisplayName"`
	UserPrincipalName string `json:"UserPrincipalName"`
	Mail              string `json:"Mail"`
	MailNickname      string `json:"MailNickname"`
	AccountEnabled    bool   `json:"AccountEnabled"`
	ManagerID         string `json:"ManagerID"` // empty when the user has no manager
}

func (u User) Validate() error {
	if strings.TrimSpace(u.DisplayName) == "" {
		return Invalidf("displayName is required")
	}
	if strings.TrimSpace(u.UserPrincipalName) == "" {
		return Invalidf("userPrincipalName is required")
	}
	if !strings.Contains(u.UserPrincipalName, "@") {
		return Invalidf("userPrincipalName %q must have the form alias@domain", u.UserPrincipalName)
	}
	return nil
}

// Group is a security or mail group; delivering an assignment will change its members.
type Group struct {
	ID              string `json:"ID"`
	DisplayName     string `json:"DisplayName"`
	Description     string `json:"Description"`
	MailNickname    string `json:"MailNickname"`
	SecurityEnabled bool   `json:"SecurityEnabled"`
	MailEnabled     bool   `json:"MailEnabled"`
}

func (g Group) Validate() error {
	if strings.TrimSpace(g.DisplayName) == "" {
		return Invalidf("displayName is required")
	}
	if strings.TrimSpace(g.MailNickname) == "" {
		return Invalidf("mailNickname is required")
	}
	return nil
}

// GroupRelation names the two member lists a group keeps.
type GroupRelation string

const (
	GroupMembers GroupRelation = "members"
	GroupOwners  GroupRelation = "owners"
)

// ServicePrincipal is an application in the directory: an app-token caller,
// a target, or a resource whose app roles a package grants.
type ServicePrincipal struct {
	ID          string    `json:"ID"`
	AppID       string    `json:"AppID"`
	DisplayName string    `json:"DisplayName"`
	AppRoles    []AppRole `json:"AppRoles"`
}

// AppRole is a role an application defines for users or other applications.
type AppRole struct {
	ID                 string   `json:"ID"`
	AllowedMemberTypes []string `json:"AllowedMemberTypes"`
	Description        string   `json:"Description"`
	DisplayName        string   `json:"DisplayName"`
	IsEnabled          bool     `json:"IsEnabled"`
	Value              string   `json:"Value"`
}

func (sp ServicePrincipal) Validate() error {
	if strings.TrimSpace(sp.DisplayName) == "" && strings.TrimSpace(sp.AppID) == "" {
		return Invalidf("displayName or appId is required")
	}
	seen := map[string]bool{}
	for i, r := range sp.AppRoles {
		if r.ID == "" {
			return Invalidf("appRoles[%d].id is required", i)
		}
		if seen[r.ID] {
			return Invalidf("appRoles[%d].id %q appears twice", i, r.ID)
		}
		seen[r.ID] = true
		for _, t := range r.AllowedMemberTypes {
			if t != "User" && t != "Application" {
				return Invalidf("appRoles[%d].allowedMemberTypes: %q is neither User nor Application", i, t)
			}
		}
	}
	return nil
}

// DirectoryObjectKind says which directory collection an id belongs to.
type DirectoryObjectKind string

const (
	ObjectUser             DirectoryObjectKind = "user"
	ObjectGroup            DirectoryObjectKind = "group"
	ObjectServicePrincipal DirectoryObjectKind = "servicePrincipal"
)

// DirectoryObject is a member or owner of a group as listed, with just
// enough to write its Graph shape.
type DirectoryObject struct {
	Kind             DirectoryObjectKind
	ID               string
	User             *User
	Group            *Group
	ServicePrincipal *ServicePrincipal
}
