package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/xbuild/xbuild/state"
)

// ErrNotFound is returned for a name or ID that is not in the store.
var ErrNotFound = errors.New("no such image")

const namesBucket = "images.v1"

// Named is one name → image record.
type Named struct {
	Name     string        `json:"name"` // normalized
	Manifest digest.Digest `json:"manifest"`
	ID       digest.Digest `json:"id"` // config digest
	Created  time.Time     `json:"created"`
	Size     int64         `json:"size"`
}

// Store is the local image store: names in meta.db, blobs in content.
type Store struct {
	root  *state.Root
	blobs BlobStore
}

// NewStore returns the image store of a state directory.
func NewStore(root *state.Root, blobs BlobStore) *Store {
	return &Store{root: root, blobs: blobs}
}

// Tag points name at img.
func (s *Store) Tag(ctx context.Context, name string, img *Image) error {
	ref, err := ParseReference(name)
	if err != nil {
		return err
	}
	created := time.Now().UTC()
	if img.Config.Created != nil {
		created = *img.Config.Created
	}
	rec, err := json.Marshal(Named{Name: ref.String(), Manifest: img.Descriptor.Digest, ID: img.ID(), Created: created, Size: img.Size()})
	if err != nil {
		return err
	}
	return s.root.Update(ctx, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(namesBucket))
		if err != nil {
			return err
		}
		return b.Put([]byte(ref.String()), rec)
	})
}

// Untag removes name. An unknown name is ErrNotFound.
func (s *Store) Untag(ctx context.Context, name string) (Named, error) {
	n, err := s.lookupName(ctx, name)
	if err != nil {
		return Named{}, err
	}
	return n, s.root.Update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(namesBucket))
		if b == nil {
			return nil
		}
		return b.Delete([]byte(n.Name))
	})
}

// List returns every name, sorted by name.
func (s *Store) List(ctx context.Context) ([]Named, error) {
	var out []Named
	err := s.root.View(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(namesBucket))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var n Named
			if err := json.Unmarshal(v, &n); err != nil {
				return fmt.Errorf("image record %s: %w", k, err)
			}
			out = append(out, n)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// Get resolves a name, a full or short image ID ("sha256:…" or a hex
// prefix of at least 4 characters) to an image.
func (s *Store) Get(ctx context.Context, nameOrID string) (*Image, error) {
	n, err := s.lookup(ctx, nameOrID)
	if err != nil {
		return nil, err
	}
	return Load(ctx, s.blobs, n.Manifest)
}

func (s *Store) lookup(ctx context.Context, nameOrID string) (Named, error) {
	n, nameErr := s.lookupName(ctx, nameOrID)
	if nameErr == nil {
		return n, nil
	}
	hex := strings.TrimPrefix(nameOrID, "sha256:")
	if len(hex) >= 4 && isHex(hex) {
		all, err := s.List(ctx)
		if err != nil {
			return Named{}, err
		}
		for _, n := range all {
			if strings.HasPrefix(n.ID.Encoded(), hex) {
				return n, nil
			}
		}
	}
	return Named{}, nameErr
}

func (s *Store) lookupName(ctx context.Context, name string) (Named, error) {
	ref, err := ParseReference(name)
	if err != nil {
		return Named{}, fmt.Errorf("%s: %w: %w", name, ErrNotFound, err)
	}
	var n Named
	found := false
	err = s.root.View(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(namesBucket))
		if b == nil {
			return nil
		}
		v := b.Get([]byte(ref.String()))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &n)
	})
	if err != nil {
		return Named{}, err
	}
	if !found {
		return Named{}, fmt.Errorf("%w: %s", ErrNotFound, ref.Familiar())
	}
	return n, nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
