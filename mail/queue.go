package mail

import (
	"context"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// QueueOptions tune a Queue; the zero value is the default.
type QueueOptions struct {
	// Size is how many messages may wait; more are dropped. Default 100.
	Size int
	// Workers is how many messages are sent at once. Default 2.
	Workers int
	// Timeout bounds the sending of one message. Default 30s.
	Timeout time.Duration
	// DropLogEvery is how often, at most, dropped messages are logged;
	// a flood of them writes one line per period with the count.
	// Default 10s.
	DropLogEvery time.Duration
	// Logger receives failures and drops. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock of the drop log. Default time.Now.
	Now func() time.Time
}

// Stats count what a Queue did with the messages it was given.
type Stats struct {
	Sent    uint64 // delivered to the Mailer without error
	Failed  uint64 // the Mailer returned an error, or Close gave up on them
	Dropped uint64 // the queue was full
}

// Queue is a Mailer that sends in the background through another one, so
// a request never waits on a slow mail server and never learns whether
// its message went out: Send returns at once. At most Size messages wait
// and Workers are sent at a time, each within Timeout. Failures and drops
// are logged with the kind and the recipient's domain, never the address,
// subject or body (which holds a token), and counted (Stats). A Queue is
// safe for concurrent use; Close it to drain.
type Queue struct {
	next    Mailer
	opts    QueueOptions
	log     *slog.Logger
	jobs    chan job
	workers sync.WaitGroup
	// stop cancels sends in progress when Close runs out of time.
	ctx  context.Context
	stop context.CancelFunc

	mu     sync.RWMutex // guards closed against a send on the closed channel
	closed bool

	sent, failed, dropped atomic.Uint64

	dropMu     sync.Mutex
	dropLogged time.Time // when a drop was last logged
	dropQuiet  uint64    // drops since then, not yet logged
}

type job struct {
	ctx context.Context // the sender's values, not its cancellation
	m   Message
}

var _ Mailer = (*Queue)(nil)

// NewQueue starts a Queue sending through next.
func NewQueue(next Mailer, opts QueueOptions) *Queue {
	if opts.Size <= 0 {
		opts.Size = 100
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.DropLogEvery <= 0 {
		opts.DropLogEvery = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	q := &Queue{next: next, opts: opts, log: opts.Logger, jobs: make(chan job, opts.Size)}
	q.ctx, q.stop = context.WithCancel(context.Background())
	q.workers.Add(opts.Workers)
	for range opts.Workers {
		go q.work()
	}
	return q
}

// Send queues m and returns. The error says nothing of delivery: it is
// nil when m was queued or dropped for a full queue, and non-nil only for
// an invalid m (ErrInvalidMessage) or a closed Queue (ErrClosed).
func (q *Queue) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrClosed
	}
	select {
	case q.jobs <- job{ctx: context.WithoutCancel(ctx), m: m}:
	default:
		q.dropped.Add(1)
		q.logDrop(ctx, m)
	}
	return nil
}

// Stats returns the counts so far.
func (q *Queue) Stats() Stats {
	return Stats{Sent: q.sent.Load(), Failed: q.failed.Load(), Dropped: q.dropped.Load()}
}

// String describes the mailer it sends through.
func (q *Queue) String() string { return fmt.Sprint(q.next) }

// Close stops taking messages and waits until the queued ones are sent or
// ctx ends; then it cancels the sends in progress, counts what was left as
// failed and returns ctx's error. Send after Close returns ErrClosed.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.jobs)
	}
	q.mu.Unlock()
	done := make(chan struct{})
	go func() {
		q.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
		q.stop()
		return nil
	case <-ctx.Done():
	}
	q.stop() // the workers now fail what is left at once
	<-done
	return fmt.Errorf("mail: queue not drained: %w", ctx.Err())
}

func (q *Queue) work() {
	defer q.workers.Done()
	for j := range q.jobs {
		q.deliver(j)
	}
}

func (q *Queue) deliver(j job) {
	ctx, cancel := context.WithTimeout(j.ctx, q.opts.Timeout)
	defer cancel()
	stop := context.AfterFunc(q.ctx, cancel)
	defer stop()
	err := ctx.Err() // already stopped by Close: fail without dialling
	if err == nil {
		err = q.next.Send(ctx, j.m)
	}
	if err != nil {
		q.failed.Add(1)
		q.log.LogAttrs(j.ctx, slog.LevelError, "mail not sent", slog.String("kind", string(j.m.Kind)),
			slog.String("to_domain", recipientDomain(j.m.To)), slog.String("err", scrub(err, j.m.To)))
		return
	}
	q.sent.Add(1)
}

// logDrop logs a dropped message, at most once per DropLogEvery with the
// number dropped since the last line, so a flood cannot flood the log.
func (q *Queue) logDrop(ctx context.Context, m Message) {
	q.dropMu.Lock()
	now := q.opts.Now()
	q.dropQuiet++
	if !q.dropLogged.IsZero() && now.Sub(q.dropLogged) < q.opts.DropLogEvery {
		q.dropMu.Unlock()
		return
	}
	n := q.dropQuiet
	q.dropQuiet, q.dropLogged = 0, now
	q.dropMu.Unlock()
	q.log.LogAttrs(ctx, slog.LevelError, "mail dropped: the send queue is full (slow or unreachable mail server?)",
		slog.String("kind", string(m.Kind)), slog.String("to_domain", recipientDomain(m.To)),
		slog.Uint64("dropped", n), slog.Int("queue_size", q.opts.Size))
}

// scrub replaces the recipient's address in err's text (servers quote it
// in refusals) with its domain alone.
func scrub(err error, to string) string {
	s := err.Error()
	if a, perr := netmail.ParseAddress(to); perr == nil && a.Address != "" {
		s = strings.ReplaceAll(s, a.Address, "…@"+recipientDomain(a.Address))
	}
	return s
}
