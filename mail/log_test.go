package mail_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/mail"
)

func TestMailLog(t *testing.T) {
	log, buf := newLogger()
	l := mail.NewLog(log)
	m, link := resetMessage(t, "alice@example.com", "tok")
	if err := l.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"kind=reset", "to=alice@example.com", `subject="Reset your Acme password"`, `links="` + link + `"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if err := l.Send(context.Background(), mail.Message{To: "x"}); !errors.Is(err, mail.ErrInvalidMessage) {
		t.Errorf("invalid message: %v", err)
	}
	if l.String() != "log (no mail server)" {
		t.Errorf("String() = %q", l.String())
	}
}
