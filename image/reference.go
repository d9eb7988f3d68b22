package image

import (
	"fmt"
	"regexp"
	"strings"
)

// Reference is a normalized image reference.
type Reference struct {
	Domain string // "docker.io"
	Path   string // "library/busybox"
	Tag    string // "latest" unless a digest is given without a tag
	Digest string // "sha256:…" or ""
}

var (
	pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	tagRE         = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestRE      = regexp.MustCompile(`^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}$`)
	domainRE      = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[a-fA-F0-9:]+\](?::[0-9]+)?$`)
)

// ParseReference normalizes ref as Docker does: "busybox" →
// docker.io/library/busybox:latest.
func ParseReference(ref string) (Reference, error) {
	if ref == "" {
		return Reference{}, fmt.Errorf("invalid reference format: empty name")
	}
	var r Reference
	rest := ref
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		r.Digest = rest[i+1:]
		rest = rest[:i]
		if !digestRE.MatchString(r.Digest) {
			return Reference{}, fmt.Errorf("invalid reference format: bad digest in %q", ref)
		}
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.Contains(rest[i:], "/") {
		r.Tag = rest[i+1:]
		rest = rest[:i]
		if !tagRE.MatchString(r.Tag) {
			return Reference{}, fmt.Errorf("invalid reference format: bad tag in %q", ref)
		}
	}
	first, remainder, hasSlash := strings.Cut(rest, "/")
	if hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost" || strings.HasPrefix(first, "[")) {
		if !domainRE.MatchString(first) {
			return Reference{}, fmt.Errorf("invalid reference format: bad registry %q", first)
		}
		r.Domain, r.Path = first, remainder
	} else {
		r.Domain, r.Path = "docker.io", rest
	}
	if r.Domain == "index.docker.io" {
		r.Domain = "docker.io"
	}
	if r.Domain == "docker.io" && !strings.Contains(r.Path, "/") {
		r.Path = "library/" + r.Path
	}
	for _, c := range strings.Split(r.Path, "/") {
		if !pathComponent.MatchString(c) {
			if strings.ToLower(c) == c {
				return Reference{}, fmt.Errorf("invalid reference format: %q", ref)
			}
			return Reference{}, fmt.Errorf("invalid reference format: repository name (%s) must be lowercase", r.Path)
		}
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	return r, nil
}

// Repository is domain/path.
func (r Reference) Repository() string { return r.Domain + "/" + r.Path }

// String is the full normalized form.
func (r Reference) String() string {
	s := r.Repository()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// FamiliarRepository is the short form Docker prints: "busybox",
// "mynginx/df_test1", "127.0.0.1:5000/app".
func (r Reference) FamiliarRepository() string {
	if r.Domain == "docker.io" {
		return strings.TrimPrefix(r.Path, "library/")
	}
	return r.Repository()
}

// Familiar is the short form with tag/digest: "busybox:latest".
func (r Reference) Familiar() string {
	s := r.FamiliarRepository()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}
