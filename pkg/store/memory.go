package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stepline/stepline/pkg/engine"
)

// Memory is a Store held in memory, for tests of callers. Records are kept as JSON, as Bolt
// and DynamoDB keep them, so a caller sees the same copies and the same round-trip losses
// (numbers in Config come back as float64) whichever store it runs against.
type Memory struct {
	// Fail, when set, is called with the method's name ("PutRun", "Acquire", …) before every
	// call; a non-nil result is returned as the method's error. Tests of callers use it to
	// inject store failures. Set it before the Memory is shared.
	Fail func(method string) error

	mu    sync.Mutex
	runs  map[string][]byte
	seqs  map[string]int64
	lanes map[laneKey]engine.Lane
	// tokens are the task tokens of waiting runs, by run and task.
	tokens map[[2]string]string
	// claims are SeqFor's run numbers, by counter scope key and event key.
	claims map[[2]string]int64
	// requests are the inputs queued for runs (Requests).
	requests map[string][]engine.Input
}

// laneKey is a lane's scope (Scope.Key) and stage.
type laneKey struct{ scope, stage string }

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{
		runs:  map[string][]byte{},
		seqs:  map[string]int64{},
		lanes: map[laneKey]engine.Lane{},
	}
}

func (m *Memory) begin(ctx context.Context, method string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.Fail != nil {
		return m.Fail(method)
	}
	return nil
}

// NextSeq implements Store.
func (m *Memory) NextSeq(ctx context.Context, scope Scope) (int64, error) {
	if err := m.begin(ctx, "NextSeq"); err != nil {
		return 0, err
	}
	if err := scope.check(); err != nil {
		return 0, fmt.Errorf("next seq: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c := scope.Counter().Key()
	m.seqs[c]++
	return m.seqs[c], nil
}

// SeqFor returns the run number of the run the event key starts in scope's repository and
// pipeline: NextSeq's for the first call, the same number for every later call with the key
// (dynamo.Store.SeqFor).
func (m *Memory) SeqFor(ctx context.Context, scope Scope, key string) (int64, error) {
	if err := m.begin(ctx, "SeqFor"); err != nil {
		return 0, err
	}
	if err := scope.check(); err != nil {
		return 0, fmt.Errorf("seq for key: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.claims == nil {
		m.claims = map[[2]string]int64{}
	}
	c := scope.Counter().Key()
	k := [2]string{c, key}
	if n, ok := m.claims[k]; ok {
		return n, nil
	}
	m.seqs[c]++
	m.claims[k] = m.seqs[c]
	return m.claims[k], nil
}

// PutRun implements Store.
func (m *Memory) PutRun(ctx context.Context, r Record) error {
	if err := m.begin(ctx, "PutRun"); err != nil {
		return err
	}
	if err := checkRecord(r); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("put run %s: %w", r.ID(), err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs[r.ID()] = b
	return nil
}

// GetRun implements Store.
func (m *Memory) GetRun(ctx context.Context, id string) (Record, error) {
	if err := m.begin(ctx, "GetRun"); err != nil {
		return Record{}, err
	}
	m.mu.Lock()
	b, ok := m.runs[id]
	m.mu.Unlock()
	if !ok {
		return Record{}, fmt.Errorf("get run %q: %w", id, ErrNotFound)
	}
	return decode(id, b)
}

// FindRun implements Finder.
func (m *Memory) FindRun(ctx context.Context, prefix string) (Record, error) {
	if err := m.begin(ctx, "FindRun"); err != nil {
		return Record{}, err
	}
	r, err := m.find(prefix)
	if err != nil {
		return Record{}, fmt.Errorf("find run %q: %w", prefix, err)
	}
	return r, nil
}

func (m *Memory) find(prefix string) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b, ok := m.runs[prefix]; ok {
		return decode(prefix, b)
	}
	var found []string
	for key := range m.runs {
		if prefix != "" && strings.HasPrefix(key, prefix) {
			found = append(found, key)
		}
	}
	slices.Sort(found)
	switch len(found) {
	case 0:
		return Record{}, ErrNotFound
	case 1:
		return decode(found[0], m.runs[found[0]])
	}
	return Record{}, Ambiguous(prefix, found[:min(len(found), MaxMatches+1)])
}

// ListRuns implements Store.
func (m *Memory) ListRuns(ctx context.Context, f Filter) ([]Record, error) {
	if err := m.begin(ctx, "ListRuns"); err != nil {
		return nil, err
	}
	recs, err := m.all(f.Pipeline)
	if err != nil {
		return nil, err
	}
	var after *Record
	if f.After != "" {
		m.mu.Lock()
		b, ok := m.runs[f.After]
		m.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("list runs after %q: %w", f.After, ErrNotFound)
		}
		a, err := decode(f.After, b)
		if err != nil {
			return nil, err
		}
		after = &a
	}
	recs = slices.DeleteFunc(recs, func(r Record) bool {
		return !f.Keeps(r) || f.Unfinished && r.State.Done() || after != nil && !Before(*after, r)
	})
	if f.Limit > 0 && len(recs) > f.Limit {
		recs = recs[:f.Limit]
	}
	return recs, nil
}

// Latest implements Store.
func (m *Memory) Latest(ctx context.Context) ([]Record, error) {
	if err := m.begin(ctx, "Latest"); err != nil {
		return nil, err
	}
	recs, err := m.all("")
	if err != nil {
		return nil, err
	}
	return Newest(recs), nil
}

// LastSucceeded implements Store.
func (m *Memory) LastSucceeded(ctx context.Context, scope Scope) (Record, error) {
	if err := m.begin(ctx, "LastSucceeded"); err != nil {
		return Record{}, err
	}
	recs, err := m.all(scope.Pipeline)
	if err != nil {
		return Record{}, err
	}
	for _, r := range recs {
		if r.State.Status == engine.Succeeded && r.Scope() == scope {
			return r, nil
		}
	}
	return Record{}, fmt.Errorf("last succeeded run of %s: %w", scope, ErrNotFound)
}

// all decodes the runs of pipeline (every run when empty), newest first.
func (m *Memory) all(pipeline string) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var recs []Record
	for id, b := range m.runs {
		r, err := decode(id, b)
		if err != nil {
			return nil, err
		}
		if pipeline == "" || r.Pipeline() == pipeline {
			recs = append(recs, r)
		}
	}
	slices.SortFunc(recs, CompareNewest)
	return recs, nil
}

// Acquire implements Store.
func (m *Memory) Acquire(ctx context.Context, scope Scope, stage string, mode engine.Mode, run string, seq int64) (engine.Grant, error) {
	if err := m.begin(ctx, "Acquire"); err != nil {
		return engine.Grant{}, err
	}
	if err := checkLane(scope, stage, run); err != nil {
		return engine.Grant{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := laneKey{scope.Key(), stage}
	lane, g := m.lanes[k].Acquire(mode, run, seq)
	m.setLane(k, lane)
	return g, nil
}

// Release implements Store.
func (m *Memory) Release(ctx context.Context, scope Scope, stage, run string) (string, error) {
	if err := m.begin(ctx, "Release"); err != nil {
		return "", err
	}
	if err := checkLane(scope, stage, run); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := laneKey{scope.Key(), stage}
	lane, next := m.lanes[k].Release(run)
	m.setLane(k, lane)
	return next, nil
}

// setLane forgets free lanes so a long-lived store does not grow with every stage ever run.
func (m *Memory) setLane(k laneKey, l engine.Lane) {
	if free(l) {
		delete(m.lanes, k)
		return
	}
	m.lanes[k] = l
}

// decode reads a stored record; id names it in the error.
func decode(id string, b []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, fmt.Errorf("decode run %s: %w", id, err)
	}
	return r, nil
}

// PutToken keeps the Step Functions task token of a run's waiting task. expires is ignored:
// the memory store lives shorter than any token.
func (m *Memory) PutToken(ctx context.Context, run, task, token string, _ time.Time) error {
	if err := m.begin(ctx, "PutToken"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens == nil {
		m.tokens = map[[2]string]string{}
	}
	m.tokens[[2]string{run, task}] = token
	return nil
}

// Token returns the token PutToken kept, or ErrNotFound.
func (m *Memory) Token(ctx context.Context, run, task string) (string, error) {
	if err := m.begin(ctx, "Token"); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[[2]string{run, task}]
	if !ok {
		return "", fmt.Errorf("token of %s %s: %w", run, task, ErrNotFound)
	}
	return t, nil
}

// DeleteToken forgets a token; deleting a missing one is not an error.
func (m *Memory) DeleteToken(ctx context.Context, run, task string) error {
	if err := m.begin(ctx, "DeleteToken"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.tokens, [2]string{run, task})
	return nil
}
