package smtptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"net/textproto"
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// Message is one delivered message.
type Message struct {
	// From and To are the envelope (MAIL FROM, RCPT TO); empty from Parse.
	From string
	To   []string
	// TLS says the message came over TLS; AuthUser who had logged in.
	TLS      bool
	AuthUser string

	// Raw is the message as the client sent it.
	Raw    []byte
	Header netmail.Header
	// Subject is decoded (RFC 2047).
	Subject string
	// Text and HTML are the decoded text/plain and text/html parts,
	// with LF line breaks.
	Text string
	HTML string
}

// Parse parses a message in RFC 5322 form: headers, then a body that is
// one text part or a multipart tree of them, in quoted-printable, base64
// or 7/8 bit. Parts other than text/plain and text/html are skipped.
func Parse(raw []byte) (*Message, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("smtptest: %w", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return nil, fmt.Errorf("smtptest: subject: %w", err)
	}
	m := &Message{Raw: raw, Header: msg.Header, Subject: subject}
	if err := m.walk(textproto.MIMEHeader(msg.Header), msg.Body); err != nil {
		return nil, fmt.Errorf("smtptest: %w", err)
	}
	return m, nil
}

// walk collects the text parts under one part.
func (m *Message) walk(h textproto.MIMEHeader, body io.Reader) error {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ct, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart() // raw: the switch below decodes
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := m.walk(p.Header, p); err != nil {
				return err
			}
		}
	}
	if mediaType != "text/plain" && mediaType != "text/html" {
		return nil
	}
	if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
		return fmt.Errorf("charset %q: only UTF-8 is read", cs)
	}
	switch cte := strings.ToLower(h.Get("Content-Transfer-Encoding")); cte {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, &noSpace{r: body})
	case "", "7bit", "8bit", "binary":
	default:
		return fmt.Errorf("transfer encoding %q", cte)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("%s part: %w", mediaType, err)
	}
	// Line breaks are CRLF on the wire; tests compare with what was sent.
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	if mediaType == "text/html" {
		m.HTML += text
	} else {
		m.Text += text
	}
	return nil
}

// noSpace drops the line breaks base64 bodies are wrapped with.
type noSpace struct{ r io.Reader }

func (n *noSpace) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	j := 0
	for _, c := range p[:k] {
		if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
			p[j] = c
			j++
		}
	}
	return j, err
}

var textLink = regexp.MustCompile(`https?://[^\s<>"]+`)

// TextLinks are the http(s) URLs in the text part, in order.
func (m *Message) TextLinks() []string {
	return textLink.FindAllString(m.Text, -1)
}

// HTMLLinks are the href attributes of the HTML part's <a> elements, in
// order and unescaped, as a browser would follow them.
func (m *Message) HTMLLinks() []string {
	var links []string
	z := html.NewTokenizer(strings.NewReader(m.HTML))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return links
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			if t.Data != "a" {
				continue
			}
			for _, a := range t.Attr {
				if a.Key == "href" {
					links = append(links, a.Val)
				}
			}
		}
	}
}
