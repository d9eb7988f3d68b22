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
	// CopyExcludes are COPY --exclude patterns, relative to each include;
	// what they match is neither copied nor hashed.
	CopyExcludes []string `json:"copyExcludes,omitempty"`
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
	// Mounts are RUN --mount mounts, in Dockerfile order.
	Mounts []ExecMount `json:"mounts,omitempty"`
}

// Kind implements Op.
func (ExecOp) Kind() string { return "exec" }

// ExecMount is one RUN --mount. Everything in it is part of the digest
// and the cache key; a secret's value never is (only its ID).
type ExecMount struct {
	Type   string `json:"type"` // "bind", "cache", "tmpfs", "secret" or "file"
	Target string `json:"target,omitempty"`
	// Input is the index of the exec vertex's input a bind reads (a
	// context source or a rootfs); 0 means none.
	Input    int    `json:"input,omitempty"`
	Source   string `json:"source,omitempty"`  // bind: path inside the input
	Context  bool   `json:"context,omitempty"` // bind: the input is a context source
	Readonly bool   `json:"readonly,omitempty"`
	ID       string `json:"id,omitempty"`      // cache and secret ID
	Sharing  string `json:"sharing,omitempty"` // cache: shared, private, locked
	UID      uint32 `json:"uid,omitempty"`
	GID      uint32 `json:"gid,omitempty"`
	Mode     uint32 `json:"mode,omitempty"`
	Size     int64  `json:"size,omitempty"`     // tmpfs size limit in bytes
	Env      string `json:"env,omitempty"`      // secret: exported as this variable
	Required bool   `json:"required,omitempty"` // secret: fail when missing
	Data     string `json:"data,omitempty"`     // file: the content (a RUN heredoc script)
}

// CopyOp copies Sources from input 1 (a context source or a rootfs; absent
// when there are none), then URLs and Inline files, to Dest in input 0.
type CopyOp struct {
	Sources    []string `json:"sources"` // paths or patterns, absolute within the source
	Dest       string   `json:"dest"`    // absolute; a trailing "/" means "into this dir"
	Chown      string   `json:"chown,omitempty"`
	Chmod      string   `json:"chmod,omitempty"`
	FromCtx    bool     `json:"fromContext"`
	Excludes   []string `json:"excludes,omitempty"`
	AllowEmpty bool     `json:"allowEmpty,omitempty"` // wildcards may match nothing
	Extract    bool     `json:"extract,omitempty"`    // ADD: unpack local archives
	// Git are repositories ADD copies (their files, at Ref, into Dest).
	Git []GitSource `json:"git,omitempty"`
	// UnpackURLs unpacks downloaded archives (ADD --unpack=true).
	UnpackURLs bool `json:"unpackURLs,omitempty"`
	// Parents keeps each source's path below its pivot (Pivots[i], a
	// prefix of Sources[i]; "" is the source root) under Dest.
	Parents bool     `json:"parents,omitempty"`
	Pivots  []string `json:"pivots,omitempty"`
	// URLs are downloaded (ADD https://…); they are never unpacked.
	URLs []URLSource `json:"urls,omitempty"`
	// Inline are heredoc files; their content is part of the digest.
	Inline []InlineFile `json:"inline,omitempty"`
}

// URLSource is a file ADD downloads: saved as Filename with mode 0600 and
// the Last-Modified time.
type URLSource struct {
	URL      string        `json:"url"`
	Checksum digest.Digest `json:"checksum,omitempty"`
	Filename string        `json:"filename"`
}

// GitSource is a repository ADD copies: Remote at Ref (a branch, tag or
// commit; "" for the default branch), only Subdir when set.
type GitSource struct {
	Remote     string `json:"remote"`
	Ref        string `json:"ref,omitempty"`
	Subdir     string `json:"subdir,omitempty"`
	KeepGitDir bool   `json:"keepGitDir,omitempty"`
}

// InlineFile is a heredoc source: a file with mode 0644 owned by 0:0.
type InlineFile struct {
	Name string `json:"name"`
	Data string `json:"data"`
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
