package exporter

import (
	"reflect"
	"strings"
	"testing"

	"github.com/xbuild/xbuild/layer"
)

func intp(n int) *int { return &n }

func TestParseOutput(t *testing.T) {
	tests := []struct {
		spec string
		want Output
	}{
		{"type=oci,dest=app.tar", Output{Type: "oci", Dest: "app.tar", Tar: true}},
		{"type=docker,dest=-", Output{Type: "docker", Dest: "-", Tar: true}},
		{"type=oci,dest=out,tar=false", Output{Type: "oci", Dest: "out"}},
		{"type=local,dest=out/", Output{Type: "local", Dest: "out/"}},
		{"dest=out", Output{Type: "local", Dest: "out"}},
		{"out", Output{Type: "local", Dest: "out"}},
		{"-", Output{Type: "tar", Dest: "-"}},
		{"type=tar,dest=-", Output{Type: "tar", Dest: "-"}},
		{"type=image", Output{Type: "image"}},
		{"type=image,name=app:1,push=true", Output{Type: "image", Names: []string{"app:1"}, Push: true}},
		{"type=registry,name=127.0.0.1:5000/app:1,compression=zstd",
			Output{Type: "registry", Names: []string{"127.0.0.1:5000/app:1"}, Push: true, Compression: layer.Zstd}},
		{"type=image,name=a,name=b", Output{Type: "image", Names: []string{"a", "b"}}},
		{`type=image,"name=a,b"`, Output{Type: "image", Names: []string{"a", "b"}}},
		{"type=oci,dest=x,compression=gzip,compression-level=3,force-compression=true,oci-mediatypes=true",
			Output{Type: "oci", Dest: "x", Tar: true, Compression: layer.Gzip, CompressionLevel: intp(3), ForceCompression: true}},
		{"type=oci,dest=x,compression=uncompressed", Output{Type: "oci", Dest: "x", Tar: true, Compression: layer.Uncompressed}},
		{"type=oci,dest=x,force-compression=true", Output{Type: "oci", Dest: "x", Tar: true, Compression: layer.Gzip, ForceCompression: true}},
		{"type=docker,dest=x,compression=zstd,compression-level=19",
			Output{Type: "docker", Dest: "x", Tar: true, Compression: layer.Zstd, CompressionLevel: intp(19)}},
		{" TYPE=oci,Dest=x", Output{Type: "oci", Dest: "x", Tar: true}},
	}
	for _, tt := range tests {
		got, err := ParseOutput(tt.spec)
		if err != nil {
			t.Errorf("ParseOutput(%q): %v", tt.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseOutput(%q) =\n %+v, want\n %+v", tt.spec, got, tt.want)
		}
	}
}

func TestParseOutputErrors(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"", "empty"},
		{"type=ftp,dest=x", `unknown output type "ftp"`},
		{"type=oci,dest=x,color=red", `unknown key "color"`},
		{"type=oci", "needs dest="},
		{"type=docker", "needs dest="},
		{"type=local", "needs dest="},
		{"type=tar", "needs dest="},
		{"type=registry", "needs name="},
		{"type=image,push=true", "needs name="},
		{"type=local,dest=-", "stdout"},
		{"type=oci,dest=-,tar=false", "stdout"},
		{"type=oci,dest=x,tar=maybe", `invalid value "maybe" for tar`},
		{"type=image,push=yes", `invalid value "yes" for push`},
		{"type=local,dest=x,tar=false", "tar= is only valid"},
		{"type=oci,dest=x,compression=brotli", `unsupported compression "brotli"`},
		{"type=oci,dest=x,compression=estargz", `unsupported compression "estargz"`},
		{"type=oci,dest=x,compression-level=high", "not an integer"},
		{"type=oci,dest=x,compression=gzip,compression-level=10", "out of range"},
		{"type=oci,dest=x,compression=zstd,compression-level=23", "out of range"},
		{"type=oci,dest", "not key=value"},
		{"name=a", "type is required"},
		{"a,b", "not key=value"},
	}
	for _, tt := range tests {
		_, err := ParseOutput(tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseOutput(%q) error = %v, want one containing %q", tt.spec, err, tt.want)
		}
	}
}
