package latchkey

import (
	"regexp"
	"slices"
	"strings"
)

// RoleAdmin is the role the admin API requires.
const RoleAdmin = "admin"

// MaxRoles bounds how many roles a user may have.
const MaxRoles = 32

// validRole: lower-case, starting with a letter, at most 64 bytes, and no
// character that needs quoting in a header, a JWT claim or the stores'
// space-separated column.
var validRole = regexp.MustCompile(`^[a-z][a-z0-9_.:-]{0,63}$`)

// ValidRole reports whether role is a well-formed role name:
// ^[a-z][a-z0-9_.:-]{0,63}$.
func ValidRole(role string) bool { return validRole.MatchString(role) }

// NormalizeRoles checks roles and returns them sorted without duplicates.
func NormalizeRoles(roles []string) ([]string, error) {
	out := slices.Clone(roles)
	for _, r := range out {
		if !ValidRole(r) {
			return nil, &InputError{Code: "invalid_input", Field: "roles", Message: "A role is lower-case letters, digits and _ . : - (at most 64), starting with a letter."}
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxRoles {
		return nil, &InputError{Code: "invalid_input", Field: "roles", Message: "At most 32 roles."}
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// SplitRoles parses roles as the SQL stores' column (space separated) and
// X-Latchkey-Roles (comma separated) hold them: sorted, unique, no empty
// names.
func SplitRoles(s string) []string {
	if s == "" {
		return nil
	}
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	slices.Sort(f)
	return slices.Compact(f)
}
