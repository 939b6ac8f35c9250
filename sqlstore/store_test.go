package sqlstore_test

import (
	"testing"

	"github.com/accessd/accessd/access/accesstest"
	"github.com/accessd/accessd/sqlstore/storetest"
)

// The conformance suite on both engines.
func TestStoreSuite(t *testing.T) {
	storetest.Each(t, accesstest.RunStoreSuite)
}
