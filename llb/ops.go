package llb

import "github.com/opencontainers/go-digest"

// ImageOp is a base image from the local store, resolved to its manifest.
type ImageOp struct {
	Ref      string        `json:"ref"` // normalized name, descriptive
	Manifest digest.Digest `json:"manifest"`
}

// Kind implements Op.
func (ImageOp) Kind() string { return "source.image" }

// ContextOp selects files of the build context. Its cache key is the
// content hash of exactly the selected files.
type ContextOp struct {
	Name     string   `json:"name"`     // "context"
	Includes []string `json:"includes"` // source paths/patterns relative to the context root
	// Excludes are the .dockerignore patterns. They stay out of the
	// digest and the cache key: the content hash already covers exactly
	// the files they leave selected.
	Excludes []string `json:"-"`
}

// Kind implements Op.
func (ContextOp) Kind() string { return "source.context" }

// ExecOp runs a process on input 0 (the rootfs) and yields its changes.
type ExecOp struct {
	Args     []string `json:"args"`
	Env      []string `json:"env"` // sorted by the maker
	Cwd      string   `json:"cwd"`
	User     string   `json:"user"`
	Network  string   `json:"network"`
	Hostname string   `json:"hostname,omitempty"`
	// ProxyEnv (HTTP_PROXY=…, http_proxy=…) is added to the process's
	// environment but stays out of the digest and the cache key, as
	// BuildKit's proxy build args.
	ProxyEnv []string `json:"-"`
}

// Kind implements Op.
func (ExecOp) Kind() string { return "exec" }

// CopyOp copies Sources from input 1 (a context source or a rootfs) to Dest
// in input 0.
type CopyOp struct {
	Sources    []string `json:"sources"` // paths or patterns, absolute within the source
	Dest       string   `json:"dest"`    // absolute; a trailing "/" means "into this dir"
	Chown      string   `json:"chown,omitempty"`
	Chmod      string   `json:"chmod,omitempty"`
	FromCtx    bool     `json:"fromContext"`
	Excludes   []string `json:"excludes,omitempty"`
	AllowEmpty bool     `json:"allowEmpty,omitempty"` // wildcards may match nothing
	Extract    bool     `json:"extract,omitempty"`    // ADD: unpack local archives
}

// Kind implements Op.
func (CopyOp) Kind() string { return "file.copy" }

// MkdirOp creates Path (with parents) in input 0, owned by User.
type MkdirOp struct {
	Path string `json:"path"`
	Mode uint32 `json:"mode"`
	User string `json:"user,omitempty"`
}

// Kind implements Op.
func (MkdirOp) Kind() string { return "file.mkdir" }

// ScratchOp is the empty filesystem.
type ScratchOp struct{}

// Kind implements Op.
func (ScratchOp) Kind() string { return "source.scratch" }
