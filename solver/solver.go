package solver

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/xbuild/xbuild/cache"
	"github.com/xbuild/xbuild/llb"
)

// Result is what an op produces: a snapshot and its layer chain.
type Result = *cache.Record

// Op gives a vertex its meaning.
type Op interface {
	// CacheKey returns the vertex's key given its inputs' keys, adding any
	// content checksums the op depends on.
	CacheKey(ctx context.Context, inputKeys []digest.Digest) (digest.Digest, error)
	// Exec computes the result from the inputs' results, writing the step's
	// output to log.
	Exec(ctx context.Context, inputs []Result, log io.Writer) (Result, error)
}

// Volatile is implemented by ops whose results are not worth recording in
// the persistent cache (they are cheap to recompute, like a context source).
type Volatile interface{ Volatile() }

// Resolver maps a vertex to its op.
type Resolver func(v *llb.Vertex) (Op, error)

// Reporter receives progress. Methods are called concurrently.
type Reporter interface {
	Started(v *llb.Vertex)
	Cached(v *llb.Vertex)
	Log(v *llb.Vertex) io.Writer
	Done(v *llb.Vertex, err error)
}

// Key hashes a canonical pre-image of an op: the format version, the op's
// encoding, the input keys and content checksums, in order.
func Key(version string, op []byte, inputs, content []digest.Digest) digest.Digest {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00", version, len(op))
	h.Write(op)
	for _, in := range inputs {
		fmt.Fprintf(h, "\x00i:%s", in)
	}
	for _, c := range content {
		fmt.Fprintf(h, "\x00c:%s", c)
	}
	return digest.NewDigest(digest.SHA256, h)
}

// Options configure a Solver.
type Options struct {
	Cache    cache.Store
	Resolve  Resolver
	Reporter Reporter
	// Valid reports whether a cached record can still be used (its snapshot
	// and blobs exist). Nil accepts every record.
	Valid func(*cache.Record) bool
	// NoCache skips lookups (results are still recorded).
	NoCache bool
	// Parallel bounds concurrently running ops; 0 means the number of CPUs.
	Parallel int
}

// Solver solves graphs. One Solver serves one build.
type Solver struct {
	opt  Options
	sem  *semaphore.Weighted
	mu   sync.Mutex
	jobs map[digest.Digest]*job
}

// New returns a Solver.
func New(opt Options) *Solver {
	n := opt.Parallel
	if n <= 0 {
		n = runtime.NumCPU()
	}
	return &Solver{opt: opt, sem: semaphore.NewWeighted(int64(n)), jobs: map[digest.Digest]*job{}}
}

// job is the state of one vertex in this solve.
type job struct {
	v       *llb.Vertex
	op      Op
	keyOnce sync.Once
	key     digest.Digest
	keyErr  error
	resOnce sync.Once
	res     Result
	resErr  error
	shown   bool // reported as started or cached
}

// VertexError says which vertex failed.
type VertexError struct {
	Vertex *llb.Vertex
	Err    error
}

func (e *VertexError) Error() string { return e.Err.Error() }
func (e *VertexError) Unwrap() error { return e.Err }

// Solve returns the result of target, computing only what it needs.
func (s *Solver) Solve(ctx context.Context, target *llb.Vertex) (Result, error) {
	j, err := s.job(target)
	if err != nil {
		return nil, err
	}
	return s.result(ctx, j)
}

func (s *Solver) job(v *llb.Vertex) (*job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[v.Digest()]; ok {
		return j, nil
	}
	op, err := s.opt.Resolve(v)
	if err != nil {
		return nil, &VertexError{Vertex: v, Err: err}
	}
	j := &job{v: v, op: op}
	s.jobs[v.Digest()] = j
	return j, nil
}

func (s *Solver) inputs(j *job) ([]*job, error) {
	out := make([]*job, len(j.v.Inputs()))
	for i, in := range j.v.Inputs() {
		ij, err := s.job(in)
		if err != nil {
			return nil, err
		}
		out[i] = ij
	}
	return out, nil
}

func (s *Solver) cacheKey(ctx context.Context, j *job) (digest.Digest, error) {
	j.keyOnce.Do(func() {
		ins, err := s.inputs(j)
		if err != nil {
			j.keyErr = err
			return
		}
		keys := make([]digest.Digest, len(ins))
		g, gctx := errgroup.WithContext(ctx)
		for i, in := range ins {
			g.Go(func() error {
				k, err := s.cacheKey(gctx, in)
				keys[i] = k
				return err
			})
		}
		if j.keyErr = g.Wait(); j.keyErr != nil {
			j.keyErr = s.adopt(j, j.keyErr)
			return
		}
		j.key, j.keyErr = j.op.CacheKey(ctx, keys)
		if j.keyErr != nil {
			j.keyErr = s.fail(j, j.keyErr)
		}
	})
	return j.key, j.keyErr
}

func (s *Solver) result(ctx context.Context, j *job) (Result, error) {
	j.resOnce.Do(func() { j.res, j.resErr = s.compute(ctx, j) })
	return j.res, j.resErr
}

func (s *Solver) compute(ctx context.Context, j *job) (Result, error) {
	key, err := s.cacheKey(ctx, j)
	if err != nil {
		return nil, err
	}
	_, volatile := j.op.(Volatile)
	if !volatile && !s.opt.NoCache && !j.v.Meta().NoCache {
		if rec, err := s.opt.Cache.Get(ctx, key); err == nil && (s.opt.Valid == nil || s.opt.Valid(rec)) {
			s.reportCached(j)
			return rec, nil
		} else if err != nil && !errors.Is(err, cache.ErrNotFound) {
			return nil, s.fail(j, err)
		}
	}
	ins, err := s.inputs(j)
	if err != nil {
		return nil, err
	}
	inRes := make([]Result, len(ins))
	g, gctx := errgroup.WithContext(ctx)
	for i, in := range ins {
		g.Go(func() error {
			r, err := s.result(gctx, in)
			inRes[i] = r
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, s.adopt(j, err)
	}
	if err := s.sem.Acquire(ctx, 1); err != nil {
		return nil, context.Cause(ctx)
	}
	defer s.sem.Release(1)
	s.mu.Lock()
	j.shown = true
	s.mu.Unlock()
	s.report(func(r Reporter) { r.Started(j.v) })
	var log io.Writer = io.Discard
	if s.opt.Reporter != nil {
		log = s.opt.Reporter.Log(j.v)
	}
	res, err := j.op.Exec(ctx, inRes, log)
	if err != nil {
		return nil, s.fail(j, err)
	}
	if !volatile {
		if err := s.opt.Cache.Put(context.WithoutCancel(ctx), key, res); err != nil {
			return nil, s.fail(j, err)
		}
	}
	s.report(func(r Reporter) { r.Done(j.v, nil) })
	return res, nil
}

// reportCached reports j as cached, and with it every ancestor not
// reported yet: a cache hit needs none of its inputs, but the user expects
// every step of a cached build to say CACHED, inputs first.
func (s *Solver) reportCached(j *job) {
	var walk func(j *job)
	seen := map[*job]bool{}
	walk = func(j *job) {
		if seen[j] {
			return
		}
		seen[j] = true
		s.mu.Lock()
		var ins []*job
		for _, in := range j.v.Inputs() {
			if ij, ok := s.jobs[in.Digest()]; ok {
				ins = append(ins, ij)
			}
		}
		s.mu.Unlock()
		for _, in := range ins {
			walk(in)
		}
		s.mu.Lock()
		show := !j.shown
		j.shown = true
		s.mu.Unlock()
		if show {
			s.report(func(r Reporter) { r.Cached(j.v) })
		}
	}
	walk(j)
}

// adopt attributes an input's failure to j when the input is hidden from
// the user (it has no name), so the error names a step the user wrote.
func (s *Solver) adopt(j *job, err error) error {
	var ve *VertexError
	if errors.As(err, &ve) && ve.Vertex.Meta().Name == "" && ve.Vertex != j.v {
		return s.fail(j, ve.Err)
	}
	return err
}

func (s *Solver) fail(j *job, err error) error {
	var ve *VertexError
	if errors.As(err, &ve) {
		return err
	}
	s.report(func(r Reporter) { r.Done(j.v, err) })
	return &VertexError{Vertex: j.v, Err: err}
}

func (s *Solver) report(f func(Reporter)) {
	if s.opt.Reporter != nil {
		f(s.opt.Reporter)
	}
}
