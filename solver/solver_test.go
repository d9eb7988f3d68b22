package solver

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/xbuild/xbuild/cache"
	"github.com/xbuild/xbuild/llb"
)

type memCache struct {
	mu sync.Mutex
	m  map[digest.Digest]*cache.Record
}

func (c *memCache) Get(ctx context.Context, k digest.Digest) (*cache.Record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.m[k]; ok {
		return r, nil
	}
	return nil, cache.ErrNotFound
}

func (c *memCache) Put(ctx context.Context, k digest.Digest, r *cache.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k] = r
	return nil
}

// countOp runs an ExecOp by appending its first arg to the parent's snapshot name.
type countOp struct {
	v     *llb.Vertex
	execs *atomic.Int32
}

func (o countOp) CacheKey(ctx context.Context, in []digest.Digest) (digest.Digest, error) {
	return Key("test", llb.Encode(o.v.Op()), in, nil), nil
}

func (o countOp) Exec(ctx context.Context, in []Result, log io.Writer) (Result, error) {
	o.execs.Add(1)
	name := ""
	for _, r := range in {
		name += r.Snapshot
	}
	args := o.v.Op().(llb.ExecOp).Args
	if args[0] == "fail" {
		return nil, errors.New("boom")
	}
	return &cache.Record{Snapshot: name + args[0]}, nil
}

func graph(tail string) *llb.Vertex {
	a := llb.New(llb.ExecOp{Args: []string{"a"}}, llb.Meta{})
	b := llb.New(llb.ExecOp{Args: []string{"b"}}, llb.Meta{}, a)
	c := llb.New(llb.ExecOp{Args: []string{"c"}}, llb.Meta{}, a)
	return llb.New(llb.ExecOp{Args: []string{tail}}, llb.Meta{}, b, c)
}

func newSolver(c cache.Store, execs *atomic.Int32, noCache bool) *Solver {
	return New(Options{Cache: c, NoCache: noCache, Resolve: func(v *llb.Vertex) (Op, error) {
		return countOp{v: v, execs: execs}, nil
	}})
}

func TestSolveRunsEachVertexOnceThenCaches(t *testing.T) {
	c := &memCache{m: map[digest.Digest]*cache.Record{}}
	var execs atomic.Int32
	res, err := newSolver(c, &execs, false).Solve(context.Background(), graph("d"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Snapshot != "abacd" {
		t.Fatalf("result %q, want abacd", res.Snapshot)
	}
	if n := execs.Load(); n != 4 {
		t.Fatalf("%d execs, want 4 (shared input run once)", n)
	}
	execs.Store(0)
	if _, err := newSolver(c, &execs, false).Solve(context.Background(), graph("d")); err != nil {
		t.Fatal(err)
	}
	if n := execs.Load(); n != 0 {
		t.Fatalf("cached solve ran %d ops", n)
	}
	// A changed tail re-runs only the tail: its inputs come from the cache.
	if _, err := newSolver(c, &execs, false).Solve(context.Background(), graph("e")); err != nil {
		t.Fatal(err)
	}
	if n := execs.Load(); n != 1 {
		t.Fatalf("changed tail ran %d ops, want 1", n)
	}
	execs.Store(0)
	if _, err := newSolver(c, &execs, true).Solve(context.Background(), graph("d")); err != nil {
		t.Fatal(err)
	}
	if n := execs.Load(); n != 4 {
		t.Fatalf("no-cache solve ran %d ops, want 4", n)
	}
}

func TestSolveReportsFailingVertex(t *testing.T) {
	c := &memCache{m: map[digest.Digest]*cache.Record{}}
	var execs atomic.Int32
	target := graph("fail")
	_, err := newSolver(c, &execs, false).Solve(context.Background(), target)
	var ve *VertexError
	if !errors.As(err, &ve) || ve.Vertex != target {
		t.Fatalf("error %v does not name the failing vertex", err)
	}
}
