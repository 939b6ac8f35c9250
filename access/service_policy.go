package access

import (
	"context"
	"reflect"
	"slices"
	"sort"
	"strconv"
)

// CreateCustomExtension stores a new extension on a catalog. No test callout
// is sent: accessd calls an extension only for a real stage.
func (s *Service) CreateCustomExtension(ctx context.Context, by Caller, catalogID string, x CustomExtension) (CustomExtension, error) {
	x.CatalogID = catalogID
	if err := x.Validate(); err != nil {
		return CustomExtension{}, err
	}
	now := s.Now()
	x.ID = s.newID(x.ID)
	x.CreatedBy, x.LastModifiedBy = by.Name(), by.Name()
	x.CreatedDateTime, x.LastModifiedDateTime = now, now
	err := s.update(ctx, func(tx Tx) error {
		if err := tx.Lock(catalogLock(catalogID), idLock("customExtension", x.ID)); err != nil {
			return err
		}
		if _, err := catalogFor(tx, by, catalogID); err != nil {
			return err
		}
		if err := by.authorize(catalogID); err != nil {
			return err
		}
		if _, err := tx.CustomExtension(x.ID); err == nil {
			return Conflictf("a custom extension with id %q already exists", x.ID)
		}
		return tx.PutCustomExtension(x)
	})
	return x, err
}

// CustomExtension reads one extension of a catalog; one of another catalog is not found.
func (s *Service) CustomExtension(ctx context.Context, by Caller, catalogID, id string) (CustomExtension, error) {
	return get(ctx, s, func(tx Tx) (CustomExtension, error) { return extensionIn(tx, by, catalogID, id) })
}

func extensionIn(tx Tx, by Caller, catalogID, id string) (CustomExtension, error) {
	if _, err := catalogFor(tx, by, catalogID); err != nil {
		return CustomExtension{}, err
	}
	x, err := tx.CustomExtension(id)
	if err != nil {
		return CustomExtension{}, err
	}
	if x.CatalogID != catalogID {
		return CustomExtension{}, NotFoundf("no custom extension with id %q in catalog %q", id, catalogID)
	}
	return x, nil
}

// CustomExtensions lists the extensions of a catalog.
func (s *Service) CustomExtensions(ctx context.Context, catalogID string, p Page) ([]CustomExtension, bool, error) {
	return list(ctx, s, p, func(tx Tx, p Page) ([]CustomExtension, error) {
		if _, err := tx.Catalog(catalogID); err != nil {
			return nil, err
		}
		return tx.CustomExtensions(catalogID, p)
	})
}

// ReplaceCustomExtension is PUT: the body replaces the extension. Its type
// cannot change, because policies bind it to stages of that type.
func (s *Service) ReplaceCustomExtension(ctx context.Context, by Caller, catalogID, id string, x CustomExtension) (CustomExtension, error) {
	x.ID, x.CatalogID = id, catalogID
	if err := x.Validate(); err != nil {
		return CustomExtension{}, err
	}
	err := s.update(ctx, func(tx Tx) error {
		if err := tx.Lock(catalogLock(catalogID)); err != nil {
			return err
		}
		old, err := extensionIn(tx, by, catalogID, id)
		if err != nil {
			return err
		}
		if err := by.authorize(catalogID); err != nil {
			return err
		}
		if old.Type != x.Type {
			return Invalidf("@odata.type cannot change from %s to %s", old.Type, x.Type)
		}
		x.CreatedBy, x.CreatedDateTime = old.CreatedBy, old.CreatedDateTime
		x.LastModifiedBy, x.LastModifiedDateTime = by.Name(), s.Now()
		return tx.PutCustomExtension(x)
	})
	return x, err
}

// DeleteCustomExtension removes an extension no policy binds.
func (s *Service) DeleteCustomExtension(ctx context.Context, by Caller, catalogID, id string) error {
	return s.update(ctx, func(tx Tx) error {
		if err := tx.Lock(catalogLock(catalogID)); err != nil {
			return err
		}
		if _, err := extensionIn(tx, by, catalogID, id); err != nil {
			return err
		}
		if err := by.authorize(catalogID); err != nil {
			return err
		}
		n, err := tx.CountPoliciesBinding(id)
		if err != nil {
			return err
		}
		if n > 0 {
			return Conflictf("custom extension %q is bound to %d assignment polic(ies); remove it from their customExtensionStageSettings first", id, n)
		}
		if n, err = tx.CountOpenRequestsReferencing(id); err != nil {
			return err
		}
		if n > 0 {
			return Conflictf("custom extension %q is referenced by %d open request(s); it can be deleted once they finish", id, n)
		}
		return tx.DeleteCustomExtension(id)
	})
}

// CreateAssignmentPolicy stores a new policy for an existing access package.
func (s *Service) CreateAssignmentPolicy(ctx context.Context, by Caller, p AssignmentPolicy) (AssignmentPolicy, error) {
	now := s.Now()
	p.ID = s.newID(p.ID)
	p.CreatedDateTime, p.ModifiedDateTime = now, now
	err := s.update(ctx, func(tx Tx) error {
		if err := tx.Lock(idLock("assignmentPolicy", p.ID)); err != nil {
			return err
		}
		if p.AccessPackageID != "" {
			if err := lockPackage(tx, p.AccessPackageID); err != nil {
				return err
			}
			pkg, err := packageFor(tx, by, p.AccessPackageID)
			if err != nil {
				return referencedAt("accessPackage.id", err)
			}
			if err := by.authorize(pkg.CatalogID); err != nil {
				return err
			}
		}
		if _, err := tx.AssignmentPolicy(p.ID); err == nil {
			return Conflictf("an assignment policy with id %q already exists", p.ID)
		}
		return s.putPolicy(tx, &p)
	})
	return p, err
}

// ReplaceAssignmentPolicy is PUT: the body replaces the whole policy, so an
// empty customExtensionStageSettings removes every binding.
func (s *Service) ReplaceAssignmentPolicy(ctx context.Context, by Caller, id string, p AssignmentPolicy) (AssignmentPolicy, error) {
	err := s.update(ctx, func(tx Tx) error {
		if err := lockPolicy(tx, id); err != nil {
			return err
		}
		old, err := policyFor(tx, by, id)
		if err != nil {
			return err
		}
		if err := by.authorize(old.CatalogID); err != nil {
			return err
		}
		p.ID = id
		if p.AccessPackageID == "" {
			p.AccessPackageID = old.AccessPackageID
		}
		if p.AccessPackageID != old.AccessPackageID {
			return Invalidf("accessPackage cannot change: a policy belongs to one access package")
		}
		p.CreatedDateTime, p.ModifiedDateTime = old.CreatedDateTime, s.Now()
		return s.putPolicy(tx, &p)
	})
	return p, err
}

// putPolicy checks a policy against its package, the extensions it binds and
// the directory objects it names, fills generated ids, and stores it.
func (s *Service) putPolicy(tx Tx, p *AssignmentPolicy) error {
	*p = p.withOwnSlices()
	p.Normalize()
	if err := p.Validate(); err != nil {
		return err
	}
	if err := p.Expiration.checkEnd("expiration", s.Now()); err != nil {
		return err
	}
	pkg, err := tx.AccessPackage(p.AccessPackageID)
	if err != nil {
		return referencedAt("accessPackage.id", err)
	}
	p.CatalogID = pkg.CatalogID
	extensions := map[string]CustomExtension{}
	for _, ref := range p.ExtensionReferences() {
		x, err := tx.CustomExtension(ref.ExtensionID)
		if IsNotFound(err) {
			continue // ValidateBindings names the missing one
		}
		if err != nil {
			return err
		}
		extensions[x.ID] = x
	}
	if err := p.ValidateBindings(extensions); err != nil {
		return err
	}
	if err := checkSubjectReferences(tx, *p); err != nil {
		return err
	}
	for i := range p.ExtensionBindings {
		p.ExtensionBindings[i].ID = s.newID(p.ExtensionBindings[i].ID)
	}
	for i := range p.Questions {
		p.Questions[i].ID = s.newID(p.Questions[i].ID)
	}
	return tx.PutAssignmentPolicy(*p)
}

// withOwnSlices copies the slices that Normalize and id generation write
// into, so that the caller's policy is never changed behind its back.
func (p AssignmentPolicy) withOwnSlices() AssignmentPolicy {
	p.ExtensionBindings = slices.Clone(p.ExtensionBindings)
	p.Questions = slices.Clone(p.Questions)
	p.RequestApprovalSettings.Stages = slices.Clone(p.RequestApprovalSettings.Stages)
	return p
}

// checkSubjectReferences makes sure every user, group and service principal a
// policy names exists, so that approvals and targeting never meet a dangling id.
func checkSubjectReferences(tx Tx, p AssignmentPolicy) error {
	named := map[string][]SubjectSet{
		"specificAllowedTargets":               p.SpecificAllowedTargets,
		"requestorSettings.onBehalfRequestors": p.RequestorSettings.OnBehalfRequestors,
	}
	for i, st := range p.RequestApprovalSettings.Stages {
		path := "requestApprovalSettings.stages[" + strconv.Itoa(i) + "]."
		named[path+"primaryApprovers"] = st.PrimaryApprovers
		named[path+"fallbackPrimaryApprovers"] = st.FallbackPrimaryApprovers
		named[path+"escalationApprovers"] = st.EscalationApprovers
		named[path+"fallbackEscalationApprovers"] = st.FallbackEscalationApprovers
	}
	paths := make([]string, 0, len(named))
	for path := range named {
		paths = append(paths, path)
	}
	sort.Strings(paths) // the same policy always gets the same answer
	for _, path := range paths {
		for i, set := range named[path] {
			at := path + "[" + strconv.Itoa(i) + "]"
			var err error
			switch {
			case set.UserID != "":
				at += ".userId"
				_, err = tx.User(set.UserID)
			case set.GroupID != "":
				at += ".groupId"
				_, err = tx.Group(set.GroupID)
			case set.ServicePrincipalID != "":
				at += ".servicePrincipalId"
				_, err = tx.ServicePrincipal(set.ServicePrincipalID)
			}
			if err != nil {
				return referencedAt(at, err)
			}
		}
	}
	return nil
}

// AssignmentPolicy reads one policy the caller may see.
func (s *Service) AssignmentPolicy(ctx context.Context, by Caller, id string) (AssignmentPolicy, error) {
	return get(ctx, s, func(tx Tx) (AssignmentPolicy, error) { return policyFor(tx, by, id) })
}

// policyFor reads a policy the caller may see; others are not found.
func policyFor(tx Tx, by Caller, id string) (AssignmentPolicy, error) {
	p, err := tx.AssignmentPolicy(id)
	if err == nil && !by.Sees(p.CatalogID) {
		return AssignmentPolicy{}, NotFoundf("no assignment policy with id %q", id)
	}
	return p, err
}

// AssignmentPolicies lists the policies of one package, or all when accessPackageID is "".
func (s *Service) AssignmentPolicies(ctx context.Context, accessPackageID string, p Page) ([]AssignmentPolicy, bool, error) {
	return list(ctx, s, p, func(tx Tx, p Page) ([]AssignmentPolicy, error) {
		if accessPackageID != "" {
			if _, err := tx.AccessPackage(accessPackageID); err != nil {
				return nil, err
			}
		}
		return tx.AssignmentPolicies(accessPackageID, p)
	})
}

// DeleteAssignmentPolicy removes a policy that no open request and no active
// assignment uses.
func (s *Service) DeleteAssignmentPolicy(ctx context.Context, by Caller, id string) error {
	return s.update(ctx, func(tx Tx) error {
		if err := lockPolicy(tx, id); err != nil {
			return err
		}
		p, err := policyFor(tx, by, id)
		if err != nil {
			return err
		}
		if err := by.authorize(p.CatalogID); err != nil {
			return err
		}
		n, err := tx.CountOpenRequests(RequestFilter{PolicyID: id})
		if err != nil {
			return err
		}
		if n > 0 {
			return Conflictf("assignment policy %q has %d open request(s)", id, n)
		}
		if n, err = tx.CountAssignments(AssignmentFilter{PolicyID: id, Active: true}); err != nil {
			return err
		}
		if n > 0 {
			return Conflictf("assignment policy %q has %d active assignment(s); remove them first", id, n)
		}
		return tx.DeleteAssignmentPolicy(id)
	})
}

// sameExceptAudit compares two objects after copying the audit fields of old
// into new; the seed uses it to leave unchanged objects untouched.
func sameExceptAudit[T any](old, new T, copyAudit func(from T, to *T)) bool {
	copyAudit(old, &new)
	return reflect.DeepEqual(old, new)
}
