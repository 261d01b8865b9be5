package latchkey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// maxJSONFields bounds the keys of a request object; ours have three.
const maxJSONFields = 32

// jsonObject is a request body's top-level object, keys matched exactly.
type jsonObject map[string]json.RawMessage

// readJSONObject reads a JSON object body of at most limit bytes. It refuses
// other media types (415), larger bodies (413), malformed or trailing JSON,
// invalid UTF-8, and keys that repeat in any letter case, which lenient
// decoders would silently merge (400).
func readJSONObject(w http.ResponseWriter, r *http.Request, limit int64) (jsonObject, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, &InputError{Code: "unsupported_media_type", Message: "Send the body as JSON with Content-Type: application/json."}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, &InputError{Code: "unsupported_media_type", Message: "JSON bodies must be UTF-8."}
	}
	body, err := readBody(w, r, limit)
	if err != nil {
		return nil, err
	}
	return parseJSONObject(body)
}

// readBody reads a request body of at most limit bytes (413 beyond).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	tooLarge := &InputError{Code: "body_too_large", Message: fmt.Sprintf("The request body must be at most %d bytes.", limit)}
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge
		}
		return nil, &InputError{Code: "invalid_json", Message: "The request body could not be read."}
	}
	return body, nil
}

// parseJSONObject is the decision part of readJSONObject, fuzzed on its own.
func parseJSONObject(body []byte) (jsonObject, error) {
	bad := func(msg string) error { return &InputError{Code: "invalid_json", Message: msg} }
	if !utf8.Valid(body) {
		return nil, bad("The request body is not valid UTF-8.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, bad("The request body must be a JSON object.")
	}
	obj := jsonObject{}
	folded := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad("The request body is not valid JSON.")
		}
		key := tok.(string) // inside an object, Token returns keys as strings
		fk := strings.ToLower(strings.ToUpper(key))
		if folded[fk] {
			return nil, &InputError{Code: "invalid_input", Field: key, Message: fmt.Sprintf("The field %q appears more than once (in some letter case).", key)}
		}
		folded[fk] = true
		if len(folded) > maxJSONFields {
			return nil, &InputError{Code: "invalid_input", Message: "The request body has too many fields."}
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, bad("The request body is not valid JSON.")
		}
		obj[key] = raw
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, bad("The request body is not valid JSON.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad("The request body has data after the JSON object.")
	}
	return obj, nil
}

// str returns a string field; a required field must be present and non-empty.
func (o jsonObject) str(field string, required bool) (string, error) {
	raw, ok := o[field]
	if !ok || string(raw) == "null" {
		if required {
			return "", &InputError{Code: "invalid_input", Field: field, Message: fmt.Sprintf("The field %q is required.", field)}
		}
		return "", nil
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", &InputError{Code: "invalid_input", Field: field, Message: fmt.Sprintf("The field %q must be a string.", field)}
	}
	if required && s == "" {
		return "", &InputError{Code: "invalid_input", Field: field, Message: fmt.Sprintf("The field %q is required.", field)}
	}
	return s, nil
}

// boolean returns an optional boolean field (false when absent).
func (o jsonObject) boolean(field string) (bool, error) {
	raw, ok := o[field]
	if !ok || string(raw) == "null" {
		return false, nil
	}
	switch string(raw) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, &InputError{Code: "invalid_input", Field: field, Message: fmt.Sprintf("The field %q must be true or false.", field)}
}

// strings returns a required field that must be an array of strings.
func (o jsonObject) strings(field string) ([]string, error) {
	raw, ok := o[field]
	bad := &InputError{Code: "invalid_input", Field: field, Message: fmt.Sprintf("The field %q must be an array of strings.", field)}
	if !ok || string(raw) == "null" {
		return nil, &InputError{Code: "invalid_input", Field: field, Message: fmt.Sprintf("The field %q is required.", field)}
	}
	var out []string
	if raw[0] != '[' || json.Unmarshal(raw, &out) != nil {
		return nil, bad
	}
	return out, nil
}
