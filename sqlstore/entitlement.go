package sqlstore

import (
	"database/sql"
	"fmt"

	"github.com/accessd/accessd/access"
	json "github.com/segmentio/encoding/json"
)

var (
	upsertCatalog       = upsert("catalogs", "id", "display_name", "doc")
	upsertAccessPackage = upsert("access_packages", "id", "catalog_id", "display_name", "doc")
	upsertPolicy        = upsert("assignment_policies", "id", "access_package_id", "catalog_id", "display_name",
		"review_settings", "notification_settings", "doc")
	upsertExtension = upsert("custom_extensions", "id", "catalog_id", "display_name", "doc")
)

func (t *tx) Catalog(id string) (access.Catalog, error) {
	return getCached(t, scanDoc[access.Catalog], access.NotFoundf("no catalog with id %q", id), 1,
		"SELECT doc FROM catalogs WHERE id = ?", id)
}

func (t *tx) Catalogs(p access.Page) ([]access.Catalog, error) {
	return listPage[access.Catalog](t, "catalogs", "", "", p)
}

func (t *tx) PutCatalog(c access.Catalog) error {
	doc, err := t.encode(c)
	if err != nil {
		return err
	}
	_, err = t.exec(upsertCatalog, c.ID, c.DisplayName, doc)
	return err
}

func (t *tx) DeleteCatalog(id string) error {
	return t.deleteByID("catalogs", id, access.NotFoundf("no catalog with id %q", id))
}

func (t *tx) AccessPackage(id string) (access.AccessPackage, error) {
	return getCached(t, scanDoc[access.AccessPackage], access.NotFoundf("no access package with id %q", id), 1,
		"SELECT doc FROM access_packages WHERE id = ?", id)
}

func (t *tx) AccessPackages(catalogID string, p access.Page) ([]access.AccessPackage, error) {
	return listPage[access.AccessPackage](t, "access_packages", "catalog_id", catalogID, p)
}

func (t *tx) CountAccessPackages(catalogID string) (int, error) {
	return t.countRows("access_packages", "catalog_id", catalogID)
}

func (t *tx) PutAccessPackage(p access.AccessPackage) error {
	doc, err := t.encode(p)
	if err != nil {
		return err
	}
	if _, err = t.exec(upsertAccessPackage, p.ID, p.CatalogID, p.DisplayName, doc); err != nil {
		return err
	}
	return t.putIncompatibilities(p)
}

// DeleteAccessPackage also forgets what the package was incompatible with;
// other packages that list it keep their lists, as Graph does.
func (t *tx) DeleteAccessPackage(id string) error {
	if _, err := t.exec("DELETE FROM package_incompatibilities WHERE package_id = ?", id); err != nil {
		return err
	}
	return t.deleteByID("access_packages", id, access.NotFoundf("no access package with id %q", id))
}

// A policy's reviewSettings and notificationSettings live in columns of
// their own, byte for byte as the client sent them: inside doc,
// encoding/json would compact them and turn an absent value into "null".
const selectPolicy = "SELECT doc, review_settings, notification_settings FROM assignment_policies"

func scanPolicy(s scanner) (access.AssignmentPolicy, error) {
	var doc []byte
	var review, notification sql.NullString
	if err := s.Scan(&doc, &review, &notification); err != nil {
		return access.AssignmentPolicy{}, err
	}
	var p access.AssignmentPolicy
	if err := json.Unmarshal(doc, &p); err != nil {
		return p, fmt.Errorf("decode stored policy: %w", err)
	}
	p.ReviewSettings, p.NotificationSettings = rawJSON(review), rawJSON(notification)
	return p, nil
}

func rawJSON(s sql.NullString) json.RawMessage {
	if !s.Valid {
		return nil
	}
	return json.RawMessage(s.String)
}

func nullableJSON(m json.RawMessage) sql.NullString {
	return sql.NullString{String: string(m), Valid: m != nil}
}

func (t *tx) AssignmentPolicy(id string) (access.AssignmentPolicy, error) {
	return getCached(t, scanPolicy, access.NotFoundf("no assignment policy with id %q", id), 3, selectPolicy+" WHERE id = ?", id)
}

func (t *tx) AssignmentPolicies(accessPackageID string, p access.Page) ([]access.AssignmentPolicy, error) {
	where, args := "", []any(nil)
	if accessPackageID != "" {
		where, args = "access_package_id = ?", []any{accessPackageID}
	}
	q, args, err := pageQuery(selectPolicy, "id", where, p, args...)
	if err != nil {
		return nil, err
	}
	return list(t, scanPolicy, q, args...)
}

func (t *tx) CountAssignmentPolicies(accessPackageID string) (int, error) {
	return t.countRows("assignment_policies", "access_package_id", accessPackageID)
}

func (t *tx) CountPoliciesBinding(extensionID string) (int, error) {
	// A policy may bind one extension at several stages; it counts once.
	return t.count("SELECT COUNT(DISTINCT policy_id) FROM policy_extension_bindings WHERE extension_id = ?", extensionID)
}

func (t *tx) PutAssignmentPolicy(p access.AssignmentPolicy) error {
	review, notification := nullableJSON(p.ReviewSettings), nullableJSON(p.NotificationSettings)
	p.ReviewSettings, p.NotificationSettings = nil, nil
	doc, err := t.encode(p)
	if err != nil {
		return err
	}
	if _, err := t.exec(upsertPolicy, p.ID, p.AccessPackageID, p.CatalogID, p.DisplayName, review, notification, doc); err != nil {
		return err
	}
	if _, err := t.exec("DELETE FROM policy_extension_bindings WHERE policy_id = ?", p.ID); err != nil {
		return err
	}
	// stage holds where the policy names the extension: a stage, or a
	// dynamic approval stage ("approvalStage2").
	for _, ref := range p.ExtensionReferences() {
		if _, err := t.exec("INSERT INTO policy_extension_bindings (policy_id, stage, extension_id) VALUES (?, ?, ?)",
			p.ID, ref.Place, ref.ExtensionID); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) DeleteAssignmentPolicy(id string) error {
	if _, err := t.exec("DELETE FROM policy_extension_bindings WHERE policy_id = ?", id); err != nil {
		return err
	}
	return t.deleteByID("assignment_policies", id, access.NotFoundf("no assignment policy with id %q", id))
}

func (t *tx) CustomExtension(id string) (access.CustomExtension, error) {
	return getCached(t, scanDoc[access.CustomExtension], access.NotFoundf("no custom extension with id %q", id), 1,
		"SELECT doc FROM custom_extensions WHERE id = ?", id)
}

func (t *tx) CustomExtensions(catalogID string, p access.Page) ([]access.CustomExtension, error) {
	return listPage[access.CustomExtension](t, "custom_extensions", "catalog_id", catalogID, p)
}

func (t *tx) PutCustomExtension(x access.CustomExtension) error {
	doc, err := t.encode(x)
	if err != nil {
		return err
	}
	_, err = t.exec(upsertExtension, x.ID, x.CatalogID, x.DisplayName, doc)
	return err
}

func (t *tx) DeleteCustomExtension(id string) error {
	return t.deleteByID("custom_extensions", id, access.NotFoundf("no custom extension with id %q", id))
}
