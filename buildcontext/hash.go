package buildcontext

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/xbuild/xbuild/state"
)

// Hash returns the content hash of what srcs select: for every entry, its
// path, type and permission bits, and its content (regular files) or
// target (symlinks). Owners and times are not part of it, as in BuildKit.
func (d *Dir) Hash(ctx context.Context, srcs []string, memo *Memo) (digest.Digest, error) {
	return d.HashExcluding(ctx, srcs, nil, memo)
}

// HashExcluding is Hash leaving out what COPY --exclude patterns match
// below each selected entry.
func (d *Dir) HashExcluding(ctx context.Context, srcs, excludes []string, memo *Memo) (digest.Digest, error) {
	ex, err := NewExcluder(excludes)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, src := range srcs {
		matches, err := d.Match(src, true)
		if err != nil {
			return "", err
		}
		for _, m := range matches {
			fmt.Fprintf(h, "src %q %q -> %q\n", src, m.Name, m.Path)
			err := d.Walk(m.Path, func(rel string, fi fs.FileInfo) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				if ex.Excluded(m, rel, fi.IsDir()) {
					if fi.IsDir() {
						return fs.SkipDir
					}
					return nil
				}
				line, err := d.entryLine(rel, fi, memo)
				if err != nil {
					return err
				}
				h.Write([]byte(line))
				return nil
			})
			if err != nil {
				return "", fmt.Errorf("hash %s: %w", src, err)
			}
		}
	}
	return digest.NewDigest(digest.SHA256, h), nil
}

func (d *Dir) entryLine(rel string, fi fs.FileInfo, memo *Memo) (string, error) {
	mode := fi.Mode()
	switch {
	case mode.IsRegular():
		sum, err := memo.fileHash(d.Path(rel), fi)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%q %o %s\n", rel, uint32(mode), sum), nil
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(d.Path(rel))
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%q %o -> %q\n", rel, uint32(mode), target), nil
	default:
		return fmt.Sprintf("%q %o\n", rel, uint32(mode)), nil
	}
}

// Memo remembers content hashes by stat data. A nil *Memo hashes every
// file.
type Memo struct {
	root   *state.Root
	prefix string
	mu     sync.Mutex
	known  map[string]memoEntry
	dirty  map[string]memoEntry
}

type memoEntry struct {
	Size  int64  `json:"s"`
	Mtime int64  `json:"m"`
	Ctime int64  `json:"c"`
	Ino   uint64 `json:"i"`
	Mode  uint32 `json:"o"`
	Hash  string `json:"h"`
}

const memoBucket = "contextmemo.v1"

// LoadMemo reads the memo entries for files under dir from meta.db.
func LoadMemo(ctx context.Context, root *state.Root, dir string) (*Memo, error) {
	m := &Memo{root: root, prefix: strings.TrimSuffix(dir, "/") + "/", known: map[string]memoEntry{}, dirty: map[string]memoEntry{}}
	err := root.View(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(memoBucket))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek([]byte(m.prefix)); k != nil && strings.HasPrefix(string(k), m.prefix); k, v = c.Next() {
			var e memoEntry
			if json.Unmarshal(v, &e) == nil {
				m.known[string(k)] = e
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read context memo: %w", err)
	}
	return m, nil
}

// Save writes new and changed entries back to meta.db.
func (m *Memo) Save(ctx context.Context) error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	dirty := m.dirty
	m.dirty = map[string]memoEntry{}
	m.mu.Unlock()
	if len(dirty) == 0 {
		return nil
	}
	return m.root.Update(ctx, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(memoBucket))
		if err != nil {
			return err
		}
		for k, e := range dirty {
			v, _ := json.Marshal(e)
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
}

func statEntry(fi fs.FileInfo) memoEntry {
	e := memoEntry{Size: fi.Size(), Mtime: fi.ModTime().UnixNano(), Mode: uint32(fi.Mode())}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		e.Ino = st.Ino
		e.Ctime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
	}
	return e
}

func (m *Memo) fileHash(p string, fi fs.FileInfo) (string, error) {
	e := statEntry(fi)
	if m != nil {
		m.mu.Lock()
		old, ok := m.known[p]
		m.mu.Unlock()
		if ok && old.Hash != "" && old.Size == e.Size && old.Mtime == e.Mtime && old.Ctime == e.Ctime && old.Ino == e.Ino && old.Mode == e.Mode {
			return old.Hash, nil
		}
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	e.Hash = digest.NewDigest(digest.SHA256, h).String()
	if m != nil {
		m.mu.Lock()
		m.known[p] = e
		m.dirty[p] = e
		m.mu.Unlock()
	}
	return e.Hash, nil
}
