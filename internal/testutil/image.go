package testutil

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Media types the local store must use.
const (
	MediaTypeManifest  = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeConfig    = "application/vnd.oci.image.config.v1+json"
	MediaTypeLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// ImageInfo is one object of `xbuild inspect` output.
type ImageInfo struct {
	ID           string `json:"Id"`
	RepoTags     []string
	Digest       string
	Created      string
	Architecture string
	Os           string
	Size         int64
	Config       ContainerConfig
	RootFS       RootFS
	History      []History
	Manifest     Manifest
}

// ContainerConfig is the `config` object of an image config (Docker and OCI
// JSON names).
type ContainerConfig struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	Volumes      map[string]struct{} `json:"Volumes,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	OnBuild      []string            `json:"OnBuild,omitempty"`
	Shell        []string            `json:"Shell,omitempty"`
	Healthcheck  *Healthcheck        `json:"Healthcheck,omitempty"`
}

// Healthcheck is Docker's healthcheck config; durations in nanoseconds.
type Healthcheck struct {
	Test        []string `json:"Test,omitempty"`
	Interval    int64    `json:"Interval,omitempty"`
	Timeout     int64    `json:"Timeout,omitempty"`
	StartPeriod int64    `json:"StartPeriod,omitempty"`
	Retries     int      `json:"Retries,omitempty"`
}

// RootFS is the image config's rootfs.
type RootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

// History is one OCI history entry.
type History struct {
	Created    string `json:"created,omitempty"`
	CreatedBy  string `json:"created_by,omitempty"`
	Comment    string `json:"comment,omitempty"`
	EmptyLayer bool   `json:"empty_layer,omitempty"`
}

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// Manifest is an OCI image manifest.
type Manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
}

// ConfigFile is an OCI image config blob.
type ConfigFile struct {
	Created      string          `json:"created,omitempty"`
	Author       string          `json:"author,omitempty"`
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Config       ContainerConfig `json:"config"`
	RootFS       RootFS          `json:"rootfs"`
	History      []History       `json:"history,omitempty"`
}

// Entry is one tar entry of a layer. Path is absolute and clean ("/etc/passwd").
type Entry struct {
	Path     string
	Type     byte  // tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, ...
	Mode     int64 // permission and setuid/setgid/sticky bits (07777)
	UID, GID int
	Size     int64
	Linkname string
	Digest   string // sha256 of a regular file's content
	Content  []byte // content of regular files up to maxContent bytes
}

const maxContent = 64 << 10

func (e Entry) String() string {
	return fmt.Sprintf("%s type=%q mode=%04o uid=%d gid=%d size=%d link=%q", e.Path, e.Type, e.Mode, e.UID, e.GID, e.Size, e.Linkname)
}

// IsWhiteout reports whether e is an OCI whiteout (".wh.NAME" or the
// opaque marker ".wh..wh..opq").
func (e Entry) IsWhiteout() bool { return strings.HasPrefix(path.Base(e.Path), ".wh.") }

// Layer is one layer of an image as stored in the blob store.
type Layer struct {
	Descriptor
	DiffID  string // sha256 of the uncompressed tar, as computed by the test
	TarSize int64  // length of the uncompressed tar stream
	Entries []Entry
}

// Find returns the entry of this layer at p.
func (l Layer) Find(p string) (Entry, bool) {
	for _, e := range l.Entries {
		if e.Path == p {
			return e, true
		}
	}
	return Entry{}, false
}

// Paths returns the paths of the layer's entries, sorted.
func (l Layer) Paths() []string {
	var out []string
	for _, e := range l.Entries {
		out = append(out, e.Path)
	}
	sort.Strings(out)
	return out
}

// Image is a built image read back from a state directory, independently of
// xbuild's own code: manifest and config from the blob store, layers
// gunzipped and untarred with the standard library.
type Image struct {
	Name     string
	Info     ImageInfo // what `xbuild inspect` said
	Manifest Manifest  // the manifest blob
	Config   ConfigFile
	Layers   []Layer
	// FS is the flattened filesystem: every layer applied in order, OCI
	// whiteouts removing lower-layer paths. Keys are Entry.Path.
	FS map[string]Entry
}

// ReadImage reads image name from root. It checks what every image must
// satisfy (blob digests and sizes, diff IDs, media types, one layer per
// non-empty history entry) with t.Errorf and fails only when the image
// cannot be read at all.
func ReadImage(t testing.TB, root *Root, name string) *Image {
	t.Helper()
	img := &Image{Name: name, Info: root.Inspect(t, name)}
	mdata := readBlob(t, root.Dir, img.Info.Digest)
	if err := json.Unmarshal(mdata, &img.Manifest); err != nil {
		t.Fatalf("manifest %s: %v", img.Info.Digest, err)
	}
	if img.Manifest.Config.Digest != img.Info.ID {
		t.Errorf("image ID %s is not the manifest's config digest %s", img.Info.ID, img.Manifest.Config.Digest)
	}
	cdata := readBlob(t, root.Dir, img.Manifest.Config.Digest)
	if int64(len(cdata)) != img.Manifest.Config.Size {
		t.Errorf("config blob is %d bytes, manifest says %d", len(cdata), img.Manifest.Config.Size)
	}
	if err := json.Unmarshal(cdata, &img.Config); err != nil {
		t.Fatalf("config %s: %v", img.Manifest.Config.Digest, err)
	}
	if len(img.Config.RootFS.DiffIDs) != len(img.Manifest.Layers) {
		t.Errorf("config has %d diff_ids, manifest has %d layers", len(img.Config.RootFS.DiffIDs), len(img.Manifest.Layers))
	}
	nonEmpty := 0
	for _, h := range img.Config.History {
		if !h.EmptyLayer {
			nonEmpty++
		}
	}
	if nonEmpty != len(img.Manifest.Layers) {
		t.Errorf("%d history entries have a layer, manifest has %d layers", nonEmpty, len(img.Manifest.Layers))
	}
	for i, d := range img.Manifest.Layers {
		l := readLayer(t, root.Dir, d)
		if i < len(img.Config.RootFS.DiffIDs) && l.DiffID != img.Config.RootFS.DiffIDs[i] {
			t.Errorf("layer %d (%s): uncompressed digest %s, config diff_id %s", i, d.Digest, l.DiffID, img.Config.RootFS.DiffIDs[i])
		}
		img.Layers = append(img.Layers, l)
	}
	img.FS = Flatten(img.Layers)
	return img
}

// BlobPath is where root stores the blob with digest dgst.
func BlobPath(root, dgst string) string {
	return filepath.Join(root, "blobs", "sha256", strings.TrimPrefix(dgst, "sha256:"))
}

// readBlob reads a blob and checks that its content has its digest.
func readBlob(t testing.TB, root, dgst string) []byte {
	t.Helper()
	if !strings.HasPrefix(dgst, "sha256:") {
		t.Fatalf("digest %q is not sha256", dgst)
	}
	data, err := os.ReadFile(BlobPath(root, dgst))
	if err != nil {
		t.Fatalf("blob %s: %v", dgst, err)
	}
	if got := Digest(data); got != dgst {
		t.Errorf("blob %s has content digest %s", dgst, got)
	}
	return data
}

// Digest is the sha256 digest string of data.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func readLayer(t testing.TB, root string, d Descriptor) Layer {
	t.Helper()
	l := Layer{Descriptor: d}
	if d.MediaType != MediaTypeLayerGzip {
		t.Errorf("layer %s: media type %q, want %q", d.Digest, d.MediaType, MediaTypeLayerGzip)
	}
	blob := readBlob(t, root, d.Digest)
	if int64(len(blob)) != d.Size {
		t.Errorf("layer %s: blob is %d bytes, descriptor says %d", d.Digest, len(blob), d.Size)
	}
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatalf("layer %s: not gzip: %v", d.Digest, err)
	}
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(zr, h)}
	tr := tar.NewReader(cr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("layer %s: bad tar: %v", d.Digest, err)
		}
		e, err := readEntry(hdr, tr)
		if err != nil {
			t.Fatalf("layer %s: %v", d.Digest, err)
		}
		l.Entries = append(l.Entries, e)
	}
	// The digest and size cover the whole stream, padding included.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		t.Fatalf("layer %s: %v", d.Digest, err)
	}
	l.DiffID = "sha256:" + hex.EncodeToString(h.Sum(nil))
	l.TarSize = cr.n
	return l
}

func readEntry(hdr *tar.Header, r io.Reader) (Entry, error) {
	p, err := cleanTarPath(hdr.Name)
	if err != nil {
		return Entry{}, err
	}
	typ := hdr.Typeflag
	if typ == 0 { // pre-POSIX regular file (TypeRegA)
		typ = tar.TypeReg
	}
	e := Entry{Path: p, Type: typ, Mode: hdr.Mode & 0o7777, UID: hdr.Uid, GID: hdr.Gid, Size: hdr.Size, Linkname: hdr.Linkname}
	if typ == tar.TypeReg {
		data, err := io.ReadAll(r)
		if err != nil {
			return Entry{}, fmt.Errorf("%s: %w", hdr.Name, err)
		}
		e.Digest = Digest(data)
		if len(data) <= maxContent {
			e.Content = data
		}
	}
	return e, nil
}

// cleanTarPath turns "./a/b/", "/a/b" or "a/b" into "/a/b" and rejects
// names that climb out of the root.
func cleanTarPath(name string) (string, error) {
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("tar entry %q escapes the root", name)
		}
	}
	return path.Clean("/" + name), nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Flatten applies layers in order the way a container runtime does: a
// layer's whiteouts remove paths of the layers below it (".wh.NAME" removes
// NAME and everything under it, ".wh..wh..opq" removes everything under its
// directory), then its entries are added; a non-directory replacing a
// directory removes the directory's contents.
func Flatten(layers []Layer) map[string]Entry {
	fs := map[string]Entry{}
	for _, l := range layers {
		for _, e := range l.Entries {
			if !e.IsWhiteout() {
				continue
			}
			dir, base := path.Split(e.Path)
			dir = path.Clean(dir)
			if base == ".wh..wh..opq" {
				removeBelow(fs, dir)
				continue
			}
			victim := path.Join(dir, strings.TrimPrefix(base, ".wh."))
			delete(fs, victim)
			removeBelow(fs, victim)
		}
		for _, e := range l.Entries {
			if e.IsWhiteout() {
				continue
			}
			if old, ok := fs[e.Path]; ok && old.Type == tar.TypeDir && e.Type != tar.TypeDir {
				removeBelow(fs, e.Path)
			}
			fs[e.Path] = e
		}
	}
	return fs
}

func removeBelow(fs map[string]Entry, dir string) {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	for p := range fs {
		if strings.HasPrefix(p, prefix) {
			delete(fs, p)
		}
	}
}

// Has reports whether p exists in the flattened filesystem.
func (img *Image) Has(p string) bool {
	_, ok := img.FS[p]
	return ok
}

// File returns the flattened entry at p, failing the test when it is absent.
func (img *Image) File(t testing.TB, p string) Entry {
	t.Helper()
	e, ok := img.FS[p]
	if !ok {
		t.Fatalf("image %s: %s does not exist", img.Name, p)
	}
	return e
}

// Children returns the names directly under dir in the flattened
// filesystem, sorted.
func (img *Image) Children(dir string) []string {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	var out []string
	for p := range img.FS {
		if rest, ok := strings.CutPrefix(p, prefix); ok && rest != "" && !strings.Contains(rest, "/") {
			out = append(out, rest)
		}
	}
	sort.Strings(out)
	return out
}

// LayerOf returns the index of the layer made by history entry h (counting
// only entries that made a layer), or -1 when h made none.
func (img *Image) LayerOf(h int) int {
	if h < 0 || h >= len(img.Config.History) || img.Config.History[h].EmptyLayer {
		return -1
	}
	n := 0
	for _, e := range img.Config.History[:h] {
		if !e.EmptyLayer {
			n++
		}
	}
	return n
}
