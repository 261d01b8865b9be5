package latchkey_test

import (
	"strings"
	"testing"
)

// TestBadInput: every malformed request gets a clear JSON error with the
// right status, and nothing stored is harmed.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	e.addUser("vic", "vic's long password")
	cases := []struct {
		name        string
		method      string
		path        string
		ctype       string
		body        string
		status      int
		code, field string
	}{
		{"malformed JSON", "POST", "/api/login", "application/json", `{"username":`, 400, "invalid_json", ""},
		{"not an object", "POST", "/api/login", "application/json", `["vic","pw"]`, 400, "invalid_json", ""},
		{"empty body", "POST", "/api/login", "application/json", ``, 400, "invalid_json", ""},
		{"trailing data", "POST", "/api/login", "application/json", `{"username":"vic","password":"vic's long password"} {}`, 400, "invalid_json", ""},
		{"invalid UTF-8", "POST", "/api/login", "application/json", "{\"username\":\"vic\xff\",\"password\":\"x\"}", 400, "invalid_json", ""},
		{"missing field", "POST", "/api/login", "application/json", `{"username":"vic"}`, 400, "invalid_input", "password"},
		{"null field", "POST", "/api/login", "application/json", `{"username":null,"password":"x"}`, 400, "invalid_input", "username"},
		{"wrong type", "POST", "/api/login", "application/json", `{"username":["vic"],"password":"x"}`, 400, "invalid_input", "username"},
		{"wrong type remember", "POST", "/api/login", "application/json", `{"username":"vic","password":"x","remember":"yes"}`, 400, "invalid_input", "remember"},
		{"duplicate key", "POST", "/api/login", "application/json", `{"username":"vic","username":"admin","password":"x"}`, 400, "invalid_input", "username"},
		{"case-variant key", "POST", "/api/login", "application/json", `{"username":"a","Username":"b","password":"x"}`, 400, "invalid_input", "Username"},
		{"case-variant only", "POST", "/api/login", "application/json", `{"USERNAME":"vic","password":"vic's long password"}`, 400, "invalid_input", "username"},
		{"Kelvin-sign variant", "POST", "/api/register", "application/json", `{"username":"a","password":"x","\u212Aey":1,"key":2}`, 400, "invalid_input", "key"},
		{"too large", "POST", "/api/login", "application/json", `{"username":"vic","password":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "body_too_large", ""},
		{"text/plain", "POST", "/api/login", "text/plain", `{"username":"vic","password":"vic's long password"}`, 415, "unsupported_media_type", ""},
		{"multipart", "POST", "/api/login", "multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nvic\r\n--X--\r\n", 415, "unsupported_media_type", ""},
		{"no content type", "POST", "/api/login", "", `{"username":"vic","password":"x"}`, 415, "unsupported_media_type", ""},
		{"latin1 charset", "POST", "/api/login", "application/json; charset=latin1", `{}`, 415, "unsupported_media_type", ""},
		{"credentials in query only", "POST", "/api/login?username=vic&password=vic's+long+password", "application/json", `{}`, 400, "invalid_input", "username"},
		{"unknown API path", "GET", "/api/nope", "", ``, 404, "not_found", ""},
		{"unknown API path POST", "POST", "/api/admin", "application/json", `{}`, 404, "not_found", ""},
		{"wrong method", "DELETE", "/api/login", "", ``, 405, "method_not_allowed", ""},
		{"PUT on ping", "PUT", "/api/ping", "", ``, 405, "method_not_allowed", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			b.CSRF()
			h := []string{"X-CSRFToken", b.Token()}
			if tc.ctype != "" {
				h = append(h, "Content-Type", tc.ctype)
			}
			r := b.Do(tc.method, tc.path, strings.NewReader(tc.body), h...)
			if r.Status != tc.status || r.ErrCode() != tc.code || r.ErrField() != tc.field {
				t.Errorf("got %d %s field %q, want %d %s field %q (%s)", r.Status, r.ErrCode(), r.ErrField(), tc.status, tc.code, tc.field, r.Raw)
			}
			if msg, _ := r.JSON["error"].(map[string]any)["message"].(string); msg == "" {
				t.Errorf("no human message: %s", r.Raw)
			}
			if tc.status == 405 && r.Header.Get("Allow") == "" {
				t.Errorf("405 without Allow")
			}
			if strings.HasPrefix(tc.path, "/api/login") && tc.status < 404 && r.JSON["login"] != false {
				t.Errorf("login failure without \"login\":false: %s", r.Raw)
			}
			if b.LoggedIn() {
				t.Errorf("bad input logged the browser in")
			}
		})
	}
	e.browser().MustLogin("vic", "vic's long password")
}
