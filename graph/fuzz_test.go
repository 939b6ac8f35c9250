package graph

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/access/accesstest"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
)

// Fuzz targets of the query options. Their seed corpora are in
// testdata/fuzz; .ci/run runs each briefly:
//
//	go test ./graph -run '^$' -fuzz '^FuzzParseFilter$' -fuzztime 10s
//	go test ./graph -run '^$' -fuzz '^FuzzListQuery$' -fuzztime 10s

// FuzzParseFilter: the parser never panics, and returns either a condition
// that access.Query.Check accepts or an invalidRequest error.
func FuzzParseFilter(f *testing.F) {
	f.Add("displayName eq 'O''Brien' and (state in ('published','Unpublished') or not startswith(tolower(description),'x'))")
	tables := []wireFields{requestFieldsBeta, catalogFieldsBeta, assignmentFieldsV1, userFields}
	f.Fuzz(func(t *testing.T, expr string) {
		for _, fields := range tables {
			c, err := parseFilter(expr, fields)
			if err != nil {
				if access.KindOf(err) != access.KindInvalid {
					t.Fatalf("parseFilter(%q) on %s: %v, want an invalid-request error", expr, fields.noun, err)
				}
				continue
			}
			if c == nil {
				t.Fatalf("parseFilter(%q) on %s returned neither a condition nor an error", expr, fields.noun)
			}
			if err := (access.Query{Filter: c, Top: 1}).Check(access.FieldsOf[fields.noun]); err != nil {
				t.Fatalf("parseFilter(%q) on %s returned a condition Check refuses: %v", expr, fields.noun, err)
			}
		}
	})
}

// fuzzLists are the stored lists FuzzListQuery picks from, in a fixed order.
var fuzzLists = func() []wireFields {
	names := make([]string, 0, len(allWireFields))
	for name := range allWireFields {
		names = append(names, name)
	}
	slices.Sort(names)
	lists := make([]wireFields, len(names))
	for i, name := range names {
		lists[i] = allWireFields[name]
	}
	return lists
}()

// FuzzListQuery: the options of a call on a stored list are either refused
// with an invalid-request error or run on a real store (SQLite; the seed
// corpus on PostgreSQL too, with ACCESSD_TEST_STORE=postgres) without any
// other error, on the first page and on the next one its cursor names.
func FuzzListQuery(f *testing.F) {
	f.Add(0, "displayName eq 'a'", "displayName desc", "2", "", "", true)
	svc := fuzzStore(f)
	f.Fuzz(func(t *testing.T, list int, filter, orderby, top, skip, skiptoken string, count bool) {
		fields := fuzzLists[(list%len(fuzzLists)+len(fuzzLists))%len(fuzzLists)]
		values := url.Values{}
		for k, v := range map[string]string{"$filter": filter, "$orderby": orderby, "$top": top, "$skip": skip, "$skiptoken": skiptoken} {
			if v != "" {
				values.Set(k, v)
			}
		}
		if count {
			values.Set("$count", "true")
		}
		r := httptest.NewRequest("GET", "/v1.0/list?"+values.Encode(), nil)
		lq, err := parseListQuery(r, fields, nil, false)
		if err != nil {
			if access.KindOf(err) != access.KindInvalid {
				t.Fatalf("options %v on %s: %v, want an invalid-request error", values, fields.noun, err)
			}
			return
		}
		ctx := context.Background()
		found, err := access.Find[map[string]any](ctx, svc, fields.noun, lq.query)
		if err != nil {
			if access.KindOf(err) != access.KindInvalid {
				t.Fatalf("options %v on %s: the store failed: %v", values, fields.noun, err)
			}
			return
		}
		if found.Next.IsZero() {
			return
		}
		next := lq.query
		if next.After, err = decodeSkipToken(encodeSkipToken(lq.fingerprint, found.Next), lq.fingerprint, next.OrderBy, access.FieldsOf[fields.noun]); err != nil {
			t.Fatalf("options %v on %s: the next page's token is refused: %v", values, fields.noun, err)
		}
		if _, err := access.Find[map[string]any](ctx, svc, fields.noun, next); err != nil {
			t.Fatalf("options %v on %s: the store failed on the next page: %v", values, fields.noun, err)
		}
	})
}

// fuzzStore is a service on a fresh store with a few items of every list,
// some of them with empty and null values: SQLite when fuzzing, and the
// engine ACCESSD_TEST_STORE names when the seed corpus runs as a test.
func fuzzStore(f *testing.F) *access.Service {
	f.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := storetest.OpenStore(f, storetest.Backend(), sqlstore.Options{Logger: quiet})
	err := store.Update(context.Background(), func(tx access.Tx) error {
		var errs []error
		for i, id := range []string{"c-1", "c-2", "c-3"} {
			c := accesstest.NewCatalog(id)
			c.DisplayName = []string{"Sales", "o'brien", "ZETA"}[i]
			c.IsExternallyVisible = i == 1
			pkg := accesstest.NewAccessPackage("p-"+id, id)
			policy := accesstest.NewPolicy("pol-"+id, pkg)
			request := accesstest.NewRequest("r-"+id, policy, "u-1")
			if i == 2 {
				done := accesstest.Epoch.Add(time.Hour)
				request.CompletedDateTime, request.State = &done, access.StateDelivered
			}
			errs = append(errs, tx.PutCatalog(c), tx.PutAccessPackage(pkg), tx.PutAssignmentPolicy(policy), tx.PutRequest(request),
				tx.PutAssignment(accesstest.NewAssignment("a-"+id, policy, "u-1")),
				tx.PutCustomExtension(accesstest.NewExtension("x-"+id, id)),
				tx.PutResource(access.Resource{ID: "res-" + id, CatalogID: id, OriginID: "g-" + id, OriginSystem: access.OriginGroup, DisplayName: "Group"}),
				tx.AddResourceRequest(access.ResourceRequest{ID: "rr-" + id, Type: access.ResourceRequestAdd, State: access.ResourceRequestDone,
					CatalogID: id, ResourceID: "res-" + id, CreatedDateTime: accesstest.Epoch}),
				tx.PutUser(accesstest.NewUser("u-"+id)), tx.PutGroup(accesstest.NewGroup("g-"+id)),
				tx.PutServicePrincipal(accesstest.NewServicePrincipal("sp-"+id)))
		}
		return errors.Join(errs...)
	})
	if err != nil {
		f.Fatalf("store the fuzzed lists' items: %v", err)
	}
	return access.NewService(store, access.SystemClock{}, &access.TimeOrderedIDs{Clock: access.SystemClock{}})
}
