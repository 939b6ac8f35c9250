package access

import "time"

// WorkKind names what a unit of work does.
type WorkKind string

const (
	// WorkCallout sends a callout to an extension (request or pre-expiration stage).
	WorkCallout WorkKind = "callout"
	// WorkStart continues a scheduled request at its start time.
	WorkStart WorkKind = "start"
	// WorkExpire ends an assignment at the end of its schedule with a systemRemove request.
	WorkExpire WorkKind = "expire"
	// WorkCallbackTimeout fails a request whose callback did not come in time.
	WorkCallbackTimeout WorkKind = "callbackTimeout"
	// WorkApprovalEscalation adds escalation approvers to a stage nobody decided.
	WorkApprovalEscalation WorkKind = "approvalEscalation"
	// WorkApprovalDeadline denies a request whose approval stage nobody decided in time.
	WorkApprovalDeadline WorkKind = "approvalDeadline"
	// WorkDeliver grants an assignment's resource roles through the provisioner.
	WorkDeliver WorkKind = "deliver"
	// WorkRevoke takes an ending assignment's resource roles away.
	WorkRevoke WorkKind = "revoke"
	// WorkPreExpiry marks an assignment 14 days or 1 day before its end, and
	// queues the pre-expiration callout when an extension is bound there.
	WorkPreExpiry WorkKind = "preExpiry"
)

// WorkKinds lists every kind of work, so that what reports on the queue
// shows each kind, an empty one too.
var WorkKinds = []WorkKind{WorkCallout, WorkStart, WorkExpire, WorkCallbackTimeout, WorkApprovalEscalation,
	WorkApprovalDeadline, WorkDeliver, WorkRevoke, WorkPreExpiry}

// requestTimers are the kinds of work that wait on a request's behalf and
// end when the request moves on.
var requestTimers = []WorkKind{WorkStart, WorkCallbackTimeout, WorkApprovalEscalation, WorkApprovalDeadline}

// Work is a row of the work queue: something to do at or after DueAt,
// stored in the same transaction as the change that causes it. The store
// claims it with a lease, so a crashed worker's work is done again by another.
type Work struct {
	ID           string   `json:"ID"`
	Kind         WorkKind `json:"Kind"`
	RequestID    string   `json:"RequestID"`    // the request it belongs to, if any
	AssignmentID string   `json:"AssignmentID"` // the assignment it belongs to, if any
	Stage        Stage    `json:"Stage"`        // for callouts and callback timeouts
	InstanceID   string   `json:"InstanceID"`   // the callout instance, stable across re-sends
	// ApprovalStepID is the approval stage an escalation or deadline belongs to.
	ApprovalStepID string    `json:"ApprovalStepID"`
	ExtensionID    string    `json:"ExtensionID"` // for callouts
	DueAt          time.Time `json:"DueAt"`
	Attempt        int       `json:"Attempt"` // how often accessd itself failed doing it (not callout attempts)

	// The request's state and status when the stage was reached, which the
	// callout payload reports even if the request has moved on since.
	RequestState  RequestState `json:"RequestState"`
	RequestStatus string       `json:"RequestStatus"`

	// LeaseOwner and LeaseUntil, when set on work being added, queue it
	// already leased: the transaction that queues a callout hands it to
	// the engine of its own process (Service.SetLocalEngine). Claims
	// return them empty.
	LeaseOwner string    `json:"-"`
	LeaseUntil time.Time `json:"-"`
}

// WorkKindStats is how much work of one kind is queued at an instant.
type WorkKindStats struct {
	Kind  WorkKind
	Due   int // due at or before the instant, claimed or not
	Later int // due after it
	// OldestDue is the earliest due time of the work that is due; zero
	// when none is. How long it has waited tells a stuck queue from a busy one.
	OldestDue time.Time
}

// Backoff is how long accessd waits before retrying work it failed to do
// itself (a busy database, a bug): 1 s, 2 s, 4 s … at most 5 minutes.
func Backoff(attempt int) time.Duration {
	if attempt > 8 {
		return 5 * time.Minute
	}
	d := time.Second << attempt
	if d > 5*time.Minute {
		d = 5 * time.Minute
	}
	return d
}

// CalloutAttempt is one HTTP call of a callout, as --dev mode lists them.
type CalloutAttempt struct {
	ID             string            `json:"ID"`
	ExtensionID    string            `json:"ExtensionID"`
	RequestID      string            `json:"RequestID"`
	AssignmentID   string            `json:"AssignmentID"`
	InstanceID     string            `json:"InstanceID"`
	Stage          Stage             `json:"Stage"`
	URL            string            `json:"URL"`
	Attempt        int               `json:"Attempt"`
	SentAt         time.Time         `json:"SentAt"`
	DurationMillis int64             `json:"DurationMillis"`
	RequestHeaders map[string]string `json:"RequestHeaders"`
	RequestBody    string            `json:"RequestBody"`
	ResponseStatus int               `json:"ResponseStatus"`
	ResponseBody   string            `json:"ResponseBody"` // the first 4 KiB
	Error          string            `json:"Error"`
}
