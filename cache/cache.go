package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/xbuild/xbuild/state"
)

// ErrNotFound is returned by Get for an unknown key.
var ErrNotFound = errors.New("cache record not found")

// Layer is one layer of a result's chain.
type Layer struct {
	DiffID digest.Digest      `json:"diffID"`
	Size   int64              `json:"size"` // uncompressed
	Blob   ocispec.Descriptor `json:"blob"`
	// Created is when the step that made the layer ran; it becomes the
	// history entry's time, so a cached rebuild yields the same image.
	Created time.Time `json:"created,omitempty"`
}

// Record is the result of a vertex: the committed snapshot holding its
// filesystem and the layers that make it up, base first.
type Record struct {
	Snapshot string    `json:"snapshot,omitempty"` // "" for an empty filesystem
	Layers   []Layer   `json:"layers,omitempty"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"lastUsed"`
}

// Store maps cache keys to records.
type Store interface {
	Get(ctx context.Context, key digest.Digest) (*Record, error)
	Put(ctx context.Context, key digest.Digest, r *Record) error
}

const bucket = "cache.v1"

// DB is the Store in meta.db.
type DB struct{ root *state.Root }

var _ Store = (*DB)(nil)

// New returns the cache of a state directory.
func New(root *state.Root) *DB { return &DB{root: root} }

// Get returns the record for key or ErrNotFound.
func (d *DB) Get(ctx context.Context, key digest.Digest) (*Record, error) {
	var rec *Record
	err := d.root.View(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		v := b.Get([]byte(key))
		if v == nil {
			return nil
		}
		rec = new(Record)
		return json.Unmarshal(v, rec)
	})
	if err != nil {
		return nil, fmt.Errorf("read cache record %s: %w", key, err)
	}
	if rec == nil {
		return nil, ErrNotFound
	}
	return rec, nil
}

// Put stores r under key, replacing any record there.
func (d *DB) Put(ctx context.Context, key digest.Digest, r *Record) error {
	now := time.Now().UTC()
	if r.Created.IsZero() {
		r.Created = now
	}
	r.LastUsed = now
	enc, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return d.root.Update(ctx, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		return b.Put([]byte(key), enc)
	})
}
