package access_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/google/go-cmp/cmp"
)

func user(id string) access.SubjectSet { return access.SubjectSet{Type: "singleUser", UserID: id} }

func validStage() access.ApprovalStage {
	return access.ApprovalStage{
		DurationBeforeAutomaticDenial: access.MustDuration("P2D"),
		PrimaryApprovers:              []access.SubjectSet{user("approver")},
		ApproverInformationVisibility: "default",
	}
}

// validPolicy is the base every row of the policy table changes once: one
// approval stage, an expiry, one extension binding and both kinds of question.
func validPolicy() access.AssignmentPolicy {
	return access.AssignmentPolicy{
		ID:                 "pol1",
		AccessPackageID:    "pkg1",
		CatalogID:          "cat1",
		DisplayName:        "Employees",
		AllowedTargetScope: access.ScopeAllMemberUsers,
		Expiration:         access.Expiration{Type: access.ExpirationAfterDuration, Duration: access.MustDuration("P90D")},
		RequestorSettings:  access.RequestorSettings{EnableTargetsToSelfAddAccess: true},
		RequestApprovalSettings: access.ApprovalSettings{
			IsApprovalRequiredForAdd: true,
			Stages:                   []access.ApprovalStage{validStage()},
		},
		ExtensionBindings: []access.ExtensionBinding{{Stage: access.StageRequestCreated, CustomExtensionID: "x1"}},
		Questions: []access.Question{
			{ID: "q1", Type: access.TextInputQuestion, Text: "Why?", RegexPattern: `^[A-Z].+`},
			{ID: "q2", Type: access.MultipleChoiceQuestion, Text: "Region?", Choices: []access.AnswerChoice{{ActualValue: "eu"}, {ActualValue: "us"}}},
		},
	}
}

func stages(n int) []access.ApprovalStage {
	out := make([]access.ApprovalStage, n)
	for i := range out {
		out[i] = validStage()
	}
	return out
}

func bindings(stages ...access.Stage) []access.ExtensionBinding {
	var out []access.ExtensionBinding
	for i, s := range stages {
		out = append(out, access.ExtensionBinding{Stage: s, CustomExtensionID: fmt.Sprintf("x%d", i+1)})
	}
	return out
}

func TestAssignmentPolicyValidate(t *testing.T) {
	type P = access.AssignmentPolicy
	st0 := func(p *P) *access.ApprovalStage { return &p.RequestApprovalSettings.Stages[0] }
	const stage0 = "requestApprovalSettings.stages[0]"
	tests := []struct {
		name   string
		change func(p *P)
		want   []string // nil: valid
	}{
		{"base is valid", func(p *P) {}, nil},
		{"missing displayName", func(p *P) { p.DisplayName = " " }, []string{"displayName"}},
		{"missing access package", func(p *P) { p.AccessPackageID = "" }, []string{"accessPackage"}},

		// approval stages
		{"approval not required and no stages", func(p *P) { p.RequestApprovalSettings = access.ApprovalSettings{} }, nil},
		{"approval not required with stages", func(p *P) { p.RequestApprovalSettings.IsApprovalRequiredForAdd = false },
			[]string{"requestApprovalSettings.stages", "empty"}},
		{"approval required with 0 stages", func(p *P) { p.RequestApprovalSettings.Stages = nil },
			[]string{"requestApprovalSettings.stages", "not 0"}},
		{"approval required with 1 stage", func(p *P) { p.RequestApprovalSettings.Stages = stages(1) }, nil},
		{"approval required with 3 stages", func(p *P) { p.RequestApprovalSettings.Stages = stages(3) }, nil},
		{"approval required with 4 stages", func(p *P) { p.RequestApprovalSettings.Stages = stages(4) },
			[]string{"requestApprovalSettings.stages", "not 4"}},
		{"approval required for update only with no stages", func(p *P) {
			p.RequestApprovalSettings = access.ApprovalSettings{IsApprovalRequiredForUpdate: true}
		}, []string{"requestApprovalSettings.stages"}},
		{"stage without primaryApprovers", func(p *P) { st0(p).PrimaryApprovers = nil }, []string{stage0 + ".primaryApprovers"}},
		{"second stage without primaryApprovers", func(p *P) {
			p.RequestApprovalSettings.Stages = stages(2)
			p.RequestApprovalSettings.Stages[1].PrimaryApprovers = nil
		}, []string{"requestApprovalSettings.stages[1].primaryApprovers"}},
		{"durationBeforeAutomaticDenial PT23H59M", func(p *P) { st0(p).DurationBeforeAutomaticDenial = access.MustDuration("PT23H59M") },
			[]string{stage0 + ".durationBeforeAutomaticDenial", "PT23H59M"}},
		{"durationBeforeAutomaticDenial P1D", func(p *P) { st0(p).DurationBeforeAutomaticDenial = access.MustDuration("P1D") }, nil},
		{"durationBeforeAutomaticDenial PT24H", func(p *P) { st0(p).DurationBeforeAutomaticDenial = access.MustDuration("PT24H") }, nil},
		{"durationBeforeAutomaticDenial P14D", func(p *P) { st0(p).DurationBeforeAutomaticDenial = access.MustDuration("P14D") }, nil},
		{"durationBeforeAutomaticDenial P14DT1M", func(p *P) { st0(p).DurationBeforeAutomaticDenial = access.MustDuration("P14DT1M") },
			[]string{stage0 + ".durationBeforeAutomaticDenial", "P14DT1M"}},
		{"durationBeforeAutomaticDenial P15D", func(p *P) { st0(p).DurationBeforeAutomaticDenial = access.MustDuration("P15D") },
			[]string{stage0 + ".durationBeforeAutomaticDenial"}},
		{"durationBeforeAutomaticDenial P7117M (days overflow int64 nanoseconds)", func(p *P) { st0(p).DurationBeforeAutomaticDenial = access.MustDuration("P7117M") },
			[]string{stage0 + ".durationBeforeAutomaticDenial"}},
		{"durationBeforeAutomaticDenial absent before Normalize", func(p *P) { st0(p).DurationBeforeAutomaticDenial = access.Duration{} },
			[]string{stage0 + ".durationBeforeAutomaticDenial"}},
		{"escalation enabled", func(p *P) {
			st0(p).IsEscalationEnabled = true
			st0(p).EscalationApprovers = []access.SubjectSet{user("boss")}
			st0(p).DurationBeforeEscalation = access.MustDuration("PT12H")
		}, nil},
		{"escalation enabled without escalation approvers", func(p *P) {
			st0(p).IsEscalationEnabled = true
			st0(p).DurationBeforeEscalation = access.MustDuration("PT12H")
		}, []string{stage0 + ".escalationApprovers"}},
		{"escalation equal to denial", func(p *P) {
			st0(p).IsEscalationEnabled = true
			st0(p).EscalationApprovers = []access.SubjectSet{user("boss")}
			st0(p).DurationBeforeEscalation = access.MustDuration("PT48H")
		}, []string{stage0 + ".durationBeforeEscalation"}},
		{"escalation longer than denial", func(p *P) {
			st0(p).IsEscalationEnabled = true
			st0(p).EscalationApprovers = []access.SubjectSet{user("boss")}
			st0(p).DurationBeforeEscalation = access.MustDuration("P3D")
		}, []string{stage0 + ".durationBeforeEscalation"}},
		{"escalation enabled without duration", func(p *P) {
			st0(p).IsEscalationEnabled = true
			st0(p).EscalationApprovers = []access.SubjectSet{user("boss")}
		}, []string{stage0 + ".durationBeforeEscalation"}},
		{"escalation settings ignored while disabled", func(p *P) { st0(p).DurationBeforeEscalation = access.MustDuration("P30D") }, nil},
		{"bad fallback approver", func(p *P) { st0(p).FallbackPrimaryApprovers = []access.SubjectSet{{Type: "singleUser"}} },
			[]string{stage0 + ".fallbackPrimaryApprovers[0].userId"}},
		{"bad fallback escalation approver", func(p *P) {
			st0(p).FallbackEscalationApprovers = []access.SubjectSet{user("a"), {Type: "groupMembers"}}
		}, []string{stage0 + ".fallbackEscalationApprovers[1].groupId"}},

		// targets
		{"specific directory users without targets", func(p *P) { p.AllowedTargetScope = access.ScopeSpecificDirectoryUsers },
			[]string{"specificAllowedTargets", "specificDirectoryUsers"}},
		{"specific service principals without targets", func(p *P) { p.AllowedTargetScope = access.ScopeSpecificDirectoryServicePrincipals },
			[]string{"specificAllowedTargets", "specificDirectoryServicePrincipals"}},
		{"specific connected organization users without targets", func(p *P) { p.AllowedTargetScope = access.ScopeSpecificConnectedOrgUsers },
			[]string{"specificAllowedTargets"}},
		{"specific directory users with a group", func(p *P) {
			p.AllowedTargetScope = access.ScopeSpecificDirectoryUsers
			p.SpecificAllowedTargets = []access.SubjectSet{{Type: "groupMembers", GroupID: "g1"}}
		}, nil},
		{"bad on-behalf requestor", func(p *P) {
			p.RequestorSettings.OnBehalfRequestors = []access.SubjectSet{{Type: "targetManager", ManagerLevel: 0}}
		}, []string{"requestorSettings.onBehalfRequestors[0].managerLevel"}},

		// expiration
		{"expiration afterDateTime with endDateTime", func(p *P) {
			end := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
			p.Expiration = access.Expiration{Type: access.ExpirationAfterDateTime, EndDateTime: &end}
		}, nil},
		{"expiration afterDateTime without endDateTime", func(p *P) { p.Expiration = access.Expiration{Type: access.ExpirationAfterDateTime} },
			[]string{"expiration.endDateTime"}},
		{"expiration afterDuration without duration", func(p *P) { p.Expiration = access.Expiration{Type: access.ExpirationAfterDuration} },
			[]string{"expiration.duration"}},
		{"expiration noExpiration", func(p *P) { p.Expiration = access.Expiration{Type: access.ExpirationNone} }, nil},
		{"expiration notSpecified", func(p *P) { p.Expiration = access.Expiration{Type: access.ExpirationNotSpecified} }, nil},

		// extension bindings
		{"5 bindings", func(p *P) {
			p.ExtensionBindings = bindings(access.StageRequestCreated, access.StageRequestApproved, access.StageRequestGranted,
				access.StageRequestRemoved, access.StageFourteenDaysBeforeExpiry)
		}, nil},
		{"6 bindings", func(p *P) {
			p.ExtensionBindings = bindings(access.StageRequestCreated, access.StageRequestApproved, access.StageRequestGranted,
				access.StageRequestRemoved, access.StageFourteenDaysBeforeExpiry, access.StageOneDayBeforeExpiry)
		}, []string{"customExtensionStageSettings", "at most 5", "not 6"}},
		{"two bindings for one stage", func(p *P) {
			p.ExtensionBindings = bindings(access.StageRequestCreated, access.StageRequestGranted, access.StageRequestCreated)
		}, []string{"customExtensionStageSettings[2]", string(access.StageRequestCreated), "twice"}},
		{"binding without stage", func(p *P) { p.ExtensionBindings[0].Stage = "" }, []string{"customExtensionStageSettings[0].stage"}},
		{"binding without extension id", func(p *P) { p.ExtensionBindings[0].CustomExtensionID = "" },
			[]string{"customExtensionStageSettings[0].customExtension.id"}},
		{"no bindings", func(p *P) { p.ExtensionBindings = nil }, nil},

		// questions
		{"question with empty text", func(p *P) { p.Questions[1].Text = "  " }, []string{"questions[1].text"}},
		{"question with bad regex", func(p *P) { p.Questions[0].RegexPattern = "([a-z" }, []string{"questions[0].regexPattern"}},
		{"multiple choice without choices", func(p *P) { p.Questions[1].Choices = nil }, []string{"questions[1].choices"}},
		{"choice without actualValue", func(p *P) { p.Questions[1].Choices[1].ActualValue = "" }, []string{"questions[1].choices[1].actualValue"}},
		{"duplicate actualValue", func(p *P) { p.Questions[1].Choices[1].ActualValue = "eu" },
			[]string{"questions[1].choices[1].actualValue", `"eu"`, "twice"}},
		{"duplicate question id", func(p *P) { p.Questions[1].ID = "q1" }, []string{"questions[1].id", `"q1"`, "twice"}},
		{"questions without ids", func(p *P) { p.Questions[0].ID, p.Questions[1].ID = "", "" }, nil},
		{"unknown question type", func(p *P) { p.Questions[0].Type = "accessPackageDateQuestion" },
			[]string{"questions[0]", "accessPackageDateQuestion"}},
		{"question type absent before Normalize", func(p *P) { p.Questions[0].Type = "" }, []string{"questions[0]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validPolicy()
			tc.change(&p)
			wantInvalid(t, p.Validate(), tc.want...)
		})
	}
}

// Subject sets of every known type, each missing the id field it needs, in each place a policy holds them.
func TestAssignmentPolicyValidateSubjectSetsMissingTheirID(t *testing.T) {
	places := []struct {
		path string
		put  func(p *access.AssignmentPolicy, s access.SubjectSet)
	}{
		{"specificAllowedTargets[0]", func(p *access.AssignmentPolicy, s access.SubjectSet) {
			p.AllowedTargetScope = access.ScopeSpecificDirectoryUsers
			p.SpecificAllowedTargets = []access.SubjectSet{s}
		}},
		{"requestorSettings.onBehalfRequestors[0]", func(p *access.AssignmentPolicy, s access.SubjectSet) {
			p.RequestorSettings.OnBehalfRequestors = []access.SubjectSet{s}
		}},
		{"requestApprovalSettings.stages[0].primaryApprovers[0]", func(p *access.AssignmentPolicy, s access.SubjectSet) {
			p.RequestApprovalSettings.Stages[0].PrimaryApprovers = []access.SubjectSet{s}
		}},
		{"requestApprovalSettings.stages[0].escalationApprovers[0]", func(p *access.AssignmentPolicy, s access.SubjectSet) {
			st := &p.RequestApprovalSettings.Stages[0]
			st.IsEscalationEnabled, st.DurationBeforeEscalation = true, access.MustDuration("P1D")
			st.EscalationApprovers = []access.SubjectSet{s}
		}},
	}
	var types []string
	for typ, field := range access.SubjectSetTypes {
		if field != "" {
			types = append(types, typ)
		}
	}
	sort.Strings(types)
	if len(types) != 5 {
		t.Errorf("subject set types with an id field: %v, want singleUser, groupMembers, singleServicePrincipal, connectedOrganizationMembers, attributeRuleMembers", types)
	}
	for _, typ := range types {
		for _, place := range places {
			t.Run(typ+"/"+place.path, func(t *testing.T) {
				p := validPolicy()
				place.put(&p, access.SubjectSet{Type: typ, Description: "missing its id"})
				wantInvalid(t, p.Validate(), place.path+"."+access.SubjectSetTypes[typ], typ)
			})
		}
	}
}

func TestSubjectSetValidate(t *testing.T) {
	tests := []struct {
		name string
		s    access.SubjectSet
		want []string
	}{
		{"singleUser", access.SubjectSet{Type: "singleUser", UserID: "u1"}, nil},
		{"singleUser without userId", access.SubjectSet{Type: "singleUser", GroupID: "g1"}, []string{"p.userId"}},
		{"singleUser blank userId", access.SubjectSet{Type: "singleUser", UserID: " "}, []string{"p.userId"}},
		{"groupMembers", access.SubjectSet{Type: "groupMembers", GroupID: "g1"}, nil},
		{"groupMembers without groupId", access.SubjectSet{Type: "groupMembers", UserID: "u1"}, []string{"p.groupId"}},
		{"singleServicePrincipal", access.SubjectSet{Type: "singleServicePrincipal", ServicePrincipalID: "sp1"}, nil},
		{"singleServicePrincipal without id", access.SubjectSet{Type: "singleServicePrincipal"}, []string{"p.servicePrincipalId"}},
		{"connectedOrganizationMembers", access.SubjectSet{Type: "connectedOrganizationMembers", ConnectedOrganizationID: "o1"}, nil},
		{"connectedOrganizationMembers without id", access.SubjectSet{Type: "connectedOrganizationMembers"}, []string{"p.connectedOrganizationId"}},
		{"attributeRuleMembers", access.SubjectSet{Type: "attributeRuleMembers", MembershipRule: `user.department -eq "Sales"`}, nil},
		{"attributeRuleMembers without rule", access.SubjectSet{Type: "attributeRuleMembers"}, []string{"p.membershipRule"}},
		{"requestorManager managerLevel 0", access.SubjectSet{Type: "requestorManager", ManagerLevel: 0}, []string{"p.managerLevel"}},
		{"requestorManager managerLevel 1", access.SubjectSet{Type: "requestorManager", ManagerLevel: 1}, nil},
		{"requestorManager managerLevel 2", access.SubjectSet{Type: "requestorManager", ManagerLevel: 2}, nil},
		{"requestorManager managerLevel 3", access.SubjectSet{Type: "requestorManager", ManagerLevel: 3}, []string{"p.managerLevel"}},
		{"requestorManager managerLevel -1", access.SubjectSet{Type: "requestorManager", ManagerLevel: -1}, []string{"p.managerLevel"}},
		{"targetManager managerLevel 0", access.SubjectSet{Type: "targetManager"}, []string{"p.managerLevel"}},
		{"targetManager managerLevel 1", access.SubjectSet{Type: "targetManager", ManagerLevel: 1}, nil},
		{"targetManager managerLevel 3", access.SubjectSet{Type: "targetManager", ManagerLevel: 3}, []string{"p.managerLevel"}},
		{"internalSponsors", access.SubjectSet{Type: "internalSponsors"}, nil},
		{"externalSponsors", access.SubjectSet{Type: "externalSponsors"}, nil},
		{"targetUserSponsors", access.SubjectSet{Type: "targetUserSponsors"}, nil},
		{"targetApplicationOwners", access.SubjectSet{Type: "targetApplicationOwners"}, nil},
		{"targetAgentIdentitySponsorsOrOwners", access.SubjectSet{Type: "targetAgentIdentitySponsorsOrOwners"}, nil},
		{"unknown type", access.SubjectSet{Type: "allUsers"}, []string{"p:", `"allUsers"`}},
		{"namespaced type", access.SubjectSet{Type: "#microsoft.graph.singleUser", UserID: "u1"}, []string{"p:", "singleUser"}},
		{"no type", access.SubjectSet{UserID: "u1"}, []string{"p:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantInvalid(t, tc.s.Validate("p"), tc.want...) })
	}
	for typ := range access.SubjectSetTypes {
		if _, named := map[string]bool{"singleUser": true, "groupMembers": true, "singleServicePrincipal": true,
			"connectedOrganizationMembers": true, "attributeRuleMembers": true, "requestorManager": true, "targetManager": true,
			"internalSponsors": true, "externalSponsors": true, "targetUserSponsors": true, "targetApplicationOwners": true,
			"targetAgentIdentitySponsorsOrOwners": true}[typ]; !named {
			t.Errorf("SubjectSetTypes has %q, which this test does not cover", typ)
		}
	}
}

func TestAssignmentPolicyValidateBindings(t *testing.T) {
	request := access.CustomExtension{ID: "req", CatalogID: "cat1", Type: access.RequestWorkflowExtension}
	assignment := access.CustomExtension{ID: "asg", CatalogID: "cat1", Type: access.AssignmentWorkflowExtension}
	foreign := access.CustomExtension{ID: "far", CatalogID: "cat2", Type: access.RequestWorkflowExtension}
	known := map[string]access.CustomExtension{"req": request, "asg": assignment, "far": foreign}

	type row struct {
		name  string
		binds []access.ExtensionBinding
		want  []string
	}
	tests := []row{
		{"no bindings", nil, nil},
		{"extension missing", []access.ExtensionBinding{{Stage: access.StageRequestCreated, CustomExtensionID: "nope"}},
			[]string{"customExtensionStageSettings[0].customExtension", `"nope"`}},
		{"extension of another catalog", []access.ExtensionBinding{
			{Stage: access.StageRequestCreated, CustomExtensionID: "req"},
			{Stage: access.StageRequestGranted, CustomExtensionID: "far"},
		}, []string{"customExtensionStageSettings[1].customExtension", `"far"`, "another catalog"}},
		{"all request stages and both pre-expiration stages", []access.ExtensionBinding{
			{Stage: access.StageRequestCreated, CustomExtensionID: "req"},
			{Stage: access.StageRequestApproved, CustomExtensionID: "req"},
			{Stage: access.StageRequestGranted, CustomExtensionID: "req"},
			{Stage: access.StageFourteenDaysBeforeExpiry, CustomExtensionID: "asg"},
			{Stage: access.StageOneDayBeforeExpiry, CustomExtensionID: "asg"},
		}, nil},
	}
	allStages := []access.Stage{access.StageRequestCreated, access.StageRequestApproved, access.StageRequestGranted,
		access.StageRequestRemoved, access.StageFourteenDaysBeforeExpiry, access.StageOneDayBeforeExpiry}
	for _, st := range allStages {
		for _, x := range []access.CustomExtension{request, assignment} {
			b := []access.ExtensionBinding{{Stage: st, CustomExtensionID: x.ID}}
			name := fmt.Sprintf("%s at %s", x.Type, st)
			switch {
			case x.Type == access.RequestWorkflowExtension && st.IsRequestStage(),
				x.Type == access.AssignmentWorkflowExtension && !st.IsRequestStage():
				tests = append(tests, row{name, b, nil})
			case x.Type == access.AssignmentWorkflowExtension:
				tests = append(tests, row{name, b, []string{"customExtensionStageSettings[0]", "pre-expiration", string(st)}})
			default:
				tests = append(tests, row{name, b, []string{"customExtensionStageSettings[0]", "request stages", string(st)}})
			}
		}
	}
	tests = append(tests, row{"unknown stage", []access.ExtensionBinding{{Stage: "assignmentRequestDeterminingApprovalRequirements", CustomExtensionID: "req"}},
		[]string{"customExtensionStageSettings[0]"}})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validPolicy()
			p.ExtensionBindings = tc.binds
			wantInvalid(t, p.ValidateBindings(known), tc.want...)
		})
	}
}

func TestAssignmentPolicyNormalize(t *testing.T) {
	t.Run("fills defaults", func(t *testing.T) {
		p := access.AssignmentPolicy{
			RequestApprovalSettings: access.ApprovalSettings{IsApprovalRequiredForAdd: true,
				Stages: []access.ApprovalStage{{PrimaryApprovers: []access.SubjectSet{user("a")}}, {}}},
			Questions: []access.Question{{Text: "Why?"}, {Text: "Which?", Type: access.MultipleChoiceQuestion}},
		}
		p.Normalize()
		want := access.AssignmentPolicy{
			AllowedTargetScope: access.ScopeNotSpecified,
			Expiration:         access.Expiration{Type: access.ExpirationNotSpecified},
			RequestApprovalSettings: access.ApprovalSettings{IsApprovalRequiredForAdd: true,
				Stages: []access.ApprovalStage{
					{PrimaryApprovers: []access.SubjectSet{user("a")}, DurationBeforeAutomaticDenial: access.MustDuration("P14D"), ApproverInformationVisibility: "default"},
					{DurationBeforeAutomaticDenial: access.MustDuration("P14D"), ApproverInformationVisibility: "default"},
				}},
			Questions: []access.Question{{Text: "Why?", Type: access.TextInputQuestion}, {Text: "Which?", Type: access.MultipleChoiceQuestion}},
		}
		if diff := cmp.Diff(want, p); diff != "" {
			t.Errorf("Normalize (-want +got):\n%s", diff)
		}
	})
	t.Run("keeps given values", func(t *testing.T) {
		p := validPolicy()
		p.AllowedTargetScope = access.ScopeAllDirectoryServicePrincipals
		p.Expiration = access.Expiration{Type: access.ExpirationNone}
		p.RequestApprovalSettings.Stages[0].ApproverInformationVisibility = "notVisible"
		p.ReviewSettings = json.RawMessage(`{"isEnabled":false}`)
		want := validPolicy()
		want.AllowedTargetScope = access.ScopeAllDirectoryServicePrincipals
		want.Expiration = access.Expiration{Type: access.ExpirationNone}
		want.RequestApprovalSettings.Stages[0].ApproverInformationVisibility = "notVisible"
		want.ReviewSettings = json.RawMessage(`{"isEnabled":false}`)
		p.Normalize()
		if diff := cmp.Diff(want, p); diff != "" {
			t.Errorf("Normalize changed given values (-want +got):\n%s", diff)
		}
	})
	t.Run("is idempotent and makes a valid policy of a sparse one", func(t *testing.T) {
		p := access.AssignmentPolicy{DisplayName: "x", AccessPackageID: "pkg",
			RequestApprovalSettings: access.ApprovalSettings{IsApprovalRequiredForAdd: true,
				Stages: []access.ApprovalStage{{PrimaryApprovers: []access.SubjectSet{user("a")}}}},
			Questions: []access.Question{{Text: "Why?"}}}
		p.Normalize()
		once := p
		p.Normalize()
		if diff := cmp.Diff(once, p); diff != "" {
			t.Errorf("second Normalize changed (-first +second):\n%s", diff)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("normalized sparse policy: %v", err)
		}
	})
	if access.DefaultAutomaticDenial != access.MustDuration("P14D") {
		t.Errorf("DefaultAutomaticDenial = %v", access.DefaultAutomaticDenial)
	}
}

func TestApprovalRequired(t *testing.T) {
	for _, tc := range []struct {
		add, update, want bool
	}{{false, false, false}, {true, false, true}, {false, true, true}, {true, true, true}} {
		s := access.ApprovalSettings{IsApprovalRequiredForAdd: tc.add, IsApprovalRequiredForUpdate: tc.update}
		if got := s.ApprovalRequired(); got != tc.want {
			t.Errorf("add=%v update=%v: ApprovalRequired = %v", tc.add, tc.update, got)
		}
	}
}

func TestAllowedTargetScopeIsSpecific(t *testing.T) {
	specific := map[access.AllowedTargetScope]bool{access.ScopeSpecificDirectoryUsers: true,
		access.ScopeSpecificConnectedOrgUsers: true, access.ScopeSpecificDirectoryServicePrincipals: true}
	for _, s := range []access.AllowedTargetScope{access.ScopeNotSpecified, access.ScopeSpecificDirectoryUsers, access.ScopeSpecificConnectedOrgUsers,
		access.ScopeSpecificDirectoryServicePrincipals, access.ScopeAllMemberUsers, access.ScopeAllDirectoryUsers,
		access.ScopeAllDirectoryServicePrincipals, access.ScopeAllConfiguredConnectedOrgUsers, access.ScopeAllExternalUsers,
		access.ScopeAllDirectoryAgentIdentities} {
		if s.IsSpecific() != specific[s] {
			t.Errorf("%s.IsSpecific() = %v", s, s.IsSpecific())
		}
		if got, ok := access.ParseAllowedTargetScope(string(s)); !ok || got != s {
			t.Errorf("ParseAllowedTargetScope(%q) = %q, %v", s, got, ok)
		}
	}
}
