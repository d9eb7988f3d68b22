package llb

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// Chmod is a parsed --chmod value: an octal mode or a symbolic one with
// chmod(1) semantics (who ugoa, ops +-=, perms rwxXst), applied per file.
type Chmod struct {
	octal   bool
	mode    uint32
	clauses []chmodClause
}

type chmodClause struct {
	who   uint32 // mask of the ugo rwx bits the clause touches
	whoS  string // the who letters ("" means all)
	op    byte
	perms string
}

// ParseChmod parses an octal (up to 07777) or symbolic --chmod value.
func ParseChmod(s string) (Chmod, error) {
	if m, err := strconv.ParseUint(s, 8, 32); err == nil {
		if m > 0o7777 {
			return Chmod{}, fmt.Errorf("invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", s)
		}
		return Chmod{octal: true, mode: uint32(m)}, nil
	}
	if s == "" || strings.Trim(s, "0123456789") == "" {
		return Chmod{}, fmt.Errorf("invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", s)
	}
	var c Chmod
	for _, part := range strings.Split(s, ",") {
		i := 0
		for i < len(part) && strings.IndexByte("ugoa", part[i]) >= 0 {
			i++
		}
		who := part[:i]
		if i == len(part) {
			return Chmod{}, fmt.Errorf("invalid chmod parameter: '%v': missing operator", s)
		}
		for i < len(part) {
			op := part[i]
			if strings.IndexByte("+-=", op) < 0 {
				return Chmod{}, fmt.Errorf("invalid chmod parameter: '%v': unexpected %q", s, op)
			}
			i++
			j := i
			for j < len(part) && strings.IndexByte("rwxXst", part[j]) >= 0 {
				j++
			}
			if j < len(part) && strings.IndexByte("+-=", part[j]) < 0 {
				return Chmod{}, fmt.Errorf("invalid chmod parameter: '%v': unexpected %q", s, part[j])
			}
			c.clauses = append(c.clauses, chmodClause{who: whoMask(who), whoS: who, op: op, perms: part[i:j]})
			i = j
		}
	}
	return c, nil
}

func whoMask(who string) uint32 {
	if who == "" || strings.Contains(who, "a") {
		return 0o777
	}
	var m uint32
	for _, w := range who {
		switch w {
		case 'u':
			m |= 0o700
		case 'g':
			m |= 0o070
		case 'o':
			m |= 0o007
		}
	}
	return m
}

// Apply returns the mode (unix permission bits with setuid 04000, setgid
// 02000, sticky 01000) a file of mode cur gets.
func (c Chmod) Apply(cur uint32, isDir bool) uint32 {
	if c.octal {
		return c.mode
	}
	m := cur & 0o7777
	for _, cl := range c.clauses {
		var bits uint32
		for _, p := range cl.perms {
			switch p {
			case 'r':
				bits |= 0o444 & cl.who
			case 'w':
				bits |= 0o222 & cl.who
			case 'x':
				bits |= 0o111 & cl.who
			case 'X':
				if isDir || m&0o111 != 0 {
					bits |= 0o111 & cl.who
				}
			case 's':
				if cl.who&0o700 != 0 {
					bits |= 0o4000
				}
				if cl.who&0o070 != 0 {
					bits |= 0o2000
				}
			case 't':
				if cl.who&0o007 != 0 {
					bits |= 0o1000
				}
			}
		}
		switch cl.op {
		case '+':
			m |= bits
		case '-':
			m &^= bits
		case '=':
			clear := cl.who
			if cl.who&0o700 != 0 {
				clear |= 0o4000
			}
			if cl.who&0o070 != 0 {
				clear |= 0o2000
			}
			if cl.who&0o007 != 0 && (cl.whoS == "" || strings.ContainsAny(cl.whoS, "ao")) {
				clear |= 0o1000
			}
			if isDir {
				clear &^= 0o6000 // chmod(1) keeps a directory's setuid/setgid
			}
			m = m&^clear | bits
		}
	}
	return m
}

// FileMode converts unix mode bits to an fs.FileMode.
func FileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// UnixMode converts an fs.FileMode's permission bits to unix mode bits.
func UnixMode(mode fs.FileMode) uint32 {
	m := uint32(mode.Perm())
	if mode&fs.ModeSetuid != 0 {
		m |= 0o4000
	}
	if mode&fs.ModeSetgid != 0 {
		m |= 0o2000
	}
	if mode&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	return m
}
