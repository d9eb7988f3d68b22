package executor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ids is who the process runs as, resolved from the image's account files.
type ids struct {
	UID    uint32
	GID    uint32
	Groups []uint32 // supplementary groups
	Home   string
}

type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

const maxID = 1<<31 - 1

var (
	errNoPasswdEntries = errors.New("no matching entries in passwd file")
	errNoGroupEntries  = errors.New("no matching entries in group file")
	errIDRange         = fmt.Errorf("uids and gids must be in range 0-%d", maxID)
)

// resolveUser resolves a USER spec ("name", "uid", "name:group", "uid:gid",
// …; "" is root) the way Docker does, reading passwd and group (either may be
// nil when the image has no such file):
//   - a user found in passwd gives uid, primary gid and home;
//   - a numeric uid without an entry is allowed (gid 0, home "/");
//   - a name without an entry is an error;
//   - with ":group" the group sets the primary gid and there are no
//     supplementary groups; without it the supplementary groups are every
//     group that lists the user's name.
func resolveUser(spec string, passwd, group io.Reader) (ids, error) {
	userArg, groupArg, _ := strings.Cut(spec, ":")
	u := ids{Home: "/"}
	users, err := parsePasswd(passwd)
	if err != nil {
		return u, fmt.Errorf("read passwd file: %w", err)
	}
	matched, err := matchUser(&u, users, userArg)
	if err != nil {
		return u, err
	}
	if groupArg == "" && matched == "" {
		return u, nil
	}
	groups, err := parseGroup(group)
	if err != nil {
		return u, fmt.Errorf("read group file: %w", err)
	}
	if groupArg != "" {
		gid, err := matchGroup(groups, groupArg)
		u.GID = gid
		return u, err
	}
	for _, g := range groups {
		for _, m := range g.members {
			if m == matched {
				u.Groups = append(u.Groups, g.gid)
				break
			}
		}
	}
	return u, nil
}

// matchUser fills u from the passwd entry for userArg ("" is uid 0) and
// returns the entry's name, or "" when a numeric uid has no entry.
func matchUser(u *ids, users []passwdEntry, userArg string) (string, error) {
	uid, numeric, err := parseID(userArg)
	if err != nil {
		return "", err
	}
	if userArg == "" {
		numeric = true
	}
	for _, e := range users {
		if (numeric && e.uid == uid) || (!numeric && e.name == userArg) {
			u.UID, u.GID, u.Home = e.uid, e.gid, e.home
			if u.Home == "" {
				u.Home = "/"
			}
			return e.name, nil
		}
	}
	if !numeric {
		return "", fmt.Errorf("unable to find user %s: %w", userArg, errNoPasswdEntries)
	}
	u.UID = uid
	return "", nil
}

func matchGroup(groups []groupEntry, groupArg string) (uint32, error) {
	gid, numeric, err := parseID(groupArg)
	if err != nil {
		return 0, err
	}
	for _, g := range groups {
		if (numeric && g.gid == gid) || (!numeric && g.name == groupArg) {
			return g.gid, nil
		}
	}
	if !numeric {
		return 0, fmt.Errorf("unable to find group %s: %w", groupArg, errNoGroupEntries)
	}
	return gid, nil
}

// parseID reports whether s is a decimal id and its value; a decimal id out
// of range is an error. "" is not numeric.
func parseID(s string) (uint32, bool, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > maxID {
		return 0, true, errIDRange
	}
	return uint32(n), true, nil
}

// parsePasswd reads name:password:uid:gid:gecos:home:shell lines, skipping
// blank lines, comments and malformed entries.
func parsePasswd(r io.Reader) ([]passwdEntry, error) {
	var out []passwdEntry
	err := eachLine(r, func(f []string) {
		if len(f) < 4 {
			return
		}
		uid, uok, _ := parseID(f[2])
		gid, gok, _ := parseID(f[3])
		if !uok || !gok {
			return
		}
		e := passwdEntry{name: f[0], uid: uid, gid: gid}
		if len(f) > 5 {
			e.home = f[5]
		}
		out = append(out, e)
	})
	return out, err
}

// parseGroup reads name:password:gid:member,member lines.
func parseGroup(r io.Reader) ([]groupEntry, error) {
	var out []groupEntry
	err := eachLine(r, func(f []string) {
		if len(f) < 3 {
			return
		}
		gid, ok, _ := parseID(f[2])
		if !ok {
			return
		}
		g := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 {
			for _, m := range strings.Split(f[3], ",") {
				if m = strings.TrimSpace(m); m != "" {
					g.members = append(g.members, m)
				}
			}
		}
		out = append(out, g)
	})
	return out, err
}

func eachLine(r io.Reader, fn func(fields []string)) error {
	if r == nil {
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		fn(strings.Split(line, ":"))
	}
	return sc.Err()
}
