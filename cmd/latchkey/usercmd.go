package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/latchkey/latchkey"
)

const userUsage = `usage: latchkey user <add|list|remove|passwd> [flags] [USERNAME]

  add NAME [--email E] [--password-stdin]   create a user
  list                                      list users
  remove NAME                               delete a user and end its sessions
  passwd NAME [--password-stdin]            set a new password and end its sessions

The password is read from a prompt, or from the first line of standard input
with --password-stdin; never from a flag, which other users could see.`

func userCmd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, userUsage)
		return errors.New("user: missing subcommand")
	}
	sub := args[0]
	switch sub {
	case "add", "list", "remove", "passwd":
	default: // refuse before anything is opened or created
		fmt.Fprintln(stderr, userUsage)
		return fmt.Errorf("user: unknown subcommand %q", sub)
	}
	fs := newFlagSet("user "+sub, stderr)
	var o options
	o.register(fs)
	email := fs.String("email", "", "email address (add)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if err := parseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	needName := sub != "list"
	if needName && fs.NArg() != 1 || !needName && fs.NArg() != 0 {
		fmt.Fprintln(stderr, userUsage)
		return fmt.Errorf("user %s: wrong number of arguments", sub)
	}
	auth, st, err := o.openAuth(ctx, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	name := fs.Arg(0)
	switch sub {
	case "add":
		pw, err := readPassword(stdin, stderr, *fromStdin, true)
		if err != nil {
			return err
		}
		u, err := auth.CreateUser(ctx, name, pw, *email)
		if err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "created user %q (id %d)\n", u.Username, u.ID)
	case "list":
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\tCREATED")
		var after int64
		for {
			users, err := auth.ListUsers(ctx, after, 500)
			if err != nil {
				return err
			}
			for _, u := range users {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", u.ID, u.Username, u.Email, u.CreatedAt.UTC().Format("2006-01-02 15:04:05Z"))
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
	case "passwd":
		pw, err := readPassword(stdin, stderr, *fromStdin, true)
		if err != nil {
			return err
		}
		if err := auth.SetPassword(ctx, name, pw); err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "password changed for %q; its sessions were ended\n", name)
	}
	return nil
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
