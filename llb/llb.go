package llb

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// Op is the semantic content of a vertex. Its JSON encoding must be
// deterministic and include every field that can change the op's output.
type Op interface {
	Kind() string
}

// Vertex is one node of the graph. Vertices are immutable once made.
type Vertex struct {
	op     Op
	inputs []*Vertex
	digest digest.Digest
	meta   Meta
}

// Meta is descriptive metadata: not part of the digest.
type Meta struct {
	Name     string // progress display, e.g. "[2/3] RUN echo hi"; empty hides the vertex
	File     string // Dockerfile name for errors
	Line     int    // Dockerfile line for errors, 0 if none
	Text     string // the instruction as written, for errors
	NoCache  bool   // do not look up this vertex in the cache
	Internal bool   // shown as "[internal]"
}

// New makes a vertex. Digest = sha256 over the op kind, its JSON encoding
// and the input digests in order.
func New(op Op, meta Meta, inputs ...*Vertex) *Vertex {
	enc, err := json.Marshal(op)
	if err != nil {
		panic(fmt.Sprintf("llb: encode %s op: %v", op.Kind(), err))
	}
	h := sha256.New()
	fmt.Fprintf(h, "xbuild.llb.v1\x00%s\x00%d\x00", op.Kind(), len(enc))
	h.Write(enc)
	for _, in := range inputs {
		fmt.Fprintf(h, "\x00%s", in.digest)
	}
	return &Vertex{op: op, inputs: append([]*Vertex(nil), inputs...), digest: digest.NewDigest(digest.SHA256, h), meta: meta}
}

// Digest identifies the vertex by content.
func (v *Vertex) Digest() digest.Digest { return v.digest }

// Op returns the vertex's op.
func (v *Vertex) Op() Op { return v.op }

// Inputs returns the vertices this one reads.
func (v *Vertex) Inputs() []*Vertex { return v.inputs }

// Meta returns the descriptive metadata.
func (v *Vertex) Meta() Meta { return v.meta }

// Encode returns the deterministic encoding of the op (for cache keys).
func Encode(op Op) []byte {
	enc, _ := json.Marshal(op)
	return append([]byte(op.Kind()+"\x00"), enc...)
}
