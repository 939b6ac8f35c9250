package graph

import (
	"bytes"
	"encoding/json"
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
	if err := decodeJSON(body, &in); err != nil {
		return cb, err
	}
	cb.Source, cb.Type = str(in.Source), str(in.Type)
	if isNull(in.Data) {
		return cb, nil
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(in.Data, &data); err != nil {
		return cb, access.Invalidf("property 'data' must be an object (customExtensionData)")
	}
	cb.HasData = true
	// Names match without regard to case, as everywhere else in a body:
	// extensions copy the callout's PascalCase names (State, Stage) back.
	// decodeJSON has already refused a name given twice.
	for sent, raw := range data {
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

// resume is the resume action on every route that has it. The checks run in
// DESIGN.md §1.2's order: the route checked the token and permission; then
// the request must exist (404), then the body must be valid (400), then the
// service resolves the callout instance and the rest.
func (s *Server) resume(w http.ResponseWriter, r *http.Request, requestID, assignmentID string) error {
	req, err := s.svc.Request(r.Context(), requestID)
	if err != nil {
		return err
	}
	if assignmentID != "" && req.AssignmentID != assignmentID {
		return access.NotFoundf("assignment %q has no request %q", assignmentID, requestID)
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	cb, err := parseCallback(body)
	if err != nil {
		return err
	}
	if err := s.svc.Resume(r.Context(), callerOf(r), requestID, assignmentID, cb); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// reprocess answers 202 Accepted: the failed step runs again in the background.
func (s *Server) reprocess(w http.ResponseWriter, r *http.Request, requestID string) error {
	if err := readNoBody(r); err != nil {
		return err
	}
	if err := s.svc.Reprocess(r.Context(), callerOf(r), requestID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}
