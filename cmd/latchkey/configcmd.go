package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/memstore"
	"github.com/latchkey/latchkey/pages"
)

// configCmd runs "config check": the serve flags are checked exactly as
// serve would, and the summary printed, without opening stores or a port.
func configCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return errors.New(`usage: latchkey config check [serve flags]`)
	}
	s, err := parseServe(args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	if err := s.checkFrontend(); err != nil {
		return err
	}
	if err := s.o.checkSharedSecret(getenv("LATCHKEY_SECRET")); err != nil {
		return err
	}
	cfg := s.cfg
	if env := getenv("LATCHKEY_SECRET"); env != "" || s.o.secretFile != "" {
		if cfg.Secrets, _, err = loadSecrets(env, s.o.secretFile, s.o.data); err != nil {
			return err
		}
	} else {
		k := make([]byte, 32) // serve keeps (or generates) DATA/secret
		rand.Read(k)
		cfg.Secrets = [][]byte{k}
	}
	store := memstore.New()
	auth, err := latchkey.New(cfg, store, store)
	if err != nil {
		return err
	}
	if _, err := pages.Handler(auth, pages.Options{Dir: s.d.pagesDir}); err != nil {
		return fmt.Errorf("--pages-dir: %w", err)
	}
	printSummary(stdout, &s.d, &s.mail, auth.Config(), s.addr)
	fmt.Fprintln(stdout, "configuration OK")
	return nil
}
