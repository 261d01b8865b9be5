package mail

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
)

// Log is the development Mailer: it writes each message (recipient,
// subject and the text body with its links) to a logger and sends
// nothing, so the demo needs no mail server. The text holds tokens: never
// use it in production. Log is safe for concurrent use.
type Log struct {
	log *slog.Logger
}

var _ Mailer = (*Log)(nil)

// NewLog returns a Log writing to l at level info.
func NewLog(l *slog.Logger) *Log { return &Log{log: l} }

// Send logs m; it fails only if m is invalid.
func (l *Log) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	l.log.InfoContext(ctx, "mail not sent, logged instead (no mail server configured)",
		"kind", m.Kind, "to", m.To, "subject", m.Subject, "links", strings.Join(links.FindAllString(m.Text, -1), " "), "text", m.Text)
	return nil
}

// links finds URLs in a text body, logged apart so they can be copied.
var links = regexp.MustCompile(`https?://[^\s<>"]+`)

// String describes the mailer for a settings summary.
func (l *Log) String() string { return "log (no mail server)" }
