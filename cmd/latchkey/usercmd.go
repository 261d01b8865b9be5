package main

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/mail"
)

const userUsage = `usage: latchkey user <add|list|show|lock|unlock|logout|role|mfa|remove|set-password|reset-link|verify-email> [flags] [USERNAME]

  add NAME [--email E] [--password-stdin]   create a user
  list [--search Q]                         list users (whose name or address contains Q)
  show NAME                                 a user, with roles, sessions and recent security events
  lock NAME                                 lock the account: no logins, its sessions end, API tokens refused
  unlock NAME                               let a locked account log in again
  logout NAME                               end every session of the user, on every instance
  role add|remove NAME ROLE                 give or take a role (such as admin)
  mfa reset NAME                            remove the user's second factors (authenticator app,
                                            recovery codes): their next login needs only the password
  remove NAME                               delete a user and end its sessions
  set-password NAME [--password-stdin]      set a new password and end its sessions (alias: passwd)
  reset-link NAME [--app-url URL]           print a one-time password reset link instead of mailing it
  verify-email NAME                         mark the user's current address verified

The password is read from a prompt, or from the first line of standard input
with --password-stdin; never from a flag, which other users could see.
reset-link builds the link as serve does, on --app-url, else the one
--allowed-origins entry, else --public-url (or their LATCHKEY_* variables);
it works for --reset-link-ttl, once, and replaces any link sent before.`

func userCmd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, userUsage)
		return errors.New("user: missing subcommand")
	}
	sub := args[0]
	switch sub {
	case "passwd":
		sub = "set-password"
	case "add", "list", "show", "lock", "unlock", "logout", "role", "mfa", "remove", "set-password", "reset-link", "verify-email":
	default: // refuse before anything is opened or created
		fmt.Fprintln(stderr, userUsage)
		return fmt.Errorf("user: unknown subcommand %q", sub)
	}
	fs := newFlagSet("user "+sub, stderr)
	var o options
	o.register(fs)
	var email, search string
	var fromStdin bool
	switch sub {
	case "list":
		fs.StringVar(&search, "search", "", "only users whose username or address contains this (any letter case)")
	case "add":
		fs.StringVar(&email, "email", "", "email address")
		fallthrough
	case "set-password":
		fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	}
	var link linkOptions
	if sub == "reset-link" {
		link.register(fs)
	}
	if err := parseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	nargs := map[string]int{"list": 0, "role": 3, "mfa": 2}
	want, ok := nargs[sub]
	if !ok {
		want = 1
	}
	if fs.NArg() != want {
		fmt.Fprintln(stderr, userUsage)
		return fmt.Errorf("user %s: wrong number of arguments", sub)
	}
	if sub == "role" && fs.Arg(0) != "add" && fs.Arg(0) != "remove" {
		fmt.Fprintln(stderr, userUsage)
		return fmt.Errorf("user role %q: want add or remove", fs.Arg(0))
	}
	if sub == "mfa" && fs.Arg(0) != "reset" {
		fmt.Fprintln(stderr, userUsage)
		return fmt.Errorf("user mfa %q: want reset", fs.Arg(0))
	}
	if sub == "reset-link" {
		appURL, err := link.appURL(o.stores)
		if err != nil {
			return err
		}
		o.cfg.AppURL = appURL
	}
	auth, st, err := o.openAuth(ctx, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	name := fs.Arg(0)
	if sub == "role" {
		return roleCmd(ctx, auth, fs.Arg(0) == "add", fs.Arg(1), fs.Arg(2), stdout)
	}
	if sub == "mfa" {
		return mfaResetCmd(ctx, auth, fs.Arg(1), stdout)
	}
	switch sub {
	case "show", "lock", "unlock", "logout":
		return operate(ctx, auth, sub, name, stdout)
	case "add":
		pw, err := readPassword(stdin, stderr, fromStdin, true)
		if err != nil {
			return err
		}
		u, err := auth.CreateUser(ctx, name, pw, email)
		if err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "created user %q (id %d)\n", u.Username, u.ID)
	case "list":
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\tROLES\tLOCKED\tCREATED")
		var after int64
		for {
			users, err := auth.SearchUsers(ctx, search, after, 500)
			if err != nil {
				return err
			}
			for _, u := range users {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Username, u.Email, strings.Join(u.Roles, ","), yesNo(u.Locked), u.CreatedAt.UTC().Format(timeLayout))
				after = u.ID
			}
			if len(users) < 500 {
				break
			}
		}
		return tw.Flush()
	case "remove":
		if err := auth.DeleteUser(ctx, name); err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "removed user %q and ended its sessions\n", name)
	case "set-password":
		pw, err := readPassword(stdin, stderr, fromStdin, true)
		if err != nil {
			return err
		}
		if err := auth.SetPassword(ctx, name, pw); err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "password changed for %q; its sessions were ended\n", name)
	case "reset-link":
		l, err := auth.ResetLink(ctx, name)
		if err != nil {
			return describe(err)
		}
		// The link alone on stdout, so scripts can take it; the rest to stderr.
		fmt.Fprintln(stdout, l)
		fmt.Fprintf(stderr, "a one-time password reset link for %q, valid for %s; it replaces any reset link sent before\n", name, auth.Config().ResetTokenTTL)
	case "verify-email":
		u, err := auth.MarkEmailVerified(ctx, name)
		if err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "the address %s of %q is verified\n", u.Email, u.Username)
	}
	return nil
}

// linkOptions say where the SPA is, for the links reset-link prints.
type linkOptions struct {
	app, public, origins string
}

func (l *linkOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&l.app, "app-url", "", "the SPA's URL, on which the link is built, as serve's --app-url (default: the one --allowed-origins entry, else --public-url)")
	fs.StringVar(&l.public, "public-url", "", "the URL browsers use for latchkey, as serve's --public-url")
	fs.StringVar(&l.origins, "allowed-origins", "", "serve's --allowed-origins: the SPA's origin in cross-origin mode")
}

// appURL is the app URL serve would build links on with the same flags.
// Unlike serve it does not guess from --addr, which names the port serve
// listens on but not how browsers reach it.
func (l *linkOptions) appURL(so storeOptions) (string, error) {
	if sessions := cmp.Or(so.sessionStore, so.userStore); sessions == "memory:" {
		return "", errors.New("the session store is memory: in this process, so serve could never see the link; name the store serve uses (--session-store, --user-store)")
	}
	flagName, u := "--app-url", l.app
	if u == "" {
		var origins []string
		for o := range strings.SplitSeq(l.origins, ",") {
			if o = strings.TrimSpace(o); o != "" {
				origins = append(origins, o)
			}
		}
		flagName = map[bool]string{true: "--allowed-origins", false: "--public-url"}[len(origins) == 1]
		u = defaultAppURL(latchkey.Config{AllowedOrigins: origins, PublicURL: l.public}, "")
	}
	if u == "" {
		return "", errors.New("latchkey cannot tell where the SPA is, so no link can be built: set --app-url (or --public-url, as serve has it)")
	}
	if err := mail.CheckAppURL(u); err != nil {
		return "", fmt.Errorf("%s: %w", flagName, err)
	}
	return u, nil
}

// openAuth opens the stores the flags name and an Auth over them, for the
// commands that manage accounts from the terminal. The caller closes the
// stores.
func (o *options) openAuth(ctx context.Context, stderr io.Writer) (*latchkey.Auth, *stores, error) {
	cfg, err := o.config(stderr)
	if err != nil {
		return nil, nil, err
	}
	// These commands sign nothing, so a throwaway key satisfies New without
	// touching the server's real secret.
	throwaway := make([]byte, 32)
	rand.Read(throwaway)
	cfg.Secrets = [][]byte{throwaway}
	st, err := o.openStores(ctx)
	if err != nil {
		return nil, nil, err
	}
	auth, err := latchkey.New(cfg, st.users, st.sessions)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return auth, st, nil
}

// describe turns API errors into sentences for the terminal.
func describe(err error) error {
	if ie, ok := errors.AsType[*latchkey.InputError](err); ok {
		return errors.New(ie.Message)
	}
	switch {
	case errors.Is(err, latchkey.ErrNotFound):
		return errors.New("no such user")
	case errors.Is(err, latchkey.ErrUsernameTaken):
		return errors.New("that username, or one that looks the same, is already taken")
	case errors.Is(err, latchkey.ErrNoEmail):
		return errors.New("the user has no email address")
	case errors.Is(err, latchkey.ErrEmailTaken):
		return errors.New("another user has already verified that address, so it stays unverified here")
	case errors.Is(err, latchkey.ErrNoAppURL):
		return errors.New("no app URL to build the link on: set --app-url")
	}
	return err
}

// readPassword reads a password from stdin's first line, or prompts twice on
// a terminal without echo.
func readPassword(stdin io.Reader, stderr io.Writer, fromStdin, confirm bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", errors.New("no password on standard input")
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("standard input is not a terminal: use --password-stdin")
	}
	fmt.Fprint(stderr, "Password: ")
	pw, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if confirm {
		fmt.Fprint(stderr, "Again: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(again) != string(pw) {
			return "", errors.New("the passwords do not match")
		}
	}
	return string(pw), nil
}
