package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/accessd/accessd/access"
)

// The work queue. Times are kept to the microsecond (UnixMicro truncates).
// A row is claimable at now when it is due (due_us <= now) and no live
// lease holds it (lease_until_us IS NULL or lease_until_us <= now): a lease
// ends at the instant it runs until, and a due time begins at the instant it
// names. NextWorkAt reports the earliest such instant over all rows.

// AddWork inserts w; an id used before is a conflict. Every field of a
// Work is a column of its own (migration 00010): no document to encode.
//
// Other replicas hear of it only through AnnounceWork.
func (t *tx) AddWork(ws ...access.Work) error {
	if len(ws) == 0 {
		return nil
	}
	const columns = 14
	var q strings.Builder
	q.WriteString(`INSERT INTO work (id, kind, request_id, assignment_id, due_us, attempt, lease_owner, lease_until_us,
stage, instance_id, approval_step_id, extension_id, request_state, request_status) VALUES `)
	args := make([]any, 0, columns*len(ws))
	for i, w := range ws {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(" + marks(columns) + ")")
		var owner, until any
		if w.LeaseOwner != "" {
			owner, until = w.LeaseOwner, w.LeaseUntil.UnixMicro()
		}
		args = append(args, w.ID, string(w.Kind), w.RequestID, w.AssignmentID, w.DueAt.UnixMicro(), w.Attempt,
			owner, until, string(w.Stage), w.InstanceID, w.ApprovalStepID, w.ExtensionID, string(w.RequestState), w.RequestStatus)
	}
	_, err := t.exec(q.String(), args...)
	return err
}

// AnnounceWork has the commit NOTIFY the other replicas (dialect.notifyWork).
func (t *tx) AnnounceWork() { t.queuedWork = true }

const selectWork = `SELECT id, kind, request_id, assignment_id, due_us, attempt,
stage, instance_id, approval_step_id, extension_id, request_state, request_status FROM work`

func scanWork(s scanner) (access.Work, error) {
	var w access.Work
	var due int64
	err := s.Scan(&w.ID, (*string)(&w.Kind), &w.RequestID, &w.AssignmentID, &due, &w.Attempt,
		(*string)(&w.Stage), &w.InstanceID, &w.ApprovalStepID, &w.ExtensionID, (*string)(&w.RequestState), &w.RequestStatus)
	if err != nil {
		return w, err
	}
	w.DueAt = time.UnixMicro(due).UTC()
	return w, nil
}

// ClaimWork finds the claimable rows and leases them in the same
// transaction, so no other claimer can lease them until leaseUntil: on
// SQLite because writers take turns, on PostgreSQL through the dialect's
// claimSuffix (FOR UPDATE SKIP LOCKED).
func (t *tx) ClaimWork(now time.Time, owner string, leaseUntil time.Time, limit int) ([]access.Work, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	at, until := now.UnixMicro(), leaseUntil.UnixMicro()
	if until <= at {
		return nil, access.Internal(fmt.Errorf("sqlstore: a lease until %v would have ended at %v already", leaseUntil, now))
	}
	works, err := list(t, scanWork, selectWork+`
WHERE due_us <= ? AND (lease_until_us IS NULL OR lease_until_us <= ?)
ORDER BY due_us, id LIMIT ?`+t.dialect.claimSuffix, at, at, limit)
	if err != nil {
		return nil, err
	}
	if len(works) == 0 {
		return nil, nil
	}
	args := []any{owner, until}
	for _, w := range works {
		args = append(args, w.ID)
	}
	_, err = t.exec("UPDATE work SET lease_owner = ?, lease_until_us = ? WHERE id IN ("+marks(len(works))+")", args...)
	if err != nil {
		return nil, err
	}
	return works, nil
}

func (t *tx) DeleteWork(ids ...string) error {
	switch len(ids) {
	case 0:
		return nil
	case 1:
		_, err := t.exec("DELETE FROM work WHERE id = ?", ids[0])
		return err
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	_, err := t.exec("DELETE FROM work WHERE id IN ("+marks(len(ids))+")", args...)
	return err
}

func (t *tx) RenewLeases(owner string, ids []string, until time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{until.UnixMicro(), owner}
	for _, id := range ids {
		args = append(args, id)
	}
	_, err := t.exec("UPDATE work SET lease_until_us = ? WHERE lease_owner = ? AND id IN ("+marks(len(ids))+")", args...)
	return err
}

func (t *tx) ShiftLeases(from, to time.Time) error {
	_, err := t.exec("UPDATE work SET lease_until_us = lease_until_us + ? WHERE lease_until_us > ?",
		to.UnixMicro()-from.UnixMicro(), from.UnixMicro())
	return err
}

// RetryWork returns KindNotFound when the work is gone, for instance
// because DropWork removed it while it was leased.
func (t *tx) RetryWork(id string, dueAt time.Time, attempt int) error {
	n, err := t.execCount("UPDATE work SET due_us = ?, attempt = ?, lease_owner = NULL, lease_until_us = NULL WHERE id = ?",
		dueAt.UnixMicro(), attempt, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return access.NotFoundf("no work with id %q", id)
	}
	// The work may now be due before its lease would have ended: other
	// replicas that sleep until then should look again.
	t.queuedWork = true
	return nil
}

// DropWork removes leased rows too: a worker holding one finds it gone when
// it finishes (DeleteWork does not mind) or retries (RetryWork: not found).
// With both ids given, a row must belong to both.
func (t *tx) DropWork(requestID, assignmentID string, kinds ...access.WorkKind) error {
	if requestID == "" && assignmentID == "" {
		return access.Internal(errors.New("sqlstore: DropWork needs a request or an assignment"))
	}
	var c conds
	c.eq("request_id", requestID)
	c.eq("assignment_id", assignmentID)
	if len(kinds) > 0 {
		args := make([]any, len(kinds))
		for i, k := range kinds {
			args[i] = string(k)
		}
		c.add("kind IN ("+marks(len(kinds))+")", args...)
	}
	_, err := t.exec("DELETE FROM work WHERE "+c.where(), c.args...)
	return err
}

// DropRequestWork is one statement, whatever it removes: the transition
// that ends a wait removes the wait's deadline and its callout together.
func (t *tx) DropRequestWork(requestID string, kinds []access.WorkKind, calloutInstances []string) error {
	if requestID == "" {
		return access.Internal(errors.New("sqlstore: DropRequestWork needs a request"))
	}
	if len(kinds) == 0 && len(calloutInstances) == 0 {
		return nil
	}
	var or []string
	args := []any{requestID}
	if len(kinds) > 0 {
		or = append(or, "kind IN ("+marks(len(kinds))+")")
		for _, k := range kinds {
			args = append(args, string(k))
		}
	}
	if len(calloutInstances) > 0 {
		or = append(or, "(kind = ? AND instance_id IN ("+marks(len(calloutInstances))+"))")
		args = append(args, string(access.WorkCallout))
		for _, id := range calloutInstances {
			args = append(args, id)
		}
	}
	_, err := t.exec("DELETE FROM work WHERE request_id = ? AND ("+strings.Join(or, " OR ")+")", args...)
	return err
}

// NextWorkAt takes, for each row, the instant it becomes claimable: its due
// time, or for a leased row the later of its due time and its lease's end.
func (t *tx) NextWorkAt() (time.Time, bool, error) {
	var at sql.NullInt64
	err := t.queryRow(`SELECT MIN(CASE
WHEN lease_until_us IS NOT NULL AND lease_until_us > due_us THEN lease_until_us
ELSE due_us END) FROM work`).Scan(&at)
	if err != nil {
		return time.Time{}, false, t.fail(err)
	}
	if !at.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMicro(at.Int64).UTC(), true, nil
}

func (t *tx) CountWorkDue(now time.Time) (int, error) {
	return t.count("SELECT COUNT(*) FROM work WHERE due_us <= ?", now.UnixMicro())
}

// WorkStats groups the whole work table by kind: one pass over it, which
// a scrape every few seconds can afford even with a timer queued for
// every assignment.
func (t *tx) WorkStats(now time.Time) ([]access.WorkKindStats, error) {
	at := now.UnixMicro()
	rows, err := t.queryRows(`SELECT kind,
SUM(CASE WHEN due_us <= ? THEN 1 ELSE 0 END), COUNT(*), MIN(due_us)
FROM work GROUP BY kind ORDER BY kind`, at)
	if err != nil {
		return nil, t.fail(err)
	}
	defer rows.Close()
	var out []access.WorkKindStats
	for rows.Next() {
		var kind string
		var due, all int
		var oldest int64
		if err := rows.Scan(&kind, &due, &all, &oldest); err != nil {
			return nil, t.fail(err)
		}
		st := access.WorkKindStats{Kind: access.WorkKind(kind), Due: due, Later: all - due}
		if oldest <= at {
			st.OldestDue = time.UnixMicro(oldest).UTC()
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, t.fail(err)
	}
	return out, nil
}

// AddCalloutAttempts inserts every attempt; an id used before is a conflict.
func (t *tx) AddCalloutAttempts(as []access.CalloutAttempt) error {
	for _, a := range as {
		doc, err := t.encode(a)
		if err != nil {
			return err
		}
		if _, err := t.exec("INSERT INTO callout_attempts (id, extension_id, sent_us, doc) VALUES (?, ?, ?, ?)",
			a.ID, a.ExtensionID, a.SentAt.UnixMicro(), doc); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) CalloutAttempts(p access.Page) ([]access.CalloutAttempt, error) {
	q, args, err := newestFirstQuery("SELECT doc FROM callout_attempts", p)
	if err != nil {
		return nil, err
	}
	return list(t, scanDoc[access.CalloutAttempt], q, args...)
}

// ExtensionCalloutAttempts lists one extension's attempts, newest first:
// one range of the callout_attempts_extension index.
func (t *tx) ExtensionCalloutAttempts(extensionID string, p access.Page) ([]access.CalloutAttempt, error) {
	if err := checkLimit(p.Limit); err != nil {
		return nil, err
	}
	q, args := "SELECT doc FROM callout_attempts WHERE extension_id = ? ORDER BY id DESC LIMIT ?", []any{extensionID, p.Limit}
	if p.After != "" {
		q, args = "SELECT doc FROM callout_attempts WHERE extension_id = ? AND id < ? ORDER BY id DESC LIMIT ?", []any{extensionID, p.After, p.Limit}
	}
	return list(t, scanDoc[access.CalloutAttempt], q, args...)
}

// PruneCalloutAttempts deletes all but the newest keep attempts of an
// extension. The subquery finds the oldest id kept; with fewer attempts
// it finds none and nothing is deleted.
func (t *tx) PruneCalloutAttempts(extensionID string, keep int) error {
	if keep < 1 {
		return access.Internal(fmt.Errorf("sqlstore: keep %d is below 1", keep))
	}
	_, err := t.exec(`DELETE FROM callout_attempts WHERE extension_id = ? AND id < (
		SELECT id FROM callout_attempts WHERE extension_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
		extensionID, extensionID, keep-1)
	return err
}

// resetTables is every table ResetData empties: all but signing_keys,
// settings and goose's own, each before any table its foreign keys name.
var resetTables = []string{
	"request_approvers", "requests", "history", "work", "callout_attempts", "assignments",
	"policy_extension_bindings", "assignment_policies", "custom_extensions", "package_incompatibilities", "access_packages",
	"resources", "resource_requests", "app_role_assignments", "role_assignments", "catalogs",
	"group_relations", "groups", "users", "service_principals",
}

func (t *tx) ResetData() error {
	for _, table := range resetTables {
		if _, err := t.exec("DELETE FROM " + table); err != nil {
			return err
		}
	}
	return nil
}
