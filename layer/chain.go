package layer

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/xbuild/xbuild/content"
	"github.com/xbuild/xbuild/snapshot"
)

// ChainID extends the chain ID parent with diffID, as the OCI image spec
// defines it; the chain ID of a first layer is its diffID.
func ChainID(parent, diffID digest.Digest) digest.Digest {
	if parent == "" {
		return diffID
	}
	return digest.FromString(parent.String() + " " + diffID.String())
}

// UnpackChain makes sure every layer of an image is unpacked as a committed
// snapshot named by its chain ID (hex), unpacking only the missing ones, and
// returns the name of the top snapshot ("" for no layers).
func UnpackChain(ctx context.Context, p content.Provider, sn *snapshot.Snapshotter, layers []ocispec.Descriptor, diffIDs []digest.Digest) (string, error) {
	if len(layers) != len(diffIDs) {
		return "", fmt.Errorf("unpack: %d layers but %d diff IDs", len(layers), len(diffIDs))
	}
	var chain digest.Digest
	parent := ""
	for i, desc := range layers {
		chain = ChainID(chain, diffIDs[i])
		name := chain.Encoded()
		if !sn.Exists(name) {
			key := sn.NewKey()
			if _, err := sn.Prepare(ctx, key, parent); err != nil {
				return "", err
			}
			if _, err := Unpack(ctx, p, desc, diffIDs[i], sn.FS(key)); err != nil {
				sn.Remove(context.WithoutCancel(ctx), key)
				return "", fmt.Errorf("unpack layer %s: %w", desc.Digest, err)
			}
			if err := sn.Commit(ctx, name, key); err != nil {
				return "", err
			}
		}
		parent = name
	}
	return parent, nil
}
