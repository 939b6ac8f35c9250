package graph

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/accessd/accessd/access"
)

// maxBody is the largest body accepted, measured after decompression.
const maxBody = 1 << 20

// readBody returns the request body as JSON bytes, enforcing the Graph rules:
// JSON or no Content-Type, optional gzip, at most 1 MiB once decompressed.
func readBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, access.E(access.KindUnsupportedMedia, "Content-Type %q is not supported; send application/json", ct)
		}
	}
	var src io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		// Bound the compressed stream too, so a client cannot make us read forever.
		zr, err := gzip.NewReader(io.LimitReader(r.Body, 8*maxBody))
		if err != nil {
			return nil, access.Invalidf("the body is not valid gzip: %v", err)
		}
		defer zr.Close()
		src = zr
	default:
		return nil, access.E(access.KindUnsupportedMedia, "Content-Encoding %q is not supported; send gzip or none", enc)
	}
	body, err := io.ReadAll(io.LimitReader(src, maxBody+1))
	if err != nil {
		return nil, access.Invalidf("the body could not be read: %v", err)
	}
	if len(body) > maxBody {
		return nil, access.E(access.KindTooLarge, "the body is larger than %d bytes", maxBody)
	}
	return body, nil
}

// decodeBody reads a JSON object into dst strictly: unknown properties and
// wrong types are errors that name the property. Annotations such as
// @odata.context or @odata.etag that a client copies from a GET are dropped
// first; @odata.type is kept for the types that read it.
func decodeBody(r *http.Request, dst any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeJSON(body, dst)
}

func decodeJSON(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return access.Invalidf("a JSON body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tree, err := readValue(dec, nil)
	if err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return access.Invalidf("the body holds more than one JSON value, or text after it")
	}
	if _, ok := tree.(map[string]any); !ok {
		return access.Invalidf("the body must be a JSON object")
	}
	if where, bad := nulIn(tree, nil); bad {
		// PostgreSQL cannot store it, and no directory name needs it.
		return access.Invalidf("property '%s' contains a NUL character", where)
	}
	clean, err := json.Marshal(dropAnnotations(tree))
	if err != nil {
		return access.Internal(err)
	}
	strict := json.NewDecoder(bytes.NewReader(clean))
	strict.DisallowUnknownFields()
	if err := strict.Decode(dst); err != nil {
		return jsonError(err)
	}
	return nil
}

// maxBodyDepth is how deeply a body may nest objects and arrays. No Graph
// body nests more than a handful of levels; a deeper one is refused before
// it costs more than it may.
const maxBodyDepth = 64

// readValue reads one JSON value into the same tree encoding/json would
// build, refusing an object that names one property twice. encoding/json
// matches property names to fields without regard to case, so "state" and
// "State" in one object would otherwise both be read, and the last would
// silently win: a deny could become a grant. path holds the names leading
// here; it is joined only to name a property in an error, so that reading
// stays linear in the size of the body.
func readValue(dec *json.Decoder, path []string) (any, error) {
	if len(path) > maxBodyDepth {
		return nil, access.Invalidf("the body nests deeper than %d levels", maxBodyDepth)
	}
	tok, err := token(dec)
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := map[string]any{}
			seen := map[string]string{} // lower-cased name → the name as sent
			for dec.More() {
				tok, err := token(dec)
				if err != nil {
					return nil, err
				}
				name := tok.(string) // the decoder allows only strings here
				if first, dup := seen[strings.ToLower(name)]; dup {
					at := propertyPath(append(path, name))
					if first == name {
						return nil, access.Invalidf("property '%s' is given twice", at)
					}
					return nil, access.Invalidf("property '%s' is given twice, as '%s' and '%s'; names match without regard to case", at, first, name)
				}
				seen[strings.ToLower(name)] = name
				if obj[name], err = readValue(dec, append(path, name)); err != nil {
					return nil, err
				}
			}
			if _, err := token(dec); err != nil { // the closing brace
				return nil, err
			}
			return obj, nil
		case '[':
			arr := []any{}
			for i := 0; dec.More(); i++ {
				v, err := readValue(dec, append(path, "["+strconv.Itoa(i)+"]"))
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := token(dec); err != nil {
				return nil, err
			}
			return arr, nil
		}
		return nil, access.Invalidf("the body is not valid JSON: unexpected %q", t)
	default:
		return tok, nil // string, json.Number, bool or nil
	}
}

// propertyPath names a property for a message: names joined with dots,
// array indexes ("[2]") joined to the name before them.
func propertyPath(path []string) string {
	var b strings.Builder
	for i, p := range path {
		if i > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// token reads the next token; inside a value, the end of the input means
// the body ends too early.
func token(dec *json.Decoder) (json.Token, error) {
	tok, err := dec.Token()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, jsonError(err)
	}
	return tok, nil
}

// nulIn finds a string (or a property name) holding U+0000, and names it.
func nulIn(v any, path []string) (string, bool) {
	switch t := v.(type) {
	case string:
		if strings.ContainsRune(t, 0) {
			return propertyPath(path), true
		}
	case map[string]any:
		for k, x := range t {
			if strings.ContainsRune(k, 0) {
				return propertyPath(append(path, k)), true
			}
			if where, bad := nulIn(x, append(path, k)); bad {
				return where, true
			}
		}
	case []any:
		for i, x := range t {
			if where, bad := nulIn(x, append(path, "["+strconv.Itoa(i)+"]")); bad {
				return where, true
			}
		}
	}
	return "", false
}

// dropAnnotations removes instance annotations (keys starting with "@")
// except @odata.type, at every depth.
func dropAnnotations(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if strings.HasPrefix(k, "@") && !strings.EqualFold(k, "@odata.type") {
				delete(t, k)
				continue
			}
			t[k] = dropAnnotations(x)
		}
	case []any:
		for i, x := range t {
			t[i] = dropAnnotations(x)
		}
	}
	return v
}

// jsonError turns encoding/json's errors into 400s that name the property.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var fieldErr *fieldError
	switch {
	case errors.As(err, &syntax):
		return access.Invalidf("the body is not valid JSON: %v (at byte %d)", syntax, syntax.Offset)
	case errors.As(err, &typ):
		name := typ.Field
		if name == "" {
			name = "the body"
		}
		return access.Invalidf("property '%s' has the wrong type: expected %s, got JSON %s", name, jsonTypeName(typ.Type.String()), typ.Value)
	case errors.As(err, &fieldErr):
		return access.Invalidf("%s", fieldErr.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return access.Invalidf("the body is not valid JSON: it ends too early")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return access.Invalidf("property %s is not known on this resource", strings.ReplaceAll(name, `"`, "'"))
	}
	var ae *access.Error
	if errors.As(err, &ae) {
		return ae
	}
	return access.Invalidf("the body could not be read: %v", err)
}

func jsonTypeName(goType string) string {
	switch {
	case goType == "string", strings.HasSuffix(goType, "Text"):
		return "a string"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	default:
		return "an object"
	}
}

// fieldError is returned by wire types' own UnmarshalJSON methods to name
// the property at fault.
type fieldError struct {
	property string
	problem  string
}

func (e *fieldError) Error() string { return fmt.Sprintf("property '%s': %s", e.property, e.problem) }
