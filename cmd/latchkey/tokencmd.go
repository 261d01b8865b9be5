package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey"
)

const tokenUsage = `usage: latchkey token <create|list|revoke> [flags]

  create --user NAME --name LABEL [--expires 30d]
          create an API token and print it on standard output, alone, so
          TOKEN=$(latchkey token create …) works; it is shown only this once.
          --expires takes days (30d), Go durations (12h, 90m), or 0 / never
          for a token that does not expire (default 30d).
  list [--user NAME] [--json]
          list tokens, expired ones included (never the tokens themselves)
  revoke ID | revoke --user NAME --name LABEL
          delete a token; it stops working at once

Clients send the token as "Authorization: Bearer lk_…". Store flags are as
for "latchkey user".`

// defaultTokenTTL is how long a token lives unless --expires says otherwise:
// a forgotten token should not work forever.
const defaultTokenTTL = 30 * 24 * time.Hour

func tokenCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, tokenUsage)
		return errors.New("token: missing subcommand")
	}
	sub := args[0]
	switch sub {
	case "create", "list", "revoke":
	default: // refuse before anything is opened or created
		fmt.Fprintln(stderr, tokenUsage)
		return fmt.Errorf("token: unknown subcommand %q", sub)
	}
	fs := newFlagSet("token "+sub, stderr)
	var o options
	o.register(fs)
	user := fs.String("user", "", "the user whose tokens these are")
	name := fs.String("name", "", "the token's name, unique per user (\"ci\")")
	expires := fs.String("expires", "30d", "create: lifetime: 30d, 12h, … or never")
	asJSON := fs.Bool("json", false, "list: print JSON instead of a table")
	fs.Usage = func() {
		fmt.Fprintln(stderr, tokenUsage+"\n\nflags:")
		fs.PrintDefaults()
	}
	args, err := parseInterspersed(fs, args[1:], getenv)
	if err != nil {
		return err
	}
	usageErr := func(format string, a ...any) error {
		fmt.Fprintln(stderr, tokenUsage)
		return fmt.Errorf("token %s: %s", sub, fmt.Sprintf(format, a...))
	}
	// Check everything the flags decide before opening any store.
	var ttl time.Duration
	var id int64
	switch sub {
	case "create":
		if len(args) != 0 || *user == "" || *name == "" {
			return usageErr("want --user NAME --name LABEL and no other arguments")
		}
		if ttl, err = parseTTL(*expires); err != nil {
			return fmt.Errorf("token create: --expires %q: %w", *expires, err)
		}
	case "list":
		if len(args) != 0 || *name != "" {
			return usageErr("want at most --user NAME")
		}
	case "revoke":
		byName := *user != "" || *name != ""
		switch {
		case len(args) == 1 && !byName:
			if id, err = strconv.ParseInt(args[0], 10, 64); err != nil || id <= 0 {
				return usageErr("%q is not a token ID (see latchkey token list)", args[0])
			}
		case len(args) == 0 && *user != "" && *name != "":
		default:
			return usageErr("want a token ID, or --user NAME --name LABEL")
		}
	}

	auth, st, err := o.openAuth(ctx, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "create":
		plain, tok, err := auth.CreateAPIToken(ctx, *user, *name, ttl)
		if errors.Is(err, latchkey.ErrConflict) {
			return fmt.Errorf("%q already has a token named %q: revoke it first, or pick another name", *user, strings.TrimSpace(*name))
		}
		if err != nil {
			return describeToken(err, "no such user")
		}
		fmt.Fprintln(stdout, plain)
		exp := "never expires"
		if !tok.ExpiresAt.IsZero() {
			exp = "expires " + formatTime(tok.ExpiresAt)
		}
		fmt.Fprintf(stderr, "created token %d %q for %q; it %s.\nThis is the only time the token is shown: store it now.\n", tok.ID, tok.Name, *user, exp)
	case "list":
		tokens, err := auth.ListAPITokens(ctx, *user)
		if err != nil {
			return describeToken(err, "no such user")
		}
		return printTokens(ctx, stdout, st.users, tokens, *asJSON)
	case "revoke":
		if id != 0 {
			if err := auth.RevokeAPIToken(ctx, id); err != nil {
				return describeToken(err, fmt.Sprintf("no token has ID %d", id))
			}
			fmt.Fprintf(stdout, "revoked token %d\n", id)
			return nil
		}
		if err := auth.RevokeAPITokenByName(ctx, *user, *name); err != nil {
			return describeToken(err, fmt.Sprintf("no such user, or %q has no token named %q", *user, strings.TrimSpace(*name)))
		}
		fmt.Fprintf(stdout, "revoked token %q of %q\n", strings.TrimSpace(*name), *user)
	}
	return nil
}

// parseInterspersed is parseFlags that also takes flags after positional
// arguments ("revoke 7 --data DIR"), and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string, getenv func(string) string) ([]string, error) {
	if err := parseFlags(fs, args, getenv); err != nil {
		return nil, err
	}
	var pos []string
	for fs.NArg() > 0 {
		rest := fs.Args()
		pos = append(pos, rest[0])
		if err := fs.Parse(rest[1:]); err != nil {
			return nil, err
		}
	}
	return pos, nil
}

// parseTTL reads a token lifetime: Go durations (12h, 90m) plus whole days
// (30d); 0 and "never" mean no expiry.
func parseTTL(s string) (time.Duration, error) {
	bad := errors.New("want a lifetime like 30d, 12h or 90m, or never")
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "never", "0":
		return 0, nil
	case "":
		return 0, bad
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil {
			return 0, bad
		}
		if n > math.MaxInt64/int64(24*time.Hour) || n < math.MinInt64/int64(24*time.Hour) {
			return 0, errors.New("too long")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, bad
		}
	}
	if d < 0 {
		return 0, errors.New("a lifetime cannot be negative")
	}
	return d, nil
}

// describeToken turns token errors into sentences for the terminal;
// notFound says what ErrNotFound means for the command at hand.
func describeToken(err error, notFound string) error {
	if ie, ok := errors.AsType[*latchkey.InputError](err); ok {
		return errors.New(ie.Message)
	}
	if errors.Is(err, latchkey.ErrNotFound) {
		return errors.New(notFound)
	}
	return err
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

// tokenJSON is one token in "token list --json": never the token or its hash.
type tokenJSON struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"userId"`
	User       string     `json:"user"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  *time.Time `json:"expiresAt"`  // null: never
	LastUsedAt *time.Time `json:"lastUsedAt"` // null: never used
	Expired    bool       `json:"expired"`
}

// printTokens prints tokens as a table or JSON, with their users' names.
func printTokens(ctx context.Context, w io.Writer, users latchkey.UserStore, tokens []latchkey.APIToken, asJSON bool) error {
	now := time.Now()
	names := map[int64]string{}
	out := make([]tokenJSON, 0, len(tokens))
	for _, t := range tokens {
		name, ok := names[t.UserID]
		if !ok {
			u, err := users.UserByID(ctx, t.UserID)
			switch {
			case err == nil:
				name = u.Username
			case errors.Is(err, latchkey.ErrNotFound):
				name = fmt.Sprintf("#%d", t.UserID) // deleted meanwhile
			default:
				return err
			}
			names[t.UserID] = name
		}
		j := tokenJSON{ID: t.ID, UserID: t.UserID, User: name, Name: t.Name, CreatedAt: t.CreatedAt.UTC(), Expired: t.Expired(now)}
		if !t.ExpiresAt.IsZero() {
			e := t.ExpiresAt.UTC()
			j.ExpiresAt = &e
		}
		if !t.LastUsedAt.IsZero() {
			l := t.LastUsedAt.UTC()
			j.LastUsedAt = &l
		}
		out = append(out, j)
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tNAME\tCREATED\tEXPIRES\tLAST USED")
	for _, j := range out {
		exp, used := "never", "never"
		if j.ExpiresAt != nil {
			exp = formatTime(*j.ExpiresAt)
			if j.Expired {
				exp += " (expired)"
			}
		}
		if j.LastUsedAt != nil {
			used = formatTime(*j.LastUsedAt)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.User, j.Name, formatTime(j.CreatedAt), exp, used)
	}
	return tw.Flush()
}
