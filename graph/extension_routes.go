package graph

import (
	"net/http"

	"github.com/accessd/accessd/access"
)

// The custom extension routes are the same in v1.0 and beta but for the names
// of the catalog set and the extension collection.
type extensionSet struct {
	version, catalogs, collection string
}

var (
	extensionsV1   = extensionSet{"v1.0", "catalogs", "customWorkflowExtensions"}
	extensionsBeta = extensionSet{"beta", "accessPackageCatalogs", "accessPackageCustomWorkflowExtensions"}
)

func (s *Server) extensionContext(xs extensionSet, catalogID string, entity bool) string {
	return s.emContext(xs.version, xs.catalogs+"('"+catalogID+"')/"+xs.collection, entity)
}

func (s *Server) listExtensions(xs extensionSet) handler {
	return serveList(s, storedList[access.CustomExtension]{
		fields: extensionFields,
		context: func(r *http.Request) string {
			return s.extensionContext(xs, r.PathValue("id"), false)
		},
		scope: underParent(asCaller(s.svc.Catalog), "CatalogID"),
		shape: func(_ *http.Request, x access.CustomExtension, _ expandSet) (any, error) {
			return customExtensionToWire(x), nil
		},
	})
}

func (s *Server) getExtension(xs extensionSet) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r)
		if err != nil {
			return err
		}
		catalogID := r.PathValue("id")
		x, err := s.svc.CustomExtension(r.Context(), callerOf(r), catalogID, r.PathValue("xid"))
		if err != nil {
			return err
		}
		return writeEntity(w, http.StatusOK, s.extensionContext(xs, catalogID, true), customExtensionToWire(x), q.selectSet)
	}
}

func decodeExtension(r *http.Request) (access.CustomExtension, error) {
	var in customExtensionInput
	if err := decodeBody(r, &in); err != nil {
		return access.CustomExtension{}, err
	}
	return in.toDomain()
}

func (s *Server) createExtension(xs extensionSet) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		catalogID := r.PathValue("id")
		x, err := decodeExtension(r)
		if err != nil {
			return err
		}
		if x, err = s.svc.CreateCustomExtension(r.Context(), callerOf(r), catalogID, x); err != nil {
			return err
		}
		return writeEntity(w, http.StatusCreated, s.extensionContext(xs, catalogID, true), customExtensionToWire(x), nil)
	}
}

// replaceExtension is PUT, which Graph answers with the updated object.
func (s *Server) replaceExtension(xs extensionSet) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		catalogID := r.PathValue("id")
		x, err := decodeExtension(r)
		if err != nil {
			return err
		}
		if x, err = s.svc.ReplaceCustomExtension(r.Context(), callerOf(r), catalogID, r.PathValue("xid"), x); err != nil {
			return err
		}
		return writeEntity(w, http.StatusOK, s.extensionContext(xs, catalogID, true), customExtensionToWire(x), nil)
	}
}

func (s *Server) deleteExtension(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteCustomExtension(r.Context(), callerOf(r), r.PathValue("id"), r.PathValue("xid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
