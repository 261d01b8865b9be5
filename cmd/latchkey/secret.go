package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/latchkey/latchkey"
)

// loadSecrets returns the secret keys, first one signing: from
// LATCHKEY_SECRET (comma-separated), else from secretFile (one per line),
// else from DATA/secret, generated with mode 0600 on first start. generated
// reports the last case.
func loadSecrets(env, secretFile, dataDir string) (keys [][]byte, source string, err error) {
	switch {
	case env != "":
		keys, err = splitKeys(strings.Split(env, ","))
		return keys, "LATCHKEY_SECRET", err
	case secretFile != "":
		keys, err = readKeyFile(secretFile)
		return keys, secretFile, err
	}
	path := filepath.Join(dataDir, "secret")
	keys, err = readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		var k [32]byte
		rand.Read(k[:])
		line := base64.RawURLEncoding.EncodeToString(k[:]) + "\n"
		// With every store named by URL, nothing else creates the directory.
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, "", fmt.Errorf("data directory: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, "", fmt.Errorf("create secret: %w", err)
		}
		if _, err := f.WriteString(line); err != nil {
			f.Close()
			return nil, "", fmt.Errorf("write secret: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, "", fmt.Errorf("write secret: %w", err)
		}
		keys, err = splitKeys([]string{line})
		return keys, path + " (generated)", err
	}
	return keys, path, err
}

func readKeyFile(path string) ([][]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secret file %s is readable by others (mode %v); chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return splitKeys(lines)
}

// splitKeys trims each key and drops empty ones. Keys are used as given
// (their bytes), so any string of at least 32 bytes works.
func splitKeys(raw []string) ([][]byte, error) {
	var keys [][]byte
	for _, k := range raw {
		if k = strings.TrimSpace(k); k == "" || strings.HasPrefix(k, "#") {
			continue
		}
		if len(k) < latchkey.MinSecretLen {
			return nil, fmt.Errorf("secret key %d is %d bytes; need at least %d (generate one with: openssl rand -base64 32)", len(keys)+1, len(k), latchkey.MinSecretLen)
		}
		keys = append(keys, []byte(k))
	}
	if len(keys) == 0 {
		return nil, errors.New("no secret key given")
	}
	return keys, nil
}
