package ops

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// owner is a resolved uid:gid.
type owner struct{ uid, gid int }

// resolveOwner resolves "user[:group]" against the passwd and group files
// of the rootfs at root. A user name without a group gets the user's
// primary group from /etc/passwd. A numeric user without a group gets, with
// chown set (COPY --chown), the same number as gid, as BuildKit's readUser;
// otherwise (USER) its primary group from /etc/passwd, or 0.
func resolveOwner(root, spec string, chown bool) (*owner, error) {
	if spec == "" {
		return nil, nil
	}
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	o := &owner{}
	primary := -1
	id, err := strconv.Atoi(userPart)
	numeric := err == nil
	if numeric {
		o.uid = id
		if e, ok := lookupFile(root, "/etc/passwd", func(f []string) bool { return len(f) > 3 && f[2] == userPart }); ok {
			primary, _ = strconv.Atoi(e[3])
		}
	} else {
		e, ok := lookupFile(root, "/etc/passwd", func(f []string) bool { return len(f) > 3 && f[0] == userPart })
		if !ok {
			return nil, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userPart)
		}
		o.uid, _ = strconv.Atoi(e[2])
		primary, _ = strconv.Atoi(e[3])
	}
	switch {
	case hasGroup:
		if id, err := strconv.Atoi(groupPart); err == nil {
			o.gid = id
			break
		}
		e, ok := lookupFile(root, "/etc/group", func(f []string) bool { return len(f) > 2 && f[0] == groupPart })
		if !ok {
			return nil, fmt.Errorf("unable to find group %s: no matching entries in group file", groupPart)
		}
		o.gid, _ = strconv.Atoi(e[2])
	case chown && numeric:
		o.gid = o.uid
	case primary >= 0:
		o.gid = primary
	}
	return o, nil
}

// lookupFile returns the colon-separated fields of the first line of the
// file (resolved inside root) that match.
func lookupFile(root, name string, match func([]string) bool) ([]string, bool) {
	p, err := securejoin.SecureJoin(root, name)
	if err != nil {
		return nil, false
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if fields := strings.Split(line, ":"); match(fields) {
			return fields, true
		}
	}
	return nil, false
}
