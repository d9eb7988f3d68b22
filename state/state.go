package state

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Root is an open state directory.
type Root struct {
	Dir string

	mu sync.Mutex // serialises this process's transactions
}

// DefaultDir returns --root's default: $XBUILD_ROOT, else /var/lib/xbuild for
// root, else $XDG_DATA_HOME/xbuild or ~/.local/share/xbuild.
func DefaultDir() string {
	if d := os.Getenv("XBUILD_ROOT"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/lib/xbuild"
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "xbuild")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "xbuild")
}

// Open creates the layout under dir if needed and sweeps temporary files
// left behind by processes that are gone.
func Open(dir string) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("state dir %s: %w", dir, err)
	}
	for _, d := range []string{"blobs/sha256", "snapshots", "containers", "tmp"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o700); err != nil {
			return nil, fmt.Errorf("create state dir: %w", err)
		}
	}
	r := &Root{Dir: abs}
	r.sweepTmp()
	return r, nil
}

// Path joins elem under the root.
func (r *Root) Path(elem ...string) string {
	return filepath.Join(append([]string{r.Dir}, elem...)...)
}

// TempDir makes a new directory under tmp/ whose name records this
// process's PID, so that a later process can tell it is stale.
func (r *Root) TempDir(prefix string) (string, error) {
	return os.MkdirTemp(r.Path("tmp"), fmt.Sprintf("%s%d-", pidPrefix(prefix), os.Getpid()))
}

func pidPrefix(p string) string { return p + "-pid" }

// sweepTmp removes tmp/ entries whose owning process no longer exists.
// Entries named without a PID (blob ingests) are removed when older than a
// day, as they may belong to a live writer.
func (r *Root) sweepTmp() {
	ents, err := os.ReadDir(r.Path("tmp"))
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		if pid, ok := ownerPID(name); ok {
			if !processAlive(pid) {
				unmountUnder(r.Path("tmp", name))
				os.RemoveAll(r.Path("tmp", name))
			}
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > 24*time.Hour {
			os.RemoveAll(r.Path("tmp", name))
		}
	}
}

// ownerPID extracts the PID from names made by TempDir ("x-pid123-…").
func ownerPID(name string) (int, bool) {
	i := strings.Index(name, "-pid")
	if i < 0 {
		return 0, false
	}
	rest := name[i+4:]
	j := strings.IndexByte(rest, '-')
	if j <= 0 {
		return 0, false
	}
	var pid int
	if _, err := fmt.Sscanf(rest[:j], "%d", &pid); err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// Update runs fn in a read-write transaction of meta.db.
func (r *Root) Update(ctx context.Context, fn func(*bolt.Tx) error) error {
	return r.withDB(ctx, false, func(db *bolt.DB) error { return db.Update(fn) })
}

// View runs fn in a read-only transaction of meta.db.
func (r *Root) View(ctx context.Context, fn func(*bolt.Tx) error) error {
	return r.withDB(ctx, true, func(db *bolt.DB) error { return db.View(fn) })
}

func (r *Root) withDB(ctx context.Context, readOnly bool, fn func(*bolt.DB) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	path := r.Path("meta.db")
	if readOnly {
		if _, err := os.Stat(path); os.IsNotExist(err) {
			readOnly = false // create it
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Minute, ReadOnly: readOnly})
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	ferr := fn(db)
	cerr := db.Close()
	if ferr != nil {
		return ferr
	}
	if cerr != nil {
		return fmt.Errorf("close %s: %w", path, cerr)
	}
	return nil
}
