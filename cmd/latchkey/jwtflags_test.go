package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/memstore"
)

func writePEM(t *testing.T, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestJWTKeyFiles(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	pub2, _, _ := ed25519.GenerateKey(rand.Reader)
	privDER, _ := x509.MarshalPKCS8PrivateKey(priv)
	pubDER, _ := x509.MarshalPKIXPublicKey(pub2)
	keyFile, pubFile := writePEM(t, "PRIVATE KEY", privDER), writePEM(t, "PUBLIC KEY", pubDER)

	s, err := parseServe([]string{"--token-mode", "jwt", "--jwt-key-file", keyFile, "--jwt-verify-key-file", pubFile}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatalf("parseServe: %v", err)
	}
	if len(s.cfg.JWT.SigningKeys) != 1 || !priv.Equal(s.cfg.JWT.SigningKeys[0]) || len(s.cfg.JWT.VerificationKeys) != 1 || !pub2.Equal(s.cfg.JWT.VerificationKeys[0]) {
		t.Fatalf("keys not loaded from the files: %d signing, %d verification", len(s.cfg.JWT.SigningKeys), len(s.cfg.JWT.VerificationKeys))
	}
	s.cfg.Secrets = [][]byte{[]byte(strings.Repeat("s", 32))}
	st := memstore.New()
	a, err := latchkey.New(s.cfg, st, st)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	newMux(a, nil, nil, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/.well-known/jwks.json", nil))
	var set struct{ Keys []struct{ X string } }
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil || rec.Code != 200 {
		t.Fatalf("JWKS: %d %s", rec.Code, rec.Body)
	}
	var xs []string
	for _, k := range set.Keys {
		xs = append(xs, k.X)
	}
	want := []string{base64.RawURLEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)), base64.RawURLEncoding.EncodeToString(pub2)}
	if strings.Join(xs, ",") != strings.Join(want, ",") {
		t.Errorf("JWKS keys %v, want the signing key then the verification key %v", xs, want)
	}

	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	os.WriteFile(notPEM, []byte("not a key"), 0o600)
	for name, args := range map[string][]string{
		"missing file":          {"--token-mode", "jwt", "--jwt-key-file", filepath.Join(t.TempDir(), "none.pem")},
		"not PEM":               {"--token-mode", "jwt", "--jwt-key-file", notPEM},
		"ECDSA key":             {"--token-mode", "jwt", "--jwt-key-file", writePEM(t, "PRIVATE KEY", ecDER)},
		"public key to sign":    {"--token-mode", "jwt", "--jwt-key-file", pubFile},
		"private key to verify": {"--token-mode", "jwt", "--jwt-key-file", keyFile, "--jwt-verify-key-file", keyFile},
		"key without jwt mode":  {"--jwt-key-file", keyFile},
		"key with HS256":        {"--token-mode", "jwt", "--jwt-alg", "HS256", "--jwt-key-file", keyFile},
	} {
		s, err := parseServe(args, func(string) string { return "" }, io.Discard)
		if err == nil {
			// Some refusals come from latchkey.New, as for the library.
			s.cfg.Secrets = [][]byte{[]byte(strings.Repeat("s", 32))}
			_, err = latchkey.New(s.cfg, st, st)
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
