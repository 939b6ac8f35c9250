package sqlstore_test

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
	"github.com/google/go-cmp/cmp"
)

// The stored format: what the doc column of each table holds. Existing
// databases hold documents in this format, so a change to it, such as a
// renamed Go field, must show up here as a changed golden file in
// testdata/format, and such a change needs a migration of the stored data.

// update rewrites the golden files from what SQLite stores; PostgreSQL must then store the same.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/format (go test ./sqlstore -run TestStoredFormat -update)")

// storedDoc is one type of object the store keeps as JSON in a doc column:
// a fully populated value of it, how to store it and how to read it back.
type storedDoc struct {
	name  string // of the golden file, testdata/format/<name>.json
	table string
	id    string
	value any
	put   func(tx access.Tx) error
	get   func(tx access.Tx) (any, error)
}

// formatTime is the instant the fixtures use. It has whole microseconds,
// the precision of the time columns.
var formatTime = time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)

// storedDocs returns every type of stored document, each with every field
// set (TestStoredFixturesAreFull checks that), in a new copy on each call.
func storedDocs() []storedDoc {
	at := func(d time.Duration) *time.Time { t := formatTime.Add(d); return &t }
	number := func(n int) *int { return &n }
	subjectSet := func(prefix string) access.SubjectSet {
		return access.SubjectSet{Type: "singleUser", UserID: prefix + "-user", GroupID: prefix + "-group",
			ServicePrincipalID: prefix + "-sp", ConnectedOrganizationID: prefix + "-org", ManagerLevel: 2,
			Description: prefix + " description", MembershipRule: prefix + " rule"}
	}
	expiration := access.Expiration{Type: access.ExpirationAfterDuration, EndDateTime: at(90 * 24 * time.Hour),
		Duration: access.MustDuration("P1Y2M3DT4H5M6.5S")}
	approvalStage := access.ApprovalStage{
		Type:                            access.DynamicApprovalStage,
		CustomExtensionID:               "extension-1",
		DurationBeforeAutomaticDenial:   access.MustDuration("P14D"),
		IsApproverJustificationRequired: true,
		IsEscalationEnabled:             true,
		DurationBeforeEscalation:        access.MustDuration("P7D"),
		PrimaryApprovers:                []access.SubjectSet{subjectSet("primary")},
		FallbackPrimaryApprovers:        []access.SubjectSet{subjectSet("fallback-primary")},
		EscalationApprovers:             []access.SubjectSet{subjectSet("escalation")},
		FallbackEscalationApprovers:     []access.SubjectSet{subjectSet("fallback-escalation")},
		ApproverInformationVisibility:   "visible",
	}
	localized := []access.LocalizedText{{LanguageCode: "fr-FR", Text: "Pourquoi ?"}}
	subject := func(prefix string) access.Subject {
		return access.Subject{ID: prefix + "-id", Kind: access.SubjectUser, DisplayName: prefix + " name",
			PrincipalName: prefix + "@example.test", Email: prefix + "@mail.example.test"}
	}
	callout := func(prefix string) access.CalloutInstance {
		return access.CalloutInstance{ID: prefix + "-instance", CustomExtensionID: prefix + "-extension", ExtensionName: prefix + " extension",
			Stage: access.StageRequestCreated, Status: access.CallbackReceived, Detail: prefix + " detail",
			ExternalCorrelationID: prefix + "-correlation", Waits: true, Outcome: access.OutcomeContinue}
	}

	user := access.User{ID: "user-1", DisplayName: "Ann Example", UserPrincipalName: "ann@example.test",
		Mail: "ann@mail.example.test", MailNickname: "ann", AccountEnabled: true, ManagerID: "user-2"}
	group := access.Group{ID: "group-1", DisplayName: "Sales", Description: "Everyone in sales",
		MailNickname: "sales", SecurityEnabled: true, MailEnabled: true}
	sp := access.ServicePrincipal{ID: "sp-1", AppID: "app-1", DisplayName: "Payroll",
		AppRoles: []access.AppRole{{ID: "role-1", AllowedMemberTypes: []string{"User"}, Description: "Reads payroll",
			DisplayName: "Reader", IsEnabled: true, Value: "Payroll.Read"}}}
	catalog := access.Catalog{ID: "catalog-1", DisplayName: "Sales", Description: "Sales access",
		CatalogType: access.CatalogUserManaged, State: access.CatalogPublished, IsExternallyVisible: true,
		CreatedBy: "creator", ModifiedBy: "modifier", CreatedDateTime: formatTime, ModifiedDateTime: *at(time.Hour)}
	pkg := access.AccessPackage{ID: "package-1", CatalogID: "catalog-1", DisplayName: "Sales tools",
		Description: "CRM and reports", IsHidden: true,
		RoleScopes: []access.RoleScope{{ID: "role-scope-1", ResourceID: "resource-1", RoleID: "role-1", ScopeID: "scope-1",
			CreatedDateTime: formatTime}},
		IncompatiblePackages: []string{"package-2"}, IncompatibleGroups: []string{"group-2"},
		CreatedBy: "creator", ModifiedBy: "modifier", CreatedDateTime: formatTime, ModifiedDateTime: *at(time.Hour)}
	resource := access.Resource{ID: "resource-1", CatalogID: "catalog-1", OriginID: "group-1", OriginSystem: access.OriginGroup,
		DisplayName: "Sales team", Description: "Everyone in sales",
		Roles:           []access.ResourceRole{{ID: "role-1", OriginID: "Member_group-1", DisplayName: "Member", Description: "a member"}},
		Scopes:          []access.ResourceScope{{ID: "scope-1", OriginID: "group-1", DisplayName: "Root", Description: "Root Scope", IsRootScope: true}},
		CreatedDateTime: formatTime, ModifiedDateTime: *at(time.Hour)}
	resourceRequest := access.ResourceRequest{ID: "resource-request-1", Type: access.ResourceRequestAdd, State: access.ResourceRequestDone,
		Status: access.StatusFulfilled, CatalogID: "catalog-1", ResourceID: "resource-1", OriginID: "group-1",
		OriginSystem: access.OriginGroup, Justification: "sales needs it", Requestor: subject("requestor"), CreatedDateTime: formatTime}
	appRole := access.AppRoleAssignment{ID: "app-role-assignment-1", AppRoleID: "app-role-1", PrincipalID: "user-1",
		PrincipalType: "User", PrincipalDisplayName: "Ada", ResourceID: "sp-1", ResourceDisplayName: "CRM", CreatedDateTime: formatTime}
	role := access.RoleAssignment{ID: "role-assignment-1", PrincipalID: "user-1", RoleDefinitionID: access.RoleCatalogOwner,
		DirectoryScopeID: "/", AppScopeID: "/AccessPackageCatalog/catalog-1", CatalogID: "catalog-1", CreatedDateTime: formatTime}
	policy := access.AssignmentPolicy{
		ID:                     "policy-1",
		AccessPackageID:        "package-1",
		CatalogID:              "catalog-1",
		DisplayName:            "Employees",
		Description:            "Employees, 30 days",
		AllowedTargetScope:     access.ScopeSpecificDirectoryUsers,
		SpecificAllowedTargets: []access.SubjectSet{subjectSet("target")},
		Expiration:             expiration,
		RequestorSettings: access.RequestorSettings{
			EnableTargetsToSelfAddAccess:           true,
			EnableTargetsToSelfUpdateAccess:        true,
			EnableTargetsToSelfRemoveAccess:        true,
			AllowCustomAssignmentSchedule:          true,
			EnableOnBehalfRequestorsToAddAccess:    true,
			EnableOnBehalfRequestorsToUpdateAccess: true,
			EnableOnBehalfRequestorsToRemoveAccess: true,
			OnBehalfRequestors:                     []access.SubjectSet{subjectSet("on-behalf")},
		},
		RequestApprovalSettings: access.ApprovalSettings{IsApprovalRequiredForAdd: true,
			IsApprovalRequiredForUpdate: true, IsRequestorJustificationRequired: true,
			Stages: []access.ApprovalStage{approvalStage}},
		// Kept in columns of their own, byte for byte; the doc holds null.
		ReviewSettings:       []byte(`{"isEnabled": false}`),
		NotificationSettings: []byte(`{ "isAssignmentNotificationDisabled": true }`),
		ExtensionBindings: []access.ExtensionBinding{{ID: "binding-1", Stage: access.StageRequestCreated,
			CustomExtensionID: "extension-1"}},
		Questions: []access.Question{{
			ID:                         "question-1",
			Type:                       access.MultipleChoiceQuestion,
			Text:                       "Why?",
			Localizations:              localized,
			Sequence:                   1,
			IsRequired:                 true,
			IsAnswerEditable:           true,
			IsSingleLineQuestion:       true,
			RegexPattern:               "^[a-z]+$",
			Choices:                    []access.AnswerChoice{{ActualValue: "work", Text: "For work", Localizations: localized}},
			IsMultipleSelectionAllowed: true,
		}},
		CreatedDateTime:  formatTime,
		ModifiedDateTime: *at(time.Hour),
	}
	extension := access.CustomExtension{
		ID:          "extension-1",
		CatalogID:   "catalog-1",
		Type:        access.RequestWorkflowExtension,
		DisplayName: "Check the request",
		Description: "Asks an outside system",
		Endpoint: access.Endpoint{Type: access.LogicAppEndpoint, SubscriptionID: "subscription-1",
			ResourceGroupName: "group-1", LogicAppWorkflowName: "workflow-1",
			URL: "https://logic.example.test/trigger", TargetURL: "https://http.example.test/callout"},
		Authentication:       access.Authentication{Type: access.BearerTokenAuthentication, ResourceID: "api://resource-1"},
		Client:               &access.ClientConfiguration{TimeoutInMilliseconds: number(1500), MaximumRetries: number(1)},
		Callback:             &access.CallbackConfiguration{Type: access.CallbackConfigurationType, TimeoutDuration: access.MustDuration("PT1H")},
		CreatedBy:            "creator",
		LastModifiedBy:       "modifier",
		CreatedDateTime:      formatTime,
		LastModifiedDateTime: *at(time.Hour),
	}
	request := access.Request{
		ID:                "request-1",
		Type:              access.RequestAdminAdd,
		State:             access.StateSubmitted,
		Status:            access.StatusWaitingForCallback,
		CreatedDateTime:   formatTime,
		CompletedDateTime: at(2 * time.Hour),
		Justification:     "Needs the reports",
		Answers: []access.Answer{{QuestionID: "question-1", Value: "work", DisplayValue: "For work",
			QuestionType: access.MultipleChoiceQuestion, QuestionText: "What for?"}},
		Schedule:        access.Schedule{StartDateTime: at(time.Hour), Expiration: expiration},
		AccessPackageID: "package-1",
		PolicyID:        "policy-1",
		CatalogID:       "catalog-1",
		Target:          subject("target"),
		Requestor:       subject("requestor"),
		AssignmentID:    "assignment-1",
		Policy: access.PolicySnapshot{DisplayName: "Employees", ApprovalRequired: true,
			ApprovalStages: []access.ApprovalStage{approvalStage}, Expiration: expiration,
			Bindings: []access.StageBinding{{Stage: access.StageRequestCreated, ExtensionID: "extension-1", ExtensionName: "Ticketing",
				Waits: true, CallbackTimeout: access.MustDuration("PT1H")}}},
		Callouts: []access.CalloutInstance{callout("request")},
		Approval: []access.ApprovalStep{{ID: "approval-stage-1", Status: access.ApprovalCompleted, Settings: approvalStage,
			Approvers: []access.Subject{subject("approver")}, Escalated: true, StartedDateTime: at(time.Hour),
			ReviewResult: access.ReviewApproved, ReviewedBy: subject("approver"), ReviewedDateTime: at(2 * time.Hour),
			Justification: "fine by me"}},
		Step: access.StepCreated,
	}
	assignment := access.Assignment{
		ID:              "assignment-1",
		AccessPackageID: "package-1",
		PolicyID:        "policy-1",
		CatalogID:       "catalog-1",
		Target:          subject("target"),
		State:           access.AssignmentDelivered,
		Status:          access.StatusDelivered,
		Schedule:        access.Schedule{StartDateTime: at(time.Hour), Expiration: expiration},
		ExpiredDateTime: at(3 * time.Hour),
		Callouts:        []access.CalloutInstance{callout("assignment")},
		Grants: []access.Grant{{ResourceID: "resource-1", OriginSystem: access.OriginGroup, ResourceOriginID: "group-1",
			RoleOriginID: "Member_group-1", Status: access.GrantDelivered, HeldBefore: true, Error: "retried once",
			FirstAttemptAt: at(time.Minute)}},
		LastRequestID:   "request-1",
		RequestorID:     "requestor",
		CreatedDateTime: formatTime,
	}
	history := access.HistoryEntry{ID: "history-1", RequestID: "request-1", At: formatTime, ActorID: "actor-1",
		ActorName: "Admin", Action: "callback", Stage: access.StageRequestCreated, Source: "extension",
		Type: "accessPackageAssignmentRequestCallbackData", Detail: "looked fine", Outcome: "continue",
		State: access.StateSubmitted, Status: access.StatusAccepted}
	attempt := access.CalloutAttempt{ID: "attempt-1", ExtensionID: "extension-1", RequestID: "request-1",
		AssignmentID: "assignment-1", InstanceID: "request-instance", Stage: access.StageRequestCreated,
		URL: "https://logic.example.test/trigger", Attempt: 1, SentAt: formatTime, DurationMillis: 42,
		RequestHeaders: map[string]string{"Content-Type": "application/json"}, RequestBody: `{"Stage":"x"}`,
		ResponseStatus: 202, ResponseBody: "accepted", Error: "none really"}

	return []storedDoc{
		{"user", "users", user.ID, user,
			func(tx access.Tx) error { return tx.PutUser(user) },
			func(tx access.Tx) (any, error) { return tx.User(user.ID) }},
		{"group", "groups", group.ID, group,
			func(tx access.Tx) error { return tx.PutGroup(group) },
			func(tx access.Tx) (any, error) { return tx.Group(group.ID) }},
		{"service_principal", "service_principals", sp.ID, sp,
			func(tx access.Tx) error { return tx.PutServicePrincipal(sp) },
			func(tx access.Tx) (any, error) { return tx.ServicePrincipal(sp.ID) }},
		{"catalog", "catalogs", catalog.ID, catalog,
			func(tx access.Tx) error { return tx.PutCatalog(catalog) },
			func(tx access.Tx) (any, error) { return tx.Catalog(catalog.ID) }},
		{"access_package", "access_packages", pkg.ID, pkg,
			func(tx access.Tx) error { return tx.PutAccessPackage(pkg) },
			func(tx access.Tx) (any, error) { return tx.AccessPackage(pkg.ID) }},
		{"assignment_policy", "assignment_policies", policy.ID, policy,
			func(tx access.Tx) error { return tx.PutAssignmentPolicy(policy) },
			func(tx access.Tx) (any, error) { return tx.AssignmentPolicy(policy.ID) }},
		{"custom_extension", "custom_extensions", extension.ID, extension,
			func(tx access.Tx) error { return tx.PutCustomExtension(extension) },
			func(tx access.Tx) (any, error) { return tx.CustomExtension(extension.ID) }},
		{"request", "requests", request.ID, request,
			func(tx access.Tx) error { return tx.PutRequest(request) },
			func(tx access.Tx) (any, error) { return tx.Request(request.ID) }},
		{"assignment", "assignments", assignment.ID, assignment,
			func(tx access.Tx) error { return tx.PutAssignment(assignment) },
			func(tx access.Tx) (any, error) { return tx.Assignment(assignment.ID) }},
		{"history_entry", "history", history.ID, history,
			func(tx access.Tx) error { return tx.AddHistory(history) },
			func(tx access.Tx) (any, error) { return only(tx.History(history.RequestID, access.Page{Limit: 10})) }},
		{"resource", "resources", resource.ID, resource,
			func(tx access.Tx) error { return tx.PutResource(resource) },
			func(tx access.Tx) (any, error) { return tx.Resource(resource.ID) }},
		{"resource_request", "resource_requests", resourceRequest.ID, resourceRequest,
			func(tx access.Tx) error { return tx.AddResourceRequest(resourceRequest) },
			func(tx access.Tx) (any, error) { return tx.ResourceRequest(resourceRequest.ID) }},
		{"app_role_assignment", "app_role_assignments", appRole.ID, appRole,
			func(tx access.Tx) error { return tx.AddAppRoleAssignment(appRole) },
			func(tx access.Tx) (any, error) {
				return only(tx.AppRoleAssignments(appRole.ResourceID, "", access.Page{Limit: 10}))
			}},
		{"role_assignment", "role_assignments", role.ID, role,
			func(tx access.Tx) error { return tx.AddRoleAssignment(role) },
			func(tx access.Tx) (any, error) { return tx.RoleAssignment(role.ID) }},
		{"callout_attempt", "callout_attempts", attempt.ID, attempt,
			func(tx access.Tx) error { return tx.AddCalloutAttempts([]access.CalloutAttempt{attempt}) },
			func(tx access.Tx) (any, error) { return only(tx.CalloutAttempts(access.Page{Limit: 10})) }},
	}
}

// only returns the one element of a list.
func only[T any](list []T, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	if len(list) != 1 {
		return nil, fmt.Errorf("got %d objects, want 1", len(list))
	}
	return list[0], nil
}

// TestStoredFormat puts each type of document through a real store and
// compares its doc column byte for byte with the golden file. Then it
// stores the golden file as the doc, as a database written earlier would
// hold it, and reads the object back through the store, to check that
// documents in that format are still read as they were meant.
func TestStoredFormat(t *testing.T) {
	eachEngine(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		docs := storedDocs()
		err := s.Update(ctx, func(tx access.Tx) error {
			for _, d := range docs {
				if err := d.put(tx); err != nil {
					return fmt.Errorf("%s: %w", d.name, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		var tables []string
		for _, d := range docs {
			tables = append(tables, d.table)
		}
		slices.Sort(tables)
		if diff := cmp.Diff(docTables(t, s), tables); diff != "" {
			t.Errorf("the tables with a doc column (-) and those this test covers (+) differ: add the new type of document to storedDocs\n%s", diff)
		}

		for _, d := range docs {
			t.Run(d.name, func(t *testing.T) {
				path := filepath.Join("testdata", "format", d.name+".json")
				got := rawDoc(t, s, d)
				if *update && s.Engine() == storetest.SQLite {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				golden, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (create it with go test ./sqlstore -run TestStoredFormat -update)", err)
				}
				if !bytes.Equal(got, golden) {
					t.Errorf("the stored %s differs from %s (-golden +stored). Existing databases hold the golden "+
						"format: keep it, or migrate their data and then run go test ./sqlstore -run TestStoredFormat -update\n%s",
						d.name, path, cmp.Diff(indent(golden), indent(got)))
				}

				err = s.Update(ctx, func(tx access.Tx) error {
					return sqlstore.Exec(tx, "UPDATE "+d.table+" SET doc = ? WHERE id = ?", string(golden), d.id)
				})
				if err != nil {
					t.Fatal(err)
				}
				var read any
				err = s.Update(ctx, func(tx access.Tx) error { // Update: reading work claims it
					read, err = d.get(tx)
					return err
				})
				if err != nil {
					t.Fatalf("reading %s back: %v", path, err)
				}
				if diff := cmp.Diff(d.value, read); diff != "" {
					t.Errorf("%s read back (-fixture +read):\n%s", path, diff)
				}
			})
		}
	})
}

// rawDoc reads the doc column of d's row.
func rawDoc(t *testing.T, s *sqlstore.Store, d storedDoc) []byte {
	t.Helper()
	docs, err := sqlstore.Strings(s, "SELECT doc FROM "+d.table+" WHERE id = ?", d.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 {
		t.Fatalf("%d rows in %s have id %q, want 1", len(docs), d.table, d.id)
	}
	return []byte(docs[0])
}

// docTables lists the tables that have a doc column, by name.
func docTables(t *testing.T, s *sqlstore.Store) []string {
	t.Helper()
	query := `SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c
WHERE m.type = 'table' AND c.name = 'doc' ORDER BY m.name`
	if s.Engine() == storetest.Postgres {
		query = `SELECT table_name FROM information_schema.columns
WHERE table_schema = current_schema() AND column_name = 'doc' ORDER BY table_name`
	}
	tables, err := sqlstore.Strings(s, query)
	if err != nil {
		t.Fatal(err)
	}
	return tables
}

// indent spreads a JSON document over lines, so that a diff shows which
// fields differ; a document that is not JSON is returned as it is.
func indent(doc []byte) string {
	var b bytes.Buffer
	if err := json.Indent(&b, doc, "", "  "); err != nil {
		return string(doc)
	}
	return b.String()
}

// TestStoredFixturesAreFull checks that storedDocs sets every field, down
// through nested structs, pointers, slices and maps, so that the golden files
// cover every field.
func TestStoredFixturesAreFull(t *testing.T) {
	for _, d := range storedDocs() {
		v := reflect.ValueOf(d.value)
		checkFull(t, v, v.Type().String())
	}
}

func checkFull(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	if v.IsZero() || (v.Kind() == reflect.Slice || v.Kind() == reflect.Map) && v.Len() == 0 {
		t.Errorf("%s is empty in storedDocs: set it, so that the golden file shows how it is stored", path)
		return
	}
	if encodesItself(v.Type()) {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		checkFull(t, v.Elem(), path)
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			checkFull(t, v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			checkFull(t, it.Value(), fmt.Sprintf("%s[%v]", path, it.Key()))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				checkFull(t, v.Field(i), path+"."+f.Name)
			}
		}
	}
}

// TestStoredFieldsHaveJSONTags checks that every exported field of every
// stored struct, nested ones included, names its JSON key in a tag: the
// key is then chosen, not taken from the Go name, which a rename would
// change. A field stored before its tag was written keeps its Go name as key.
func TestStoredFieldsHaveJSONTags(t *testing.T) {
	seen := map[reflect.Type]bool{}
	for _, d := range storedDocs() {
		checkTags(t, reflect.TypeOf(d.value), seen)
	}
}

func checkTags(t *testing.T, typ reflect.Type, seen map[reflect.Type]bool) {
	t.Helper()
	switch typ.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		checkTags(t, typ.Elem(), seen)
		return
	case reflect.Map:
		checkTags(t, typ.Key(), seen)
		checkTags(t, typ.Elem(), seen)
		return
	case reflect.Struct:
	default:
		return
	}
	if seen[typ] || encodesItself(typ) {
		return
	}
	seen[typ] = true
	keys := map[string]string{} // JSON key, lower-cased as decoding matches it → Go field
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() && !f.Anonymous { // an embedded struct's fields are stored even if it is unexported
			continue
		}
		tag, _ := f.Tag.Lookup("json")
		key, _, _ := strings.Cut(tag, ",")
		if key == "" {
			t.Errorf("%s.%s has no json tag naming its key: a field already stored keeps its Go name, `json:\"%s\"`",
				typ, f.Name, f.Name)
			continue
		}
		if key == "-" {
			continue
		}
		if other, ok := keys[strings.ToLower(key)]; ok {
			t.Errorf("%s.%s and %s.%s are both read from the key %q", typ, other, typ, f.Name, key)
		}
		keys[strings.ToLower(key)] = f.Name
		checkTags(t, f.Type, seen)
	}
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// encodesItself reports whether a type writes its own JSON (time.Time,
// access.Duration, json.RawMessage), so that its fields are not stored.
func encodesItself(typ reflect.Type) bool {
	for _, u := range []reflect.Type{typ, reflect.PointerTo(typ)} {
		if u.Implements(jsonMarshaler) || u.Implements(textMarshaler) {
			return true
		}
	}
	return false
}
