package llb

import "testing"

func TestChmodApply(t *testing.T) {
	cases := []struct {
		spec  string
		cur   uint32
		isDir bool
		want  uint32
	}{
		{"0755", 0o644, false, 0o755},
		{"u=rwx,g=rx,o=", 0o644, false, 0o750},
		{"+x", 0o644, false, 0o755},
		{"a-w", 0o644, false, 0o444},
		{"g+s", 0o644, false, 0o2644},
		{"u+s,+t", 0o755, false, 0o5755},
		{"a+X", 0o644, false, 0o644},
		{"a+X", 0o744, false, 0o755},
		{"a+X", 0o700, true, 0o711},
		{"go=", 0o777, false, 0o700},
		{"u=rw,go=r", 0o4777, false, 0o644},
		{"o+w-r", 0o644, false, 0o642},
	}
	for _, c := range cases {
		m, err := ParseChmod(c.spec)
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
			continue
		}
		if got := m.Apply(c.cur, c.isDir); got != c.want {
			t.Errorf("%s on %04o (dir %v) = %04o, want %04o", c.spec, c.cur, c.isDir, got, c.want)
		}
	}
	for _, bad := range []string{"u+q", "z+x", "u", "08", "10000", "u+x,"} {
		if _, err := ParseChmod(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
