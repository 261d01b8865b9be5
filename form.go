package latchkey

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/returnto"
)

// The hosted pages, as paths under Config.PagesPrefix: the forms of
// browsers without JavaScript come from them, and go back to them with
// their errors. Package pages serves them.
const (
	PageLogin    = "/login"
	PageRegister = "/register"
	PageForgot   = "/forgot"
	PageReset    = "/reset"
	PageVerify   = "/verify"
	PageConfirm  = "/confirm"
	PageLogout   = "/logout"
)

// formMediaType is what an HTML form posts.
const formMediaType = "application/x-www-form-urlencoded"

// formPost is an HTML form post that form admitted: its fields for the
// handler (readFields), its CSRF token for checkCSRF, and what the answer
// needs (respond, writeError).
type formPost struct {
	fields    jsonObject
	csrfToken string
	// page: a browser tab sent it, so the answer is a redirect (303 See
	// Other) to the next page, or back to the form's page, never JSON.
	page bool
	back string // the hosted page that failures go back to (PageLogin…)
	// next is where success leads, checked by ReturnTo ("/" by default);
	// nextGiven says the form named it, so the pages carry it along.
	next      string
	nextGiven bool
	token     string // a mailed link's token, carried back to its page
	username  string // what was typed, to fill the form in again
	email     string
}

type formKey struct{}

// formPostFrom returns the form post r's handler is answering, if any.
func formPostFrom(ctx context.Context) *formPost {
	f, _ := ctx.Value(formKey{}).(*formPost)
	return f
}

// form is write for the flows that HTML forms use, so that browsers
// without JavaScript can register, log in and out, and reset passwords:
// besides JSON, it accepts an application/x-www-form-urlencoded body with
// the CSRF token in its csrf_token field (or the usual header) and an
// optional return-to URL in next. The CSRF rules are write's: Fetch
// Metadata and Origin, then the token. A form post from a browser tab (see
// scriptRequest) is answered with 303 See Other: to where the flow leads on
// success (respond), or back to the hosted page back, with the error in a
// flash (writeError). A script's form post gets JSON, as a JSON body does.
// Other media types (text/plain, multipart) reach the handler, which
// refuses them with 415 as before.
func (a *Auth) form(back string, h handlerFunc) http.Handler {
	return a.read(func(w http.ResponseWriter, r *http.Request, cur *current) error {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == formMediaType {
			f, err := a.readForm(w, r, back)
			r = r.WithContext(context.WithValue(r.Context(), formKey{}, f))
			if err != nil {
				a.writeError(w, r, err, "")
				return nil
			}
		}
		if err := a.checkCSRF(r, cur); err != nil {
			a.writeError(w, r, err, "")
			return nil
		}
		r = a.withRequestClient(r)
		if err := h(w, r, cur); err != nil {
			a.writeError(w, r, err, "")
		}
		return nil
	})
}

// readForm reads a form body. The returned formPost is good for answering
// even with an error.
func (a *Auth) readForm(w http.ResponseWriter, r *http.Request, back string) (*formPost, error) {
	f := &formPost{page: !scriptRequest(r), back: back, next: "/"}
	_, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return f, &InputError{Code: "unsupported_media_type", Message: "Forms must be sent as UTF-8 (accept-charset=\"utf-8\")."}
	}
	body, err := readBody(w, r, a.cfg.MaxBodyBytes)
	if err != nil {
		return f, err
	}
	fields, csrf, next, err := parseForm(body)
	if err != nil {
		return f, err
	}
	f.fields, f.csrfToken = fields, csrf
	if next != "" {
		f.next = a.ReturnTo(next)
		f.nextGiven = f.next != "/"
	}
	f.token, _ = fields.str("token", false)
	f.username, _ = fields.str("username", false)
	f.email, _ = fields.str("email", false)
	return f, nil
}

// formBooleans are the fields that the JSON API takes as booleans. A form
// sends a checkbox's value only when it is checked.
var formBooleans = map[string]bool{"remember": true}

// parseForm reads an urlencoded body into the object a JSON body would
// give: each field a string, or for formBooleans true or false ("on",
// "true", "1"; "", "false", "0"). The csrf_token and next fields are
// returned apart. As for JSON, a field given twice, in any letter case, is
// refused, and so are malformed bodies and text that is not UTF-8.
func parseForm(body []byte) (obj jsonObject, csrf, next string, err error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, "", "", &InputError{Code: "invalid_input", Message: "The form could not be read."}
	}
	if len(vals) > maxJSONFields {
		return nil, "", "", &InputError{Code: "invalid_input", Message: "The form has too many fields."}
	}
	obj = jsonObject{}
	folded := map[string]bool{}
	for key, vs := range vals {
		fk := strings.ToLower(strings.ToUpper(key))
		if len(vs) != 1 || folded[fk] {
			return nil, "", "", &InputError{Code: "invalid_input", Field: key, Message: fmt.Sprintf("The field %q appears more than once (in some letter case).", key)}
		}
		folded[fk] = true
		v := vs[0]
		if !utf8.ValidString(key) || !utf8.ValidString(v) {
			return nil, "", "", &InputError{Code: "invalid_input", Message: "The form is not valid UTF-8."}
		}
		switch {
		case key == "csrf_token":
			csrf = v
		case key == "next":
			next = v
		case formBooleans[key]:
			switch v {
			case "on", "true", "1":
				obj[key] = json.RawMessage("true")
			case "", "false", "0":
				obj[key] = json.RawMessage("false")
			default:
				return nil, "", "", &InputError{Code: "invalid_input", Field: key, Message: fmt.Sprintf("The field %q must be on or off.", key)}
			}
		default:
			raw, _ := json.Marshal(v)
			obj[key] = raw
		}
	}
	return obj, csrf, next, nil
}

// csrfTokenOf returns the CSRF token r carries, as requestCSRFToken does,
// or in the csrf_token field of a form; two different ones are refused.
func csrfTokenOf(r *http.Request) (string, bool) {
	f := formPostFrom(r.Context())
	if f == nil || f.csrfToken == "" {
		return requestCSRFToken(r)
	}
	for _, h := range csrfHeaders {
		for _, v := range r.Header.Values(h) {
			if v != f.csrfToken {
				return "", false
			}
		}
	}
	return f.csrfToken, true
}

// readFields reads the fields of a flow's request: the form's, if form
// admitted one, else the JSON body's (see readJSONObject).
func (a *Auth) readFields(w http.ResponseWriter, r *http.Request) (jsonObject, error) {
	if f := formPostFrom(r.Context()); f != nil {
		return f.fields, nil
	}
	return readJSONObject(w, r, a.cfg.MaxBodyBytes)
}

// landing is where a successful form post leads a browser tab: a hosted
// page (PageLogin…) with a notice on it, or, for page "", the post's next.
type landing struct {
	page, notice string
}

// respond answers a flow that succeeded: with body as JSON and status, or,
// to a form post from a browser tab, with 303 See Other to where the flow
// leads (to). The flows call it where they would call writeJSON.
func (a *Auth) respond(w http.ResponseWriter, r *http.Request, status int, body any, to landing) {
	f := formPostFrom(r.Context())
	if f == nil || !f.page {
		writeJSON(w, status, body)
		return
	}
	target := f.next
	if to.page != "" {
		target = a.pageURL(to.page, f, false)
	}
	if to.notice != "" {
		a.setFlash(w, r, Flash{Notice: to.notice})
	}
	seeOther(w, target)
}

// redirectBack answers a form post from a browser tab that failed: 303 See
// Other back to its page, with the error (as errorResponse put it) and what
// was typed in a flash.
func (a *Auth) redirectBack(w http.ResponseWriter, r *http.Request, f *formPost, e apiError) {
	a.setFlash(w, r, Flash{Code: e.Code, Message: e.Message, Field: e.Field, Username: f.username, Email: f.email})
	seeOther(w, a.pageURL(f.back, f, true))
}

// pageURL is the path of a hosted page, with the form's next when it named
// one and, with token, the mailed link's token it was sent with.
func (a *Auth) pageURL(page string, f *formPost, token bool) string {
	q := url.Values{}
	if f.nextGiven {
		q.Set("next", f.next)
	}
	if token && f.token != "" {
		q.Set("token", f.token)
	}
	u := a.cfg.PagesPrefix + page
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// loginURL is the login page's path, with next if ReturnTo accepts it.
func (a *Auth) loginURL(next string) string {
	f := &formPost{next: a.ReturnTo(next)}
	f.nextGiven = f.next != "/"
	return a.pageURL(PageLogin, f, false)
}

// seeOther answers with 303 See Other to target, which must be safe
// (ReturnTo, pageURL): the browser loads it with a GET.
func seeOther(w http.ResponseWriter, target string) {
	h := w.Header()
	h.Set("Location", target)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusSeeOther)
}

// ReturnTo returns next if a browser may be sent there after a login or
// another form post, else "/": a path on this origin, or a URL on AppURL's
// origin or one of AllowedOrigins, and never another site by any spelling
// ("//evil", "/\evil", "https:evil", "/%2f%2fevil", user info, control
// characters; see internal/returnto).
func (a *Auth) ReturnTo(next string) string {
	if s, ok := returnto.Check(next, a.returnOrigins); ok {
		return s
	}
	return "/"
}

// returnOrigins are the origins ReturnTo accepts besides the server's
// own: AllowedOrigins (the SPAs on other origins) and AppURL's.
func returnOrigins(cfg Config) []string {
	origins := append([]string(nil), cfg.AllowedOrigins...)
	if u, err := url.Parse(cfg.AppURL); err == nil && u.Host != "" {
		if o, err := ParseOrigin(u.Scheme + "://" + u.Host); err == nil {
			origins = append(origins, o)
		}
	}
	return origins
}
