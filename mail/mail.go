// Package mail sends latchkey's account e-mail: password resets, address
// verification and notices. It has no HTTP in it: a Mailer delivers a
// Message, Templates render one from a Kind and Data, and Link builds the
// links in them from the configured app URL only, never from a request.
//
// Three Mailers are here: SMTP (a real server, TLS required unless it is
// on a loopback address), Log (development: each message goes to the log)
// and Queue, which wraps either so that a request never waits on a mail
// server and never learns whether delivery worked.
package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrInvalidMessage: a Message has no usable recipient, a subject with
	// a line break, or no text.
	ErrInvalidMessage = errors.New("mail: invalid message")
	// ErrInvalidURL: an SMTP URL or app URL latchkey cannot use.
	ErrInvalidURL = errors.New("mail: invalid URL")
	// ErrInvalidFrom: the sender address does not parse.
	ErrInvalidFrom = errors.New("mail: invalid sender address")
	// ErrTimeout: the server did not finish within the send timeout.
	ErrTimeout = errors.New("mail: timed out")
	// ErrClosed: the Queue was closed.
	ErrClosed = errors.New("mail: queue closed")
	// ErrTemplate: a template does not parse or does not render.
	ErrTemplate = errors.New("mail: template")
)

// Mailer delivers one message.
type Mailer interface {
	// Send delivers m, or returns why it could not. It returns when ctx is
	// done at the latest. Implementations are safe for concurrent use.
	Send(ctx context.Context, m Message) error
}

// Message is one e-mail, rendered.
type Message struct {
	// Kind is the template it was rendered from; logs name it instead of
	// the content, which may hold a token.
	Kind Kind
	// To is the recipient, a bare address or "Name <address>".
	To string
	// Subject is one line.
	Subject string
	// Text is the plain-text body; required.
	Text string
	// HTML is the HTML alternative; optional.
	HTML string
}

// Validate returns an error wrapping ErrInvalidMessage if m cannot be sent.
func (m Message) Validate() error {
	if _, err := netmail.ParseAddress(m.To); err != nil {
		return fmt.Errorf("%w: recipient: %w", ErrInvalidMessage, err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return fmt.Errorf("%w: line break in the subject", ErrInvalidMessage)
	}
	if m.Text == "" {
		return fmt.Errorf("%w: no text", ErrInvalidMessage)
	}
	return nil
}

// recipientDomain returns the domain of to, which logs show instead of the
// whole address.
func recipientDomain(to string) string {
	if a, err := netmail.ParseAddress(to); err == nil {
		to = a.Address
	}
	if i := strings.LastIndexByte(to, '@'); i >= 0 {
		return to[i+1:]
	}
	return "(none)"
}
