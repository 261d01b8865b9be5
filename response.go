package latchkey

import (
	"encoding/json"
	"strconv"
	"time"
)

// marshalJSON is json.Marshal with a fast path for the responses of every
// authenticated request (sessionJSON, userJSON): appended by hand, with
// room for writeJSON's newline, and byte for byte what json.Marshal gives
// (TestMarshalJSONMatchesEncodingJSON, FuzzMarshalJSON). Whatever the fast
// path does not handle exactly (escapes, years json.Marshal refuses, zones
// other than UTC) goes to json.Marshal.
func marshalJSON(v any) ([]byte, error) {
	switch v := v.(type) {
	case sessionJSON:
		if b, ok := appendSessionJSON(make([]byte, 0, 320), &v); ok {
			return b, nil
		}
	case userJSON:
		if b, ok := appendUserJSON(make([]byte, 0, 160), &v); ok {
			return b, nil
		}
	}
	return json.Marshal(v)
}

func appendSessionJSON(b []byte, s *sessionJSON) ([]byte, bool) {
	ok := true
	b = strconv.AppendBool(append(b, `{"login":`...), s.Login)
	b = append(b, `,"user":`...)
	if b, ok = appendUserJSON(b, &s.User); !ok {
		return nil, false
	}
	if b, ok = appendJSONTime(append(b, `,"expiresAt":`...), s.ExpiresAt); !ok {
		return nil, false
	}
	if b, ok = appendJSONTime(append(b, `,"idleExpiresAt":`...), s.IdleExpiresAt); !ok {
		return nil, false
	}
	b = strconv.AppendBool(append(b, `,"fresh":`...), s.Fresh)
	b = strconv.AppendBool(append(b, `,"remember":`...), s.Remember)
	return append(b, '}'), true
}

func appendUserJSON(b []byte, u *userJSON) ([]byte, bool) {
	ok := true
	b = strconv.AppendInt(append(b, `{"id":`...), u.ID, 10)
	if b, ok = appendJSONString(append(b, `,"username":`...), u.Username); !ok {
		return nil, false
	}
	if u.Email != "" {
		if b, ok = appendJSONString(append(b, `,"email":`...), u.Email); !ok {
			return nil, false
		}
	}
	b = strconv.AppendBool(append(b, `,"emailVerified":`...), u.EmailVerified)
	b = append(b, `,"roles":`...)
	if u.Roles == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, r := range u.Roles {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendJSONString(b, r); !ok {
				return nil, false
			}
		}
		b = append(b, ']')
	}
	if b, ok = appendJSONTime(append(b, `,"createdAt":`...), u.CreatedAt); !ok {
		return nil, false
	}
	return append(b, '}'), true
}

// appendJSONString quotes s if it needs no escape in json.Marshal's output:
// printable ASCII other than '"', '\\' and the HTML-escaped '<', '>', '&'.
func appendJSONString(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return nil, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// appendJSONTime appends t as time.Time.MarshalJSON does, for UTC times in
// the years MarshalJSON accepts.
func appendJSONTime(b []byte, t time.Time) ([]byte, bool) {
	if t.Location() != time.UTC || t.Year() < 0 || t.Year() > 9999 {
		return nil, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}
