package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/latchkey/latchkey"
)

const timeLayout = "2006-01-02 15:04:05Z"

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// operate runs the operator's commands on one account: show, lock,
// unlock, logout. They act through the stores, so on a shared store every
// instance sees them at once; events record them with no actor (0).
func operate(ctx context.Context, auth *latchkey.Auth, sub, name string, stdout io.Writer) error {
	u, err := auth.LookupUser(ctx, name)
	if err != nil {
		return describe(err)
	}
	switch sub {
	case "show":
		return showUser(ctx, auth, u, stdout)
	case "lock":
		if _, err := auth.LockUser(ctx, u.ID, 0); err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "locked %q: it cannot log in, its sessions were ended and its API tokens are refused\n", u.Username)
	case "unlock":
		if _, err := auth.UnlockUser(ctx, u.ID, 0); err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "unlocked %q\n", u.Username)
	case "logout":
		n, err := auth.LogoutUser(ctx, u.ID, 0)
		if err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "ended %d session(s) of %q\n", n, u.Username)
	}
	return nil
}

func showUser(ctx context.Context, auth *latchkey.Auth, u *latchkey.User, stdout io.Writer) error {
	sessions, err := auth.Sessions(ctx, u.ID, nil)
	if err != nil {
		return err
	}
	events, _, err := auth.Activity(ctx, u.ID, 0, 0)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id\t%d\nusername\t%s\nemail\t%s\nverified\t%s\nroles\t%s\nlocked\t%s\ncreated\t%s\n",
		u.ID, u.Username, u.Email, yesNo(u.EmailVerified), strings.Join(u.Roles, ","), yesNo(u.Locked), u.CreatedAt.UTC().Format(timeLayout))
	fmt.Fprintf(tw, "\nSESSIONS\t%d\n", len(sessions))
	for _, s := range sessions {
		fmt.Fprintf(tw, "  %s\t%s\t%s\tlast seen %s\n", s.ID, s.Device, s.IP, s.LastSeenAt.UTC().Format(timeLayout))
	}
	fmt.Fprintf(tw, "\nRECENT EVENTS\t%d\n", len(events))
	for _, e := range events {
		by := ""
		if e.ActorID != 0 {
			by = fmt.Sprintf("by user %d", e.ActorID)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format(timeLayout), e.Type, e.Detail, e.IP, e.Device, by)
	}
	return tw.Flush()
}

// roleCmd gives the user the role, or takes it away.
func roleCmd(ctx context.Context, auth *latchkey.Auth, add bool, name, role string, stdout io.Writer) error {
	u, err := auth.LookupUser(ctx, name)
	if err != nil {
		return describe(err)
	}
	changed, err := auth.ChangeRole(ctx, u.ID, role, add, 0)
	if err != nil {
		return describe(err)
	}
	verb := map[bool]string{true: "has", false: "does not have"}[add]
	if changed {
		fmt.Fprintf(stdout, "%q now %s the role %q\n", u.Username, verb, role)
	} else {
		fmt.Fprintf(stdout, "%q already %s the role %q\n", u.Username, verb, role)
	}
	return nil
}

// mfaResetCmd removes every second factor of the user, for support: a
// user who lost their app and their recovery codes.
func mfaResetCmd(ctx context.Context, auth *latchkey.Auth, name string, stdout io.Writer) error {
	n, err := auth.ResetMFA(ctx, name)
	if err != nil {
		return describe(err)
	}
	if n == 0 {
		fmt.Fprintf(stdout, "%q has no second factor\n", name)
		return nil
	}
	fmt.Fprintf(stdout, "removed the second factors of %q (%d records); their next login needs only the password\n", name, n)
	return nil
}
