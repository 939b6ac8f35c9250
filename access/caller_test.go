package access_test

import (
	"slices"
	"testing"

	"github.com/accessd/accessd/access"
)

// The list is written out here rather than derived, so that a permission
// dropped from, or added to, the Permission values shows up as a failure
// someone has to look at.
func TestKnownPermissions(t *testing.T) {
	want := []string{
		"Application.Read.All", "Application.ReadWrite.All",
		"Directory.Read.All", "Directory.ReadWrite.All",
		"EntitlementManagement.Read.All", "EntitlementManagement.ReadWrite.All",
		"EntitlementMgmt-SubjectAccess.ReadWrite",
		"Group.Read.All", "Group.ReadWrite.All",
		"User.Read.All", "User.ReadWrite.All",
	}
	if got := access.KnownPermissions(); !slices.Equal(got, want) {
		t.Fatalf("KnownPermissions() = %q\nwant %q", got, want)
	}
}
