// Command latchkey runs the latchkey auth server and manages its users.
//
//	latchkey serve [--demo] [--addr 127.0.0.1:8080] [--data ./latchkey-data]
//	latchkey user add|list|remove|set-password|reset-link|verify-email
//	latchkey token create|list|revoke
//	latchkey mail test ADDRESS
//	latchkey migrate
//	latchkey sessions prune
//	latchkey version
//
// Every flag can also be set as an environment variable: --same-site is
// LATCHKEY_SAME_SITE. A flag on the command line wins over the environment.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "latchkey:", err)
		os.Exit(1)
	}
}

const usage = `usage: latchkey <command> [flags]

commands:
  serve      run the auth server (--demo for the demo account test/test)
  user       manage users: add, list, remove, set-password, reset-link, verify-email
  token      manage API tokens (Authorization: Bearer): create, list, revoke
  config     config check [serve flags]: check settings and print them, without serving
  mail       mail test ADDRESS: send the test message through the configured mail server
  migrate    apply pending database migrations (serve also does on start)
  sessions   prune: delete expired sessions from a SQL store
  version    print the version

Run "latchkey <command> -h" for a command's flags.`

// run is the whole program, so tests drive exactly what the binary does.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "user":
		return userCmd(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "token":
		return tokenCmd(ctx, args[1:], getenv, stdout, stderr)
	case "config":
		return configCmd(args[1:], getenv, stdout, stderr)
	case "mail":
		return mailCmd(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return migrateCmd(ctx, args[1:], getenv, stdout, stderr)
	case "sessions":
		return sessionsCmd(ctx, args[1:], getenv, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "latchkey", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
