package access

// The lists a Query may run on, and the fields each offers to $filter and
// $orderby. A field is named by its path in the stored object ("Target.ID"),
// which is also its path in the stored JSON document (every stored struct
// names its JSON keys after its Go fields), so the store can read any of
// them; the ones clients use most also have columns and indexes of their own.

// Noun names a list the store can query.
type Noun string

const (
	NounCatalogs          Noun = "catalogs"
	NounAccessPackages    Noun = "accessPackages"
	NounPolicies          Noun = "assignmentPolicies"
	NounCustomExtensions  Noun = "customExtensions"
	NounRequests          Noun = "assignmentRequests"
	NounAssignments       Noun = "assignments"
	NounResources         Noun = "resources"
	NounResourceRequests  Noun = "resourceRequests"
	NounUsers             Noun = "users"
	NounGroups            Noun = "groups"
	NounServicePrincipals Noun = "servicePrincipals"
	NounRoleAssignments   Noun = "roleAssignments"
)

// FieldApprover is a request field that is no property: it holds when the
// compared id approves the request's stage waiting for a decision now.
const FieldApprover Field = "Approver"

// FieldFormerApprover is a request field that is no property: it holds
// when the compared id approves a stage of the request that no longer waits
// for a decision (decided by them or another approver, or expired): the
// approver's history.
const FieldFormerApprover Field = "FormerApprover"

// FieldsOf lists the fields each noun may be filtered and ordered on.
var FieldsOf = map[Noun]Fields{
	NounCatalogs: {
		"ID": TypeID, "DisplayName": TypeString, "Description": TypeString, "CatalogType": TypeEnum, "State": TypeEnum,
		"IsExternallyVisible": TypeBool, "CreatedBy": TypeString, "CreatedDateTime": TypeTime, "ModifiedBy": TypeString,
		"ModifiedDateTime": TypeTime, FieldCatalogRoleOf: TypeID,
	},
	NounAccessPackages: {
		"ID": TypeID, "CatalogID": TypeID, "DisplayName": TypeString, "Description": TypeString, "IsHidden": TypeBool,
		"CreatedBy": TypeString, "CreatedDateTime": TypeTime, "ModifiedBy": TypeString, "ModifiedDateTime": TypeTime,
		FieldCatalogRoleOf: TypeID,
	},
	NounPolicies: {
		"ID": TypeID, "AccessPackageID": TypeID, "CatalogID": TypeID, "DisplayName": TypeString, "Description": TypeString,
		"AllowedTargetScope": TypeEnum, "CreatedDateTime": TypeTime, "ModifiedDateTime": TypeTime, FieldCatalogRoleOf: TypeID,
	},
	NounCustomExtensions: {
		"ID": TypeID, "CatalogID": TypeID, "DisplayName": TypeString, "Description": TypeString, "Type": TypeEnum,
		"CreatedBy": TypeString, "CreatedDateTime": TypeTime, "LastModifiedBy": TypeString, "LastModifiedDateTime": TypeTime,
		FieldCatalogRoleOf: TypeID,
	},
	NounRequests: {
		"ID": TypeID, "Type": TypeEnum, "State": TypeEnum, "Status": TypeString, "CreatedDateTime": TypeTime,
		"CompletedDateTime": TypeTime, "Justification": TypeString, "AccessPackageID": TypeID, "PolicyID": TypeID,
		"CatalogID": TypeID, "AssignmentID": TypeID, "Target.ID": TypeID, "Target.DisplayName": TypeString,
		"Target.PrincipalName": TypeString, "Target.Email": TypeString, "Requestor.ID": TypeID,
		"Requestor.DisplayName": TypeString, FieldApprover: TypeID, FieldFormerApprover: TypeID, FieldCatalogRoleOf: TypeID,
	},
	NounAssignments: {
		"ID": TypeID, "State": TypeEnum, "Status": TypeString, "CreatedDateTime": TypeTime, "ExpiredDateTime": TypeTime,
		"AccessPackageID": TypeID, "PolicyID": TypeID, "CatalogID": TypeID, "Target.ID": TypeID,
		"Target.DisplayName": TypeString, "Target.PrincipalName": TypeString, "Target.Email": TypeString, "RequestorID": TypeID,
		"Schedule.StartDateTime": TypeTime, "Schedule.Expiration.EndDateTime": TypeTime, FieldCatalogRoleOf: TypeID,
	},
	NounResources: {
		"ID": TypeID, "CatalogID": TypeID, "OriginID": TypeID, "OriginSystem": TypeString, "DisplayName": TypeString,
		"Description": TypeString, "CreatedDateTime": TypeTime, "ModifiedDateTime": TypeTime, FieldCatalogRoleOf: TypeID,
	},
	NounResourceRequests: {
		"ID": TypeID, "Type": TypeEnum, "State": TypeEnum, "Status": TypeString, "CatalogID": TypeID,
		"ResourceID": TypeID, "OriginID": TypeID, "OriginSystem": TypeString, "Justification": TypeString,
		"Requestor.ID": TypeID, "CreatedDateTime": TypeTime, FieldCatalogRoleOf: TypeID,
	},
	NounRoleAssignments: {
		"ID": TypeID, "PrincipalID": TypeID, "RoleDefinitionID": TypeID, "DirectoryScopeID": TypeID, "AppScopeID": TypeID,
		"CatalogID": TypeID, "CreatedDateTime": TypeTime, FieldCatalogRoleOf: TypeID,
	},
	NounUsers: {
		"ID": TypeID, "DisplayName": TypeString, "UserPrincipalName": TypeString, "Mail": TypeString,
		"MailNickname": TypeString, "AccountEnabled": TypeBool, "ManagerID": TypeID,
	},
	NounGroups: {
		"ID": TypeID, "DisplayName": TypeString, "Description": TypeString, "MailNickname": TypeString,
		"SecurityEnabled": TypeBool, "MailEnabled": TypeBool,
	},
	NounServicePrincipals: {
		"ID": TypeID, "AppID": TypeID, "DisplayName": TypeString,
	},
}
