package graph

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/accessd/accessd/access"
)

// Self-service: the functions a signed-in user calls about their own
// access. filterByCurrentUser lists what concerns the caller;
// getApplicablePolicyRequirements says what a request for a package needs.
// Which policies let a user request is the service's rule.

// requirementsV1 is accessPackageAssignmentRequestRequirements in v1.0.
type requirementsV1 struct {
	PolicyID                         string         `json:"policyId"`
	PolicyDisplayName                string         `json:"policyDisplayName"`
	PolicyDescription                *string        `json:"policyDescription"`
	AllowCustomAssignmentSchedule    bool           `json:"allowCustomAssignmentSchedule"`
	IsApprovalRequiredForAdd         bool           `json:"isApprovalRequiredForAdd"`
	IsApprovalRequiredForUpdate      bool           `json:"isApprovalRequiredForUpdate"`
	IsRequestorJustificationRequired bool           `json:"isRequestorJustificationRequired"`
	Schedule                         scheduleWire   `json:"schedule"`
	Questions                        []questionWire `json:"questions"`
}

// requirementsBeta is the same in beta's names.
type requirementsBeta struct {
	PolicyID                              string         `json:"policyId"`
	PolicyDisplayName                     string         `json:"policyDisplayName"`
	PolicyDescription                     *string        `json:"policyDescription"`
	IsCustomAssignmentScheduleAllowed     bool           `json:"isCustomAssignmentScheduleAllowed"`
	IsApprovalRequired                    bool           `json:"isApprovalRequired"`
	IsApprovalRequiredForExtension        bool           `json:"isApprovalRequiredForExtension"`
	IsRequestorJustificationRequired      bool           `json:"isRequestorJustificationRequired"`
	Schedule                              scheduleWire   `json:"schedule"`
	Questions                             []questionWire `json:"questions"`
	ExistingAnswers                       []any          `json:"existingAnswers"`
	VerifiableCredentialRequirementStatus any            `json:"verifiableCredentialRequirementStatus"`
}

func requirementsOut(p access.AssignmentPolicy, beta bool) any {
	schedule := scheduleOut(access.Schedule{Expiration: p.Expiration})
	if beta {
		return requirementsBeta{PolicyID: p.ID, PolicyDisplayName: p.DisplayName, PolicyDescription: optional(p.Description),
			IsCustomAssignmentScheduleAllowed: p.RequestorSettings.AllowCustomAssignmentSchedule,
			IsApprovalRequired:                p.RequestApprovalSettings.IsApprovalRequiredForAdd,
			IsApprovalRequiredForExtension:    p.RequestApprovalSettings.IsApprovalRequiredForUpdate,
			IsRequestorJustificationRequired:  p.RequestApprovalSettings.IsRequestorJustificationRequired,
			Schedule:                          schedule, Questions: questionsOut(p.Questions), ExistingAnswers: []any{},
			VerifiableCredentialRequirementStatus: jsonNull}
	}
	return requirementsV1{PolicyID: p.ID, PolicyDisplayName: p.DisplayName, PolicyDescription: optional(p.Description),
		AllowCustomAssignmentSchedule:    p.RequestorSettings.AllowCustomAssignmentSchedule,
		IsApprovalRequiredForAdd:         p.RequestApprovalSettings.IsApprovalRequiredForAdd,
		IsApprovalRequiredForUpdate:      p.RequestApprovalSettings.IsApprovalRequiredForUpdate,
		IsRequestorJustificationRequired: p.RequestApprovalSettings.IsRequestorJustificationRequired,
		Schedule:                         schedule, Questions: questionsOut(p.Questions)}
}

// applicablePolicyRequirements is POST accessPackages/{id}/getApplicablePolicyRequirements:
// every policy of the package the caller may request it through, with its
// questions and schedule.
func (s *Server) applicablePolicyRequirements(pv packageVersion) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := readNoBody(r); err != nil {
			return err
		}
		policies, err := s.svc.ApplicablePolicies(r.Context(), callerOf(r), r.PathValue("id"))
		if err != nil {
			return err
		}
		out := make([]any, len(policies))
		for i, p := range policies {
			out[i] = requirementsOut(p, pv.version == "beta")
		}
		return s.writeList(w, r, contextURL(s.cfg.PublicURL, pv.version, "Collection(microsoft.graph.accessPackageAssignmentRequestRequirements)", false),
			out, "", false, nil)
	}
}

// packagesByCurrentUser is accessPackages/filterByCurrentUser(on='allowedRequestor'):
// the packages the caller may request, paged by id, and its /$count.
func (s *Server) packagesByCurrentUser(pv packageVersion) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		on, _, err := currentUserFilter(callSegment(r, "filterByCurrentUser"))
		if err != nil {
			return err
		}
		if !strings.EqualFold(on, "allowedRequestor") {
			return access.Invalidf("filterByCurrentUser(on='%s') is not supported on accessPackages; the supported value is on='allowedRequestor'", on)
		}
		pkgs, err := s.svc.RequestablePackages(r.Context(), callerOf(r))
		if err != nil {
			return err
		}
		if strings.HasSuffix(r.URL.Path, "/$count") {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(strconv.Itoa(len(pkgs))))
			return nil
		}
		// The package's own navigations; its incompatibilities may name
		// packages of catalogs the requestor has no business seeing.
		expandable := slices.DeleteFunc(slices.Clone(pv.expandable), func(name string) bool {
			return strings.HasPrefix(name, "incompatible") || strings.HasPrefix(name, "accessPackagesIncompatibleWith")
		})
		q, err := parseQuery(r, expandable...)
		if err != nil {
			return err
		}
		page, more := pageInIDOrder(pkgs, packageID, q.page())
		out := make([]any, len(page))
		seen := throughSeen(r) // a package one may request shows its catalog and policies
		for i, p := range page {
			if out[i], err = pv.shape(s, seen, p, q.expand); err != nil {
				return err
			}
		}
		return s.writeList(w, r, contextURL(s.cfg.PublicURL, pv.version, "Collection(microsoft.graph.accessPackage)", false), out,
			lastID(page, packageID), more, q.selectSet)
	}
}

// currentUserScope is the condition filterByCurrentUser's on value puts
// on requests or assignments, among the values set offers.
func currentUserScope(r *http.Request, set, on string, offered map[string]func(me string) *access.Cond) (*access.Cond, error) {
	for name, cond := range offered {
		if strings.EqualFold(name, on) {
			return cond(callerOf(r).ObjectID), nil
		}
	}
	names := make([]string, 0, len(offered))
	for name := range offered {
		names = append(names, "on='"+name+"'")
	}
	slices.Sort(names)
	return nil, access.Invalidf("filterByCurrentUser(on='%s') is not supported on %s; the supported values are %s", on, set, strings.Join(names, ", "))
}

var (
	requestsOfCurrentUser = map[string]func(string) *access.Cond{
		"target":    func(me string) *access.Cond { return fieldEquals("Target.ID", me) },
		"createdBy": func(me string) *access.Cond { return fieldEquals("Requestor.ID", me) },
		"targetOrRequestor": func(me string) *access.Cond {
			return &access.Cond{Op: access.OpOr, Args: []*access.Cond{fieldEquals("Target.ID", me), fieldEquals("Requestor.ID", me)}}
		},
		"approver": func(me string) *access.Cond { return fieldEquals(access.FieldApprover, me) },
		// accessd's own: the requests the caller approved a stage of, or
		// was asked to, that no longer wait for them (Graph offers no list
		// of an approver's past decisions).
		"approverHistory": func(me string) *access.Cond { return fieldEquals(access.FieldFormerApprover, me) },
	}
	assignmentsOfCurrentUser = map[string]func(string) *access.Cond{
		"target":    func(me string) *access.Cond { return fieldEquals("Target.ID", me) },
		"createdBy": func(me string) *access.Cond { return fieldEquals("RequestorID", me) },
	}
)
