// Package webauthntest is a software WebAuthn authenticator and client for
// tests: it answers a relying party's creation and request options as a
// browser with a platform authenticator would (attestation "none", ES256
// keys), so the server's ceremonies can be driven, and attacked, from Go.
package webauthntest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

var b64 = base64.RawURLEncoding

// Credential is one key pair the authenticator holds.
type Credential struct {
	ID         []byte
	Key        *ecdsa.PrivateKey
	RPID       string
	UserHandle []byte
	Counter    uint32
}

// Authenticator holds credentials and answers ceremonies. Origin is the
// page the "browser" claims to run them in. UV says whether it verifies
// the user (a PIN, a fingerprint); BackedUp sets the backup flags.
type Authenticator struct {
	Origin      string
	UV          bool
	BackedUp    bool
	Credentials []*Credential
}

// New returns an authenticator that verifies users, for origin.
func New(origin string) *Authenticator { return &Authenticator{Origin: origin, UV: true} }

type creationOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		Exclude []struct {
			ID string `json:"id"`
		} `json:"excludeCredentials"`
	} `json:"publicKey"`
}

type requestOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
		Allow     []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

func (a *Authenticator) flags(attested bool) byte {
	f := byte(0x01) // UP
	if a.UV {
		f |= 0x04
	}
	if a.BackedUp {
		f |= 0x08 | 0x10
	}
	if attested {
		f |= 0x40
	}
	return f
}

func clientData(typ, challenge, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

func authData(rpID string, flags byte, counter uint32, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, counter)
	return append(out, attested...)
}

// Create answers navigator.credentials.create with options (the server's
// JSON, {"publicKey": …}): a new credential, which it keeps, as the
// PublicKeyCredential's JSON.
func (a *Authenticator) Create(options []byte) ([]byte, *Credential, error) {
	var o creationOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, nil, fmt.Errorf("creation options: %w", err)
	}
	handle, err := b64.DecodeString(o.PublicKey.User.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("user id: %w", err)
	}
	for _, ex := range o.PublicKey.Exclude {
		for _, c := range a.Credentials {
			if b64.EncodeToString(c.ID) == ex.ID {
				return nil, nil, fmt.Errorf("InvalidStateError: this authenticator holds an excluded credential")
			}
		}
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c := &Credential{ID: make([]byte, 16), Key: key, RPID: o.PublicKey.RP.ID, UserHandle: handle}
	rand.Read(c.ID)
	x, y := make([]byte, 32), make([]byte, 32)
	key.PublicKey.X.FillBytes(x)
	key.PublicKey.Y.FillBytes(y)
	cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		return nil, nil, err
	}
	attested := make([]byte, 16) // AAGUID: none
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(c.ID)))
	attested = append(append(attested, c.ID...), cose...)
	ad := authData(c.RPID, a.flags(true), 0, attested)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		return nil, nil, err
	}
	resp, err := json.Marshal(map[string]any{
		"id": b64.EncodeToString(c.ID), "rawId": b64.EncodeToString(c.ID), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(clientData("webauthn.create", o.PublicKey.Challenge, a.Origin)),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"internal"},
		},
	})
	if err != nil {
		return nil, nil, err
	}
	a.Credentials = append(a.Credentials, c)
	return resp, c, nil
}

// Get answers navigator.credentials.get with options: an assertion by the
// first credential for the options' relying party that they allow (any,
// when they list none).
func (a *Authenticator) Get(options []byte) ([]byte, error) {
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("request options: %w", err)
	}
	for _, c := range a.Credentials {
		if c.RPID != o.PublicKey.RPID {
			continue
		}
		allowed := len(o.PublicKey.Allow) == 0
		for _, al := range o.PublicKey.Allow {
			allowed = allowed || al.ID == b64.EncodeToString(c.ID)
		}
		if allowed {
			return a.Assert(c, o.PublicKey.Challenge)
		}
	}
	return nil, fmt.Errorf("NotAllowedError: no credential for %q", o.PublicKey.RPID)
}

// Assert is Get with credential c, for challenge (base64url), whatever the
// options say: tests use it to answer with the wrong credential.
func (a *Authenticator) Assert(c *Credential, challenge string) ([]byte, error) {
	c.Counter++
	ad := authData(c.RPID, a.flags(false), c.Counter, nil)
	cd := clientData("webauthn.get", challenge, a.Origin)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte(nil), ad...), h[:]...)) // ES256 signs SHA-256(authData || hash(clientData))
	sig, err := ecdsa.SignASN1(rand.Reader, c.Key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(c.ID), "rawId": b64.EncodeToString(c.ID), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"authenticatorData": b64.EncodeToString(ad),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(c.UserHandle),
		},
	})
}

// Challenge returns the challenge of request or creation options.
func Challenge(options []byte) string {
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	json.Unmarshal(options, &o)
	return o.PublicKey.Challenge
}
