package exporter

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/xbuild/xbuild/image"
	"github.com/xbuild/xbuild/layer"
)

// Output types.
const (
	TypeImage    = "image"
	TypeOCI      = "oci"
	TypeDocker   = "docker"
	TypeLocal    = "local"
	TypeTar      = "tar"
	TypeRegistry = "registry"
)

// Output is one parsed -o/--output: e.g. "type=oci,dest=app.tar",
// "type=docker,dest=-", "type=local,dest=out/",
// "type=registry,name=127.0.0.1:5000/app:1,compression=zstd". "dest=out"
// alone means type=local, a spec without any "=" ("out/") is a local
// destination, and "-" alone means type=tar to stdout.
//
// Keys: type, dest, name (a comma separated list is allowed, buildx style
// `name=a,name=b` or `"name=a,b"`), tar (bool, oci/docker only, default
// true), push (bool), compression (gzip, zstd, uncompressed),
// compression-level (int), force-compression (bool), oci-mediatypes
// (accepted and ignored: manifests are always OCI). Unknown keys or types
// are errors naming them.
//
// compression-level or force-compression without compression imply
// compression=gzip, as in BuildKit: only layers that are not gzip already
// are recompressed, unless force-compression is set.
type Output struct {
	Type             string // image, oci, docker, local, tar, registry
	Dest             string // path, or "-" for stdout
	Names            []string
	Tar              bool
	Push             bool
	Compression      layer.Compression // "" = keep as stored
	CompressionLevel *int
	ForceCompression bool
}

// ParseOutput parses one -o/--output value. It checks the values it can
// check without touching the file system: the type, the keys, booleans and
// numbers, that oci/docker/local/tar have a dest and registry a name, that
// a directory output (local, tar=false) does not go to stdout, and that a
// compression level suits the compression. Names are kept as given; the
// caller normalizes them with image.ParseReference.
func ParseOutput(spec string) (Output, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return Output{}, errors.New("invalid output: empty value")
	}
	if !strings.Contains(spec, "=") && !strings.Contains(spec, ",") {
		if spec == "-" {
			return Output{Type: TypeTar, Dest: "-"}, nil
		}
		return Output{Type: TypeLocal, Dest: spec}, nil
	}
	fields, err := splitFields(spec)
	if err != nil {
		return Output{}, err
	}
	var o Output
	var tarSet, typeSet bool
	for _, f := range fields {
		key, val, ok := strings.Cut(f, "=")
		if !ok {
			return Output{}, fmt.Errorf("invalid output %q: %q is not key=value", spec, f)
		}
		key = strings.ToLower(strings.TrimSpace(key))
		switch key {
		case "type":
			o.Type, typeSet = val, true
		case "dest":
			o.Dest = val
		case "name":
			for _, n := range strings.Split(val, ",") {
				if n = strings.TrimSpace(n); n != "" {
					o.Names = append(o.Names, n)
				}
			}
		case "tar":
			o.Tar, err = parseBool(key, val)
			tarSet = true
		case "push":
			o.Push, err = parseBool(key, val)
		case "force-compression":
			o.ForceCompression, err = parseBool(key, val)
		case "oci-mediatypes":
			_, err = parseBool(key, val)
		case "compression":
			o.Compression, err = parseCompression(val)
		case "compression-level":
			n, perr := strconv.Atoi(val)
			if perr != nil {
				err = fmt.Errorf("invalid value %q for compression-level: not an integer", val)
			}
			o.CompressionLevel = &n
		default:
			return Output{}, fmt.Errorf("invalid output %q: unknown key %q", spec, key)
		}
		if err != nil {
			return Output{}, fmt.Errorf("invalid output %q: %w", spec, err)
		}
	}
	if !typeSet && o.Dest != "" {
		o.Type = TypeLocal
	}
	if err := o.validate(tarSet); err != nil {
		return Output{}, fmt.Errorf("invalid output %q: %w", spec, err)
	}
	return o, nil
}

// splitFields splits spec as a CSV record, so that a quoted field may hold
// commas: `type=image,"name=a,b"`.
func splitFields(spec string) ([]string, error) {
	r := csv.NewReader(strings.NewReader(spec))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	fields, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("invalid output %q: %w", spec, err)
	}
	return fields, nil
}

func (o *Output) validate(tarSet bool) error {
	switch o.Type {
	case "":
		return errors.New("type is required")
	case TypeOCI, TypeDocker:
		if !tarSet {
			o.Tar = true
		}
	case TypeImage, TypeLocal, TypeTar, TypeRegistry:
		if tarSet {
			return fmt.Errorf("tar= is only valid for type=oci and type=docker")
		}
	default:
		return fmt.Errorf("unknown output type %q (want image, oci, docker, local, tar or registry)", o.Type)
	}
	switch o.Type {
	case TypeOCI, TypeDocker, TypeLocal, TypeTar:
		if o.Dest == "" {
			return fmt.Errorf("type=%s needs dest=", o.Type)
		}
		if o.Dest == "-" && (o.Type == TypeLocal || !o.Tar && o.Type != TypeTar) {
			return fmt.Errorf("type=%s without a tar cannot be written to stdout", o.Type)
		}
	case TypeRegistry:
		o.Push = true
		if len(o.Names) == 0 {
			return errors.New("type=registry needs name=")
		}
	case TypeImage:
		if o.Push && len(o.Names) == 0 {
			return errors.New("push=true needs name=")
		}
	}
	if o.Compression == "" && (o.CompressionLevel != nil || o.ForceCompression) {
		o.Compression = layer.Gzip
	}
	if o.CompressionLevel != nil {
		return checkLevel(o.Compression, *o.CompressionLevel)
	}
	return nil
}

func parseBool(key, val string) (bool, error) {
	if val == "" {
		return true, nil // "push" alone, as buildx allows for booleans
	}
	b, err := strconv.ParseBool(val)
	if err != nil {
		return false, fmt.Errorf("invalid value %q for %s: not a boolean", val, key)
	}
	return b, nil
}

func parseCompression(val string) (layer.Compression, error) {
	switch c := layer.Compression(strings.ToLower(val)); c {
	case layer.Gzip, layer.Zstd, layer.Uncompressed:
		return c, nil
	}
	return "", fmt.Errorf("unsupported compression %q (want gzip, zstd or uncompressed)", val)
}

// checkLevel accepts the levels BuildKit accepts: gzip 0-9, zstd 0-22;
// uncompressed takes any (ignored).
func checkLevel(c layer.Compression, n int) error {
	limit := 0
	switch c {
	case layer.Gzip:
		limit = 9
	case layer.Zstd:
		limit = 22
	default:
		return nil
	}
	if n < 0 || n > limit {
		return fmt.Errorf("compression-level %d out of range for %s (0-%d)", n, c, limit)
	}
	return nil
}

// ImageFor returns img as this output writes it: with its layers
// recompressed when compression= (or force-compression=,
// compression-level=) asks for it, else img itself.
func (o Output) ImageFor(ctx context.Context, src Source, img *image.Image) (*image.Image, error) {
	var opts []RecompressOption
	if o.CompressionLevel != nil {
		opts = append(opts, WithLevel(*o.CompressionLevel))
	}
	return Recompress(ctx, src, img, o.Compression, o.ForceCompression, opts...)
}
