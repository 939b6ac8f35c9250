package sqlstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/accessd/accessd/access"
)

// BenchmarkCountOpenRequestsReferencing is the check before an extension
// is deleted (migration 00013 made it read the open requests): 100,000 open
// requests, a tenth of them bound to the extension asked about.
func BenchmarkCountOpenRequestsReferencing(b *testing.B) {
	s := openTemp(b, Options{})
	ctx := context.Background()
	const requests = 100_000
	for start := 0; start < requests; start += 5_000 {
		err := s.Update(ctx, func(atx access.Tx) error {
			t := atx.(*tx)
			for i := start; i < start+5_000; i++ {
				refs := `["ext-other"]`
				if i%10 == 0 {
					refs = `["ext-asked","ext-other"]`
				}
				if _, err := t.exec(`INSERT INTO requests (id, request_type, state, target_id, access_package_id, policy_id,
assignment_id, catalog_id, is_open, created_us, extension_refs, doc) VALUES (?, 'adminAdd', 'submitted', ?, 'pkg', 'pol', '', 'cat', 1, ?, ?, '{}')`,
					fmt.Sprintf("req-%06d", i), fmt.Sprintf("user-%06d", i), i, refs); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		var n int
		err := s.View(ctx, func(tx access.Tx) error {
			var err error
			n, err = tx.CountOpenRequestsReferencing("ext-asked")
			return err
		})
		if err != nil || n != requests/10 {
			b.Fatalf("%d open requests counted (%v), want %d", n, err, requests/10)
		}
	}
}
