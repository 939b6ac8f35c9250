package access

import "strings"

// parseMember finds s among members ignoring case, since Graph accepts enum
// members in any case on input and always writes the canonical spelling.
func parseMember[T ~string](members []T, s string) (T, bool) {
	for _, m := range members {
		if strings.EqualFold(string(m), s) {
			return m, true
		}
	}
	return "", false
}

// Stage is accessPackageCustomExtensionStage: the point of a request or an
// assignment at which an extension is called.
type Stage string

const (
	StageRequestCreated           Stage = "assignmentRequestCreated"
	StageRequestApproved          Stage = "assignmentRequestApproved"
	StageRequestGranted           Stage = "assignmentRequestGranted"
	StageRequestRemoved           Stage = "assignmentRequestRemoved"
	StageFourteenDaysBeforeExpiry Stage = "assignmentFourteenDaysBeforeExpiration"
	StageOneDayBeforeExpiry       Stage = "assignmentOneDayBeforeExpiration"
	// StageDeterminingApproval is where a dynamic approval stage calls its
	// extension to learn the stage's approvers. Entra's documentation names
	// it though Graph's enumeration lacks it; no policy binds it directly.
	StageDeterminingApproval Stage = "assignmentRequestDeterminingApprovalRequirements"
)

var stages = []Stage{StageRequestCreated, StageRequestApproved, StageRequestGranted, StageRequestRemoved,
	StageFourteenDaysBeforeExpiry, StageOneDayBeforeExpiry, StageDeterminingApproval}

func ParseStage(s string) (Stage, bool) { return parseMember(stages, s) }

// IsRequestStage is true for the four stages of a request's own workflow.
func (s Stage) IsRequestStage() bool {
	return s == StageRequestCreated || s == StageRequestApproved || s == StageRequestGranted || s == StageRequestRemoved
}

// AllowedTargetScope says who may be assigned an access package under a policy.
type AllowedTargetScope string

const (
	ScopeNotSpecified                       AllowedTargetScope = "notSpecified"
	ScopeSpecificDirectoryUsers             AllowedTargetScope = "specificDirectoryUsers"
	ScopeSpecificConnectedOrgUsers          AllowedTargetScope = "specificConnectedOrganizationUsers"
	ScopeSpecificDirectoryServicePrincipals AllowedTargetScope = "specificDirectoryServicePrincipals"
	ScopeAllMemberUsers                     AllowedTargetScope = "allMemberUsers"
	ScopeAllDirectoryUsers                  AllowedTargetScope = "allDirectoryUsers"
	ScopeAllDirectoryServicePrincipals      AllowedTargetScope = "allDirectoryServicePrincipals"
	ScopeAllConfiguredConnectedOrgUsers     AllowedTargetScope = "allConfiguredConnectedOrganizationUsers"
	ScopeAllExternalUsers                   AllowedTargetScope = "allExternalUsers"
	ScopeAllDirectoryAgentIdentities        AllowedTargetScope = "allDirectoryAgentIdentities"
)

var targetScopes = []AllowedTargetScope{ScopeNotSpecified, ScopeSpecificDirectoryUsers, ScopeSpecificConnectedOrgUsers,
	ScopeSpecificDirectoryServicePrincipals, ScopeAllMemberUsers, ScopeAllDirectoryUsers, ScopeAllDirectoryServicePrincipals,
	ScopeAllConfiguredConnectedOrgUsers, ScopeAllExternalUsers, ScopeAllDirectoryAgentIdentities}

func ParseAllowedTargetScope(s string) (AllowedTargetScope, bool) {
	return parseMember(targetScopes, s)
}

// IsSpecific is true for the scopes that read specificAllowedTargets.
func (s AllowedTargetScope) IsSpecific() bool { return strings.HasPrefix(string(s), "specific") }

// ExpirationType is expirationPatternType.
type ExpirationType string

const (
	ExpirationNotSpecified  ExpirationType = "notSpecified"
	ExpirationNone          ExpirationType = "noExpiration"
	ExpirationAfterDateTime ExpirationType = "afterDateTime"
	ExpirationAfterDuration ExpirationType = "afterDuration"
)

var expirationTypes = []ExpirationType{ExpirationNotSpecified, ExpirationNone, ExpirationAfterDateTime, ExpirationAfterDuration}

func ParseExpirationType(s string) (ExpirationType, bool) { return parseMember(expirationTypes, s) }

// CatalogType is accessPackageCatalogType.
type CatalogType string

const (
	CatalogUserManaged    CatalogType = "userManaged"
	CatalogServiceDefault CatalogType = "serviceDefault"
	CatalogServiceManaged CatalogType = "serviceManaged"
)

var catalogTypes = []CatalogType{CatalogUserManaged, CatalogServiceDefault, CatalogServiceManaged}

func ParseCatalogType(s string) (CatalogType, bool) { return parseMember(catalogTypes, s) }

// CatalogState is accessPackageCatalogState.
type CatalogState string

const (
	CatalogPublished   CatalogState = "published"
	CatalogUnpublished CatalogState = "unpublished"
)

var catalogStates = []CatalogState{CatalogPublished, CatalogUnpublished}

func ParseCatalogState(s string) (CatalogState, bool) { return parseMember(catalogStates, s) }

// ApproverVisibility is approverInformationVisibility.
type ApproverVisibility string

var approverVisibilities = []ApproverVisibility{"default", "notVisible", "visible"}

func ParseApproverVisibility(s string) (ApproverVisibility, bool) {
	return parseMember(approverVisibilities, s)
}
