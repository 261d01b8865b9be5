package mail_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/smtptest"
	"github.com/latchkey/latchkey/mail"
)

// logBuffer collects log lines from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, nil)), buf
}

// newQueue starts a queue that is closed when the test ends.
func newQueue(tb testing.TB, next mail.Mailer, opts mail.QueueOptions) *mail.Queue {
	tb.Helper()
	q := mail.NewQueue(next, opts)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		q.Close(ctx)
	})
	return q
}

// sendNow calls q.Send and fails the test if it does not return: a queue
// that blocked its caller would hang the request that sent the mail.
func sendNow(tb testing.TB, q *mail.Queue, m mail.Message) {
	tb.Helper()
	done := make(chan error, 1)
	go func() { done <- q.Send(context.Background(), m) }()
	select {
	case err := <-done:
		if err != nil {
			tb.Fatalf("Send: %v", err)
		}
	case <-time.After(10 * time.Second): // a hang, not a speed check
		tb.Fatal("Send blocked")
	}
}

func drain(tb testing.TB, q *mail.Queue) {
	tb.Helper()
	if err := q.Close(context.Background()); err != nil {
		tb.Fatal(err)
	}
}

func TestMailQueueSlowServerDoesNotBlockSend(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	release := srv.Hold()
	q := newQueue(t, newSMTP(t, srv.URL(), mail.SMTPOptions{}), mail.QueueOptions{Workers: 1})
	m, link := resetMessage(t, "alice@example.com", "tok")
	sendNow(t, q, m)
	srv.WaitHeld(t, 1) // the server has it and has not answered
	if s := q.Stats(); s != (mail.Stats{}) {
		t.Errorf("stats while the server is silent: %+v", s)
	}
	release()
	followResetLink(t, srv.WaitFor(t, "alice@example.com"), link)
	drain(t, q)
	if s := q.Stats(); s != (mail.Stats{Sent: 1}) {
		t.Errorf("stats %+v, want one sent", s)
	}
}

func TestMailQueueCountsAndLogsFailures(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{User: "app", Password: "pw"})
	bad := strings.Replace(srv.URL(), ":pw@", ":wrong@", 1)
	log, buf := newLogger()
	q := newQueue(t, newSMTP(t, bad, mail.SMTPOptions{}), mail.QueueOptions{Logger: log})
	m, _ := resetMessage(t, "alice@example.com", "SECRET-TOKEN")
	sendNow(t, q, m)
	drain(t, q)
	if s := q.Stats(); s != (mail.Stats{Failed: 1}) {
		t.Errorf("stats %+v, want one failed", s)
	}
	out := buf.String()
	for _, want := range []string{"level=ERROR", `msg="mail not sent"`, "kind=reset", "to_domain=example.com", "AUTH"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"SECRET-TOKEN", "alice", "reset-password", "wrong"} {
		if strings.Contains(out, secret) {
			t.Errorf("log shows %q:\n%s", secret, out)
		}
	}
}

// refusing fails every message the way a server refusing a recipient
// does, quoting the address.
type refusing struct{}

func (refusing) Send(_ context.Context, m mail.Message) error {
	return fmt.Errorf("550 5.1.1 <%s>: Recipient address rejected", m.To)
}

func TestMailQueueLogsNoRecipientAddress(t *testing.T) {
	log, buf := newLogger()
	q := newQueue(t, refusing{}, mail.QueueOptions{Logger: log})
	sendNow(t, q, mail.Message{Kind: mail.KindVerify, To: "Bob <bob.smith@mail.example.org>", Subject: "s", Text: "t"})
	drain(t, q)
	out := buf.String()
	if strings.Contains(out, "bob.smith") || !strings.Contains(out, "…@mail.example.org") || !strings.Contains(out, "Recipient address rejected") {
		t.Errorf("want the refusal with the address reduced to its domain:\n%s", out)
	}
}

func TestMailQueueDropsWhenFull(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	release := srv.Hold()
	defer release()
	log, buf := newLogger()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	q := newQueue(t, newSMTP(t, srv.URL(), mail.SMTPOptions{}), mail.QueueOptions{
		Size: 1, Workers: 1, Logger: log, DropLogEvery: 10 * time.Second,
		Now: func() time.Time { return now },
	})
	msg := func(i int) mail.Message {
		return mail.Message{Kind: mail.KindVerify, To: fmt.Sprintf("u%d@example.com", i), Subject: "s", Text: "t"}
	}
	sendNow(t, q, msg(1))
	srv.WaitHeld(t, 1)    // the worker is busy with 1
	sendNow(t, q, msg(2)) // 2 waits
	sendNow(t, q, msg(3)) // dropped and logged
	sendNow(t, q, msg(4)) // dropped, not logged yet
	if got := strings.Count(buf.String(), "mail dropped"); got != 1 {
		t.Errorf("%d drop lines, want 1:\n%s", got, buf)
	}
	now = now.Add(10 * time.Second)
	sendNow(t, q, msg(5)) // dropped; logged with the count since the last line
	out := buf.String()
	if got := strings.Count(out, "mail dropped"); got != 2 || !strings.Contains(out, "dropped=1 ") || !strings.Contains(out, "dropped=2 ") {
		t.Errorf("want two drop lines, for 1 and then 2 messages:\n%s", out)
	}
	if s := q.Stats(); s != (mail.Stats{Dropped: 3}) {
		t.Errorf("stats %+v, want 3 dropped", s)
	}
	release()
	drain(t, q)
	if s := q.Stats(); s != (mail.Stats{Sent: 2, Dropped: 3}) {
		t.Errorf("stats %+v, want 2 sent and 3 dropped", s)
	}
	for _, to := range []string{"u1@example.com", "u2@example.com"} {
		srv.WaitFor(t, to)
	}
	if n := len(srv.Messages()); n != 2 {
		t.Errorf("%d messages delivered, want 2", n)
	}
}

func TestMailQueuePerMessageTimeout(t *testing.T) {
	log, buf := newLogger()
	s := newSMTP(t, "smtp://"+smtptest.Silent(t), mail.SMTPOptions{}) // its own timeout is 30 s
	q := newQueue(t, s, mail.QueueOptions{Timeout: 100 * time.Millisecond, Logger: log})
	m, _ := resetMessage(t, "alice@example.com", "tok")
	sendNow(t, q, m)
	drain(t, q)
	if st := q.Stats(); st != (mail.Stats{Failed: 1}) {
		t.Errorf("stats %+v, want one failed", st)
	}
	if !strings.Contains(buf.String(), "timed out") {
		t.Errorf("log does not say it timed out:\n%s", buf)
	}
}

func TestMailQueueCloseDrainsThenRefuses(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	q := mail.NewQueue(newSMTP(t, srv.URL(), mail.SMTPOptions{}), mail.QueueOptions{Workers: 1})
	for i := range 5 {
		sendNow(t, q, mail.Message{To: fmt.Sprintf("u%d@example.com", i), Subject: "s", Text: "t"})
	}
	drain(t, q)
	if s := q.Stats(); s != (mail.Stats{Sent: 5}) {
		t.Errorf("stats %+v, want 5 sent", s)
	}
	if n := len(srv.Messages()); n != 5 {
		t.Errorf("%d delivered before Close returned, want 5", n)
	}
	if err := q.Send(context.Background(), mail.Message{To: "late@example.com", Subject: "s", Text: "t"}); !errors.Is(err, mail.ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
	drain(t, q) // a second Close is harmless
}

func TestMailQueueCloseGivesUpAtDeadline(t *testing.T) {
	s := newSMTP(t, "smtp://"+smtptest.Silent(t), mail.SMTPOptions{})
	q := mail.NewQueue(s, mail.QueueOptions{Workers: 1})
	for i := range 3 {
		sendNow(t, q, mail.Message{To: fmt.Sprintf("u%d@example.com", i), Subject: "s", Text: "t"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- q.Close(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close: %v, want DeadlineExceeded", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not give up")
	}
	if st := q.Stats(); st != (mail.Stats{Failed: 3}) {
		t.Errorf("stats %+v, want all 3 failed", st)
	}
}

func TestMailQueueRefusesInvalidMessage(t *testing.T) {
	q := newQueue(t, refusing{}, mail.QueueOptions{})
	if err := q.Send(context.Background(), mail.Message{To: "nobody", Text: "t"}); !errors.Is(err, mail.ErrInvalidMessage) {
		t.Errorf("got %v, want ErrInvalidMessage", err)
	}
}
