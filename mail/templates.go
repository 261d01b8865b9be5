package mail

import (
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"strings"
	texttemplate "text/template"
)

//go:embed templates
var defaultFiles embed.FS

// Data is what a template may use: {{.Product}}, {{.AppURL}}, {{.Link}},
// {{.Username}}, {{.To}} and, in an email sign-in mail, {{.Code}}. The HTML templates escape every value.
type Data struct {
	// To is the recipient; Render copies it into Message.To.
	To string
	// Product is the name the messages give the service.
	Product string
	// AppURL is the SPA's URL.
	AppURL string
	// Link is the kind's link, built by Link; required for kinds whose
	// Route carries a token.
	Link string
	// Username is the account's name.
	Username string
	// Code is the one-time code an email sign-in mail carries besides
	// its link (KindEmailLogin), "" otherwise.
	Code string
}

// Templates render Messages. Each kind has a text template, whose first
// line is "Subject: …" followed by an empty line and the body, and an HTML
// template (html/template, so values are escaped). A Templates is safe for
// concurrent use.
type Templates struct {
	text map[Kind]*texttemplate.Template
	html map[Kind]*htmltemplate.Template
}

// DefaultTemplates returns the built-in templates.
func DefaultTemplates() *Templates {
	t, err := parseTemplates(nil)
	if err != nil {
		panic(err) // the embedded files are checked by the tests
	}
	return t
}

// LoadTemplates returns the templates in dir (reset.txt, reset.html, …;
// see Kinds), with the built-in one for each file that is missing; dir ""
// gives the built-in ones. A file that does not parse, does not render
// sample data, lacks the subject line or, for kinds with a token, the link,
// is an error wrapping ErrTemplate; so is a file whose name is no
// template's, which would otherwise be a silently ignored typo.
func LoadTemplates(dir string) (*Templates, error) {
	if dir == "" {
		return parseTemplates(nil)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	return parseTemplates(os.DirFS(dir))
}

func parseTemplates(over fs.FS) (*Templates, error) {
	t := &Templates{text: map[Kind]*texttemplate.Template{}, html: map[Kind]*htmltemplate.Template{}}
	known := map[string]bool{}
	var errs []error
	for _, k := range Kinds() {
		for _, ext := range []string{".txt", ".html"} {
			name := string(k) + ext
			known[name] = true
			src, err := readTemplate(over, name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if ext == ".txt" {
				t.text[k], err = texttemplate.New(name).Option("missingkey=error").Parse(src)
			} else {
				t.html[k], err = htmltemplate.New(name).Option("missingkey=error").Parse(src)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%w: %w", ErrTemplate, err))
			}
		}
	}
	if over != nil {
		entries, err := fs.ReadDir(over, ".")
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", ErrTemplate, err))
		}
		for _, e := range entries {
			if !known[e.Name()] && !strings.HasPrefix(e.Name(), ".") {
				errs = append(errs, fmt.Errorf("%w: unknown file %s (want KIND.txt or KIND.html, KIND one of %s)", ErrTemplate, e.Name(), kindList()))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, t.check()
}

// readTemplate returns the file name from over, or the built-in one.
func readTemplate(over fs.FS, name string) (string, error) {
	if over != nil {
		b, err := fs.ReadFile(over, name)
		if err == nil {
			return string(b), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: %w", ErrTemplate, err)
		}
	}
	b, err := defaultFiles.ReadFile("templates/" + name)
	return string(b), err
}

// check renders every kind with sample data, so a template that would fail
// on first use fails at start-up instead.
func (t *Templates) check() error {
	var errs []error
	for _, k := range Kinds() {
		d := Data{To: "user@example.com", Product: "Product", AppURL: "https://app.example.com", Username: "user"}
		if k.Route() != "" {
			d.Link, _ = Link(d.AppURL, k.Route(), "SAMPLETOKEN")
		}
		if k == KindEmailLogin {
			d.Code = "987654"
		}
		m, err := t.Render(k, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if k.carriesToken() && (!strings.Contains(m.Text, d.Link) || !strings.Contains(m.HTML, d.Link)) {
			errs = append(errs, fmt.Errorf("%w: %s.txt and %s.html must both show {{.Link}}", ErrTemplate, k, k))
		}
		if d.Code != "" && (!strings.Contains(m.Text, d.Code) || !strings.Contains(m.HTML, d.Code)) {
			errs = append(errs, fmt.Errorf("%w: %s.txt and %s.html must both show {{.Code}}", ErrTemplate, k, k))
		}
	}
	return errors.Join(errs...)
}

// carriesToken says whether the kind's link holds a token, so a message
// without it would be useless.
func (k Kind) carriesToken() bool { return k.Route() != "" && k != KindTest }

// Render renders the message of kind for d. It returns an error wrapping
// ErrTemplate for an unknown kind, a kind that needs a link without one,
// or a template that fails.
func (t *Templates) Render(kind Kind, d Data) (Message, error) {
	tt, ok := t.text[kind]
	if !ok {
		return Message{}, fmt.Errorf("%w: unknown kind %q", ErrTemplate, kind)
	}
	if kind.carriesToken() && d.Link == "" {
		return Message{}, fmt.Errorf("%w: %s needs a link", ErrTemplate, kind)
	}
	if kind == KindEmailLogin && d.Code == "" {
		return Message{}, fmt.Errorf("%w: %s needs a code", ErrTemplate, kind)
	}
	var text, html strings.Builder
	if err := tt.Execute(&text, d); err != nil {
		return Message{}, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	if err := t.html[kind].Execute(&html, d); err != nil {
		return Message{}, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	subject, body, ok := strings.Cut(text.String(), "\n")
	subject, found := strings.CutPrefix(subject, "Subject:")
	if !ok || !found {
		return Message{}, fmt.Errorf("%w: %s.txt must start with a line \"Subject: …\"", ErrTemplate, kind)
	}
	return Message{
		Kind:    kind,
		To:      d.To,
		Subject: oneLine(subject),
		Text:    strings.TrimLeft(body, "\r\n"),
		HTML:    html.String(),
	}, nil
}

// oneLine turns control characters (a line break in a username) into
// spaces, so a value cannot add a header.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s))
}

func kindList() string {
	names := make([]string, 0, len(Kinds()))
	for _, k := range Kinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}
