package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/accessd/accessd/access"
)

// resumeBody is the resume action's parameters; all three are optional.
type resumeBody struct {
	Source *string         `json:"source"`
	Type   *string         `json:"type"`
	Data   json.RawMessage `json:"data"`
}

// callbackDataFields are the properties of data that accessd reads; any
// other property inside data is ignored, since extensions send extra fields.
var callbackDataFields = map[string]func(*access.Callback) *string{
	"@odata.type":                        func(cb *access.Callback) *string { return &cb.DataType },
	"stage":                              func(cb *access.Callback) *string { return &cb.Stage },
	"customExtensionStageInstanceId":     func(cb *access.Callback) *string { return &cb.InstanceID },
	"customExtensionStageInstanceDetail": func(cb *access.Callback) *string { return &cb.Detail },
	"state":                              func(cb *access.Callback) *string { return &cb.State },
	"operationStatus":                    func(cb *access.Callback) *string { return &cb.OperationStatus },
}

// parseCallback reads a resume body. An empty body is a plain "continue".
func parseCallback(body []byte) (access.Callback, error) {
	var cb access.Callback
	if len(bytes.TrimSpace(body)) == 0 {
		return cb, nil
	}
	var in resumeBody
	err := decodeJSON(body, &in)
	if err != nil {
		return cb, err
	}
	cb.Source, cb.Type = str(in.Source), str(in.Type)
	if isNull(in.Data) {
		return cb, nil
	}
	var data map[string]json.RawMessage
	if err = json.Unmarshal(in.Data, &data); err != nil {
		return cb, access.Invalidf("property 'data' must be an object (customExtensionData)")
	}
	cb.HasData = true
	// Names match without regard to case, as everywhere else in a body:
	// extensions copy the callout's PascalCase names (State, Stage) back.
	// decodeJSON has already refused a name given twice.
	for sent, raw := range data {
		if strings.EqualFold(sent, "approvalStage") && !isNull(raw) {
			if cb.ApprovalStage, err = parseApprovalStageData(raw); err != nil {
				return cb, err
			}
			continue
		}
		for name, field := range callbackDataFields {
			if !strings.EqualFold(sent, name) || isNull(raw) {
				continue
			}
			if err := json.Unmarshal(raw, field(&cb)); err != nil {
				return cb, access.Invalidf("property 'data.%s' must be a string", sent)
			}
		}
	}
	if cb.DataType != "" {
		cb.DataType = typeName(cb.DataType)
	}
	return cb, nil
}

// parseApprovalStageData reads data.approvalStage, the stage an extension
// determined for a dynamic approval stage, with the policy's own stage
// parser. Unlike the rest of data its properties are checked strictly: a
// misspelt approver list must not silently leave the stage without one.
func parseApprovalStageData(raw json.RawMessage) (*access.ApprovalStage, error) {
	const path = "data.approvalStage"
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return nil, access.Invalidf("property '%s' must be an object (accessPackageApprovalStage)", path)
	}
	var in approvalStageWire
	if err := decodeJSON(raw, &in); err != nil {
		return nil, within(path, err)
	}
	st, err := in.toDomain(path)
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// within makes a 400 about a nested object's property name the property's
// full path: 'primaryApprovers' becomes 'data.approvalStage.primaryApprovers'.
func within(path string, err error) error {
	var e *access.Error
	if !errors.As(err, &e) || e.Kind != access.KindInvalid {
		return err
	}
	nested := *e
	if msg, ok := strings.CutPrefix(e.Message, "property '"); ok {
		nested.Message = "property '" + path + "." + msg
	} else {
		nested.Message = "property '" + path + "': " + e.Message
	}
	return &nested
}

// resume is the resume action on every route that has it. The route has
// checked the token and permission; the body is read here, and the service
// does the rest in one transaction, in the documented order of checks: the
// request exists (404) before the body's faults (400) are reported.
func (s *Server) resume(w http.ResponseWriter, r *http.Request, requestID, assignmentID string) error {
	call := access.ResumeCall{RequestID: requestID, AssignmentID: assignmentID}
	body, err := readBody(r)
	if err == nil {
		call.Callback, err = parseCallback(body)
	}
	call.BodyErr = err
	if err := s.svc.Resume(r.Context(), callerOf(r), call); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// reprocess answers 202 Accepted: the failed step runs again in the background.
func (s *Server) reprocess(w http.ResponseWriter, r *http.Request, requestID string) error {
	if err := s.svc.Reprocess(r.Context(), callerOf(r), requestID, readNoBody(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}
