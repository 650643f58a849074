package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/stepline/stepline/pkg/engine"
)

// ErrBusy is returned (wrapped) by Bolt when another process kept the history file locked
// for longer than the open timeout.
var ErrBusy = errors.New("another stepline process holds it")

// Bucket names. Index keys end in orderKey, so a bucket scanned backwards yields runs newest
// first without decoding a record that will not be returned. Scopes are keyed by Scope.Key,
// which no other scope's key prefixes, followed by NUL.
//
// A run that has ended is in the history's buckets (runs, definitions, run_keys) and its
// indexes (by_time, pipeline, scope_succeeded, listing); a run that has not is apart, in buckets that
// hold only the runs not done (active_*, and the unfinished index), so that the writes of its
// every state change touch buckets the size of what runs, not of the history. It moves once,
// when it ends, its stages then written inline (no state change follows). Every run, ended or
// not, may be its scope's newest (scope_latest), which PutRun moves forward.
var (
	bucketRuns              = []byte("runs")               // ended run id → JSON Record without its definition
	bucketDefinitions       = []byte("definitions")        // ended run id → JSON engine.Definition
	bucketRunKeys           = []byte("run_keys")           // ended run id → its index keys (indexKeys), as last written
	bucketActiveRuns        = []byte("active_runs")        // the same three for the runs not done, the record without its stages' actions
	bucketActiveDefinitions = []byte("active_definitions") //
	bucketActiveKeys        = []byte("active_keys")        //
	bucketActiveStages      = []byte("active_stages")      // stageKey → JSON stagePart: a stage's actions and logs, of a run not done
	bucketRevisions         = []byte("active_revisions")   // run id → random bytes, new with every write of a run not done
	bucketCounters          = []byte("counters")           // Scope.Counter key → last run number, decimal
	bucketLanes             = []byte("scope_lanes")        // scope NUL stage → JSON engine.Lane
	bucketByTime            = []byte("by_time")            // orderKey → run id: every pipeline's ended runs
	bucketPipeline          = []byte("pipeline")           // pipeline NUL orderKey → ended run id
	bucketSucceeded         = []byte("scope_succeeded")    // scope NUL orderKey → run id, succeeded runs only
	bucketUnfinished        = []byte("unfinished")         // pipeline NUL orderKey → run id, runs not done only
	bucketListing           = []byte("listing")            // ListingKey NUL orderKey → ended run id, under each of its ListingKeys
	bucketLatest            = []byte("scope_latest")       // Scope.Key → orderKey of the scope's newest run (the id ends it)
)

// buckets are every bucket of a history file, which each write transaction makes sure of.
var buckets = [][]byte{bucketRuns, bucketDefinitions, bucketRunKeys, bucketActiveRuns,
	bucketActiveDefinitions, bucketActiveStages, bucketActiveKeys, bucketRevisions, bucketCounters,
	bucketLanes, bucketByTime, bucketPipeline, bucketSucceeded, bucketUnfinished, bucketListing, bucketLatest}

// place names the buckets of a run's record: its head, definition, stages (nil: inline) and
// index keys.
type place struct{ runs, defs, stages, keys []byte }

var (
	ended   = place{bucketRuns, bucketDefinitions, nil, bucketRunKeys}
	running = place{bucketActiveRuns, bucketActiveDefinitions, bucketActiveStages, bucketActiveKeys}
)

// indexes are the buckets a run's index keys go to, in the order of their tags in run_keys.
var indexes = [][]byte{bucketByTime, bucketPipeline, bucketSucceeded, bucketUnfinished, bucketListing}

// Buckets of stores written before runs were scoped (see migrate): counters, lanes and
// succeeded runs keyed by the pipeline name alone.
var (
	legacySeq       = []byte("seq")       // pipeline → last run number: new counters start from it
	legacyLanes     = []byte("lanes")     // pipeline NUL stage → lane: dropped
	legacySucceeded = []byte("succeeded") // pipeline NUL orderKey → run id: rebuilt by scope
)

// Bolt is a Store in a bbolt file, for local runs.
//
// bbolt locks its file for as long as it is open, so a Bolt opens the file for each call and
// closes it straight after: a `stepline runs` in a second terminal can read the history while
// a run is writing it, waiting at most the open timeout for the writer's few milliseconds.
// Reads open the file read-only, under a shared lock, so readers never wait for each other.
// Within one process, share one Bolt per file: its mutex queues the calls, which the file
// lock alone would do only by polling.
type Bolt struct {
	path    string
	timeout time.Duration
	mu      sync.RWMutex
	// written holds what this Bolt last wrote of each run it is writing (under mu), so
	// that a state change encodes only the stages that changed (writeRecord).
	written map[string]*written
}

// maxWritten bounds Bolt.written: the runs one process drives at once.
const maxWritten = 64

var _ Store = (*Bolt)(nil)

// Option configures a Bolt.
type Option func(*Bolt)

// WithTimeout sets how long a call waits for another process to release the file before it
// fails with ErrBusy. The default is five seconds; zero or less keeps it, because bbolt would
// read zero as "wait forever" and a stuck process would hang every other one.
func WithTimeout(d time.Duration) Option {
	return func(b *Bolt) {
		if d > 0 {
			b.timeout = d
		}
	}
}

// NewBolt returns a Store kept in the bbolt file at path. The file and its directory are
// created by the first write; until then reads see an empty history.
func NewBolt(path string, opts ...Option) *Bolt {
	b := &Bolt{path: path, timeout: 5 * time.Second}
	for _, o := range opts {
		o(b)
	}
	return b
}

// view runs fn in a read-only transaction. fn is not called when the file does not exist
// yet, so every reader must treat "no call" as an empty history.
func (b *Bolt) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	// A file of size zero has just been created by a writer that has not initialised it yet;
	// bbolt would try to initialise it through a read-only handle and fail.
	if info, err := os.Stat(b.path); errors.Is(err, fs.ErrNotExist) || err == nil && info.Size() == 0 {
		return nil
	}
	db, err := b.open(true)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(fn)
}

// update runs fn in a read-write transaction with every bucket present.
func (b *Bolt) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(b.path), 0o755); err != nil {
		return fmt.Errorf("open %s: %w", b.path, err)
	}
	db, err := b.open(false)
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		listed := tx.Bucket(bucketListing) != nil && tx.Bucket(bucketLatest) != nil
		if tx.Bucket(bucketSucceeded) == nil {
			if err := migrate(tx); err != nil {
				return fmt.Errorf("index the runs by scope: %w", err)
			}
		}
		if tx.Bucket(bucketUnfinished) == nil {
			if err := migrateUnfinished(tx); err != nil {
				return fmt.Errorf("index the unfinished runs: %w", err)
			}
		}
		if !listed {
			if err := migrateListing(tx); err != nil {
				return fmt.Errorf("list the runs by branch and status: %w", err)
			}
		}
		for _, name := range buckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return fn(tx)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

func (b *Bolt) open(readOnly bool) (*bolt.DB, error) {
	db, err := bolt.Open(b.path, 0o644, &bolt.Options{Timeout: b.timeout, ReadOnly: readOnly})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w (gave up after %s)", b.path, ErrBusy, b.timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", b.path, err)
	}
	return db, nil
}

// migrate brings a store written before runs were scoped up to date, once, inside the first
// write transaction that finds no scoped index: the succeeded runs are indexed by their
// scope (old records carry their repository, branch and environment, so Record.Scope reads
// them as a new run's), and the pipeline-keyed lanes and index are dropped. The old run
// counters stay: a new counter starts where its pipeline's old one stopped (NextSeq). A
// record that cannot be decoded is left unindexed, as it could never be a rollback target.
func migrate(tx *bolt.Tx) error {
	index, err := tx.CreateBucket(bucketSucceeded)
	if err != nil {
		return err
	}
	for _, name := range [][]byte{legacyLanes, legacySucceeded} {
		if err := tx.DeleteBucket(name); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
			return err
		}
	}
	runs := tx.Bucket(bucketRuns)
	if runs == nil {
		return nil
	}
	return runs.ForEach(func(id, data []byte) error {
		r, err := decode(string(id), data)
		if err != nil || r.State.Status != engine.Succeeded || checkRecord(r) != nil {
			return nil
		}
		return index.Put(succeededKey(r), id)
	})
}

// migrateUnfinished brings a store written before the unfinished index up to date, once,
// inside the first write transaction that finds no such index: every run's index keys are
// recorded (so a later PutRun replaces them without decoding the record) and its unfinished
// entry written. Records keep their definition inline until they are next written; decode
// reads both forms. A record that cannot be decoded is left out of the new indexes.
func migrateUnfinished(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketUnfinished, bucketRunKeys, bucketListing} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	runs := tx.Bucket(bucketRuns)
	if runs == nil {
		return nil
	}
	type entry struct {
		id          []byte
		before, now []byte
	}
	var found []entry
	err := runs.ForEach(func(id, data []byte) error {
		r, err := decode(string(id), data)
		if err != nil || checkRecord(r) != nil {
			return nil
		}
		found = append(found, entry{bytes.Clone(id), legacyIndexKeys(r), indexKeys(r)})
		return nil
	})
	if err != nil {
		return err
	}
	for _, e := range found {
		if err := eachIndexKey(e.before, func(bk int, k []byte) error { return tx.Bucket(indexes[bk]).Delete(k) }); err != nil {
			return err
		}
		// The record stays where it is until it is next written (loadRun reads it there).
		if err := putIndexKeys(tx, e.id, e.now, ended); err != nil {
			return err
		}
	}
	return nil
}

// migrateListing brings a store written before the listings and the scopes' newest runs up to
// date, once, inside the first write transaction that finds either missing: every ended run's
// index keys are replaced by today's (its listing keys added) and every scope's newest run
// pointed at. A record that cannot be decoded is left as it is.
func migrateListing(tx *bolt.Tx) error {
	for _, name := range buckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	for _, at := range []place{ended, running} {
		type entry struct {
			id  []byte
			rec Record
		}
		var found []entry
		err := tx.Bucket(at.runs).ForEach(func(id, data []byte) error {
			r, err := readRun(tx, at, string(id), data)
			if err != nil || checkRecord(r) != nil {
				return nil
			}
			found = append(found, entry{bytes.Clone(id), r})
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range found {
			old, now := bytes.Clone(tx.Bucket(at.keys).Get(e.id)), indexKeys(e.rec)
			if old != nil && !bytes.Equal(old, now) {
				if err := eachIndexKey(old, func(bk int, k []byte) error { return tx.Bucket(indexes[bk]).Delete(k) }); err != nil {
					return err
				}
				if err := putIndexKeys(tx, e.id, now, at); err != nil {
					return err
				}
			}
			if err := pointLatest(tx, e.rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// pointLatest makes r its scope's newest run unless a newer one is (by ListRuns order).
func pointLatest(tx *bolt.Tx, r Record) error {
	bk, key, order := tx.Bucket(bucketLatest), []byte(r.Scope().Key()), orderKey(r)
	old := bk.Get(key)
	switch {
	case bytes.Equal(old, order):
		return nil
	case old != nil && bytes.Compare(old, order) > 0 && string(old[min(len(old), orderDigits):]) != r.ID():
		return nil
	}
	return bk.Put(key, order)
}

// legacyIndexKeys are the index keys a run had before the unfinished index: a run not done
// was in by_time and pipeline too.
func legacyIndexKeys(r Record) []byte {
	done := r
	done.State.Status = engine.Failed
	if r.State.Status == engine.Succeeded {
		done.State.Status = engine.Succeeded
	}
	return indexKeys(done)
}

// NextSeq implements Store.
func (b *Bolt) NextSeq(ctx context.Context, scope Scope) (int64, error) {
	if err := scope.check(); err != nil {
		return 0, fmt.Errorf("next seq: %w", err)
	}
	key := []byte(scope.Counter().Key())
	var seq int64
	err := b.update(ctx, func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketCounters)
		v := bk.Get(key)
		if v == nil {
			// A store from before scoped counters: carry on from the pipeline's old number,
			// so a history does not seem to start again at 1.
			if old := tx.Bucket(legacySeq); old != nil {
				v = old.Get([]byte(scope.Pipeline))
			}
		}
		if v != nil {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return fmt.Errorf("counter of %s: %w", scope.Counter(), err)
			}
			seq = n
		}
		seq++
		return bk.Put(key, strconv.AppendInt(nil, seq, 10))
	})
	if err != nil {
		return 0, fmt.Errorf("next seq of %s: %w", scope.Counter(), err)
	}
	return seq, nil
}

// PutRun implements Store.
func (b *Bolt) PutRun(ctx context.Context, r Record) error {
	if err := checkRecord(r); err != nil {
		return err
	}
	err := b.update(ctx, func(tx *bolt.Tx) error {
		w, err := putRun(tx, r, b.written[r.ID()])
		b.remember(r, w)
		return err
	})
	if err != nil {
		return fmt.Errorf("put run %s: %w", r.ID(), err)
	}
	return nil
}

// putRun writes r and its index entries in tx. What it costs does not grow with the history
// nor, much, with the pipeline: a run not done is written apart from the history (place), the
// old index entries come from its index keys (no old record is decoded), and the record is
// written by parts, only those that changed (writeRecord). last is what this process wrote of
// the run before, if it still holds; the returned value is what it writes now.
func putRun(tx *bolt.Tx, r Record, last *written) (*written, error) {
	id := []byte(r.ID())
	here, other := running, ended
	if r.State.Done() {
		here, other = ended, running
	}
	keys := indexKeys(r)
	old, moved := tx.Bucket(here.keys).Get(id), false
	if old == nil {
		old, moved = tx.Bucket(other.keys).Get(id), true
	}
	if old == nil && (tx.Bucket(ended.runs).Get(id) != nil || tx.Bucket(running.runs).Get(id) != nil) {
		// Not indexed since migrateUnfinished: only a file edited by hand gets here.
		return nil, fmt.Errorf("run %s has no index keys", r.ID())
	}
	old = bytes.Clone(old)
	if old != nil && moved {
		if err := move(tx, r, other, here); err != nil {
			return nil, err
		}
	}
	if moved || !bytes.Equal(old, keys) {
		if err := eachIndexKey(old, func(bk int, k []byte) error { return tx.Bucket(indexes[bk]).Delete(k) }); err != nil {
			return nil, err
		}
		if err := putIndexKeys(tx, id, keys, here); err != nil {
			return nil, err
		}
	}
	if r.State.Done() {
		last = nil
		if err := tx.Bucket(bucketRevisions).Delete(id); err != nil {
			return nil, err
		}
	}
	if err := pointLatest(tx, r); err != nil {
		return nil, err
	}
	return writeRecord(tx, r, last, here)
}

// move takes run r's record out of from, keeping its definition for to: the rest is
// written anew.
func move(tx *bolt.Tx, r Record, from, to place) error {
	id := []byte(r.ID())
	if def := bytes.Clone(tx.Bucket(from.defs).Get(id)); def != nil {
		if err := tx.Bucket(to.defs).Put(id, def); err != nil {
			return err
		}
	}
	for _, name := range [][]byte{from.runs, from.defs, from.keys} {
		if err := tx.Bucket(name).Delete(id); err != nil {
			return err
		}
	}
	for i := range r.State.Stages {
		if from.stages == nil {
			break
		}
		if err := tx.Bucket(from.stages).Delete(stageKey(r.ID(), i)); err != nil {
			return err
		}
	}
	return nil
}

// remember keeps w as what was last written of r, forgetting ended runs (no state change
// follows) and, past maxWritten, any other.
func (b *Bolt) remember(r Record, w *written) {
	if w == nil || r.State.Done() {
		delete(b.written, r.ID())
		return
	}
	if b.written == nil {
		b.written = map[string]*written{}
	}
	for id := range b.written {
		if len(b.written) < maxWritten {
			break
		}
		delete(b.written, id)
	}
	b.written[r.ID()] = w
}

// putIndexKeys writes run id's entries under keys (indexKeys) and records them in at.
func putIndexKeys(tx *bolt.Tx, id, keys []byte, at place) error {
	err := eachIndexKey(keys, func(bk int, k []byte) error { return tx.Bucket(indexes[bk]).Put(k, id) })
	if err != nil {
		return err
	}
	return tx.Bucket(at.keys).Put(id, keys)
}

// indexKeys encodes r's index keys: for each, the position of its bucket in indexes, the
// key's length as a uvarint and the key.
func indexKeys(r Record) []byte {
	order := orderKey(r)
	var out []byte
	add := func(bk int, key []byte) {
		out = append(out, byte(bk))
		out = binary.AppendUvarint(out, uint64(len(key)))
		out = append(out, key...)
	}
	if !r.State.Done() {
		add(3, append(pipelinePrefix(r.Pipeline()), order...))
		return out
	}
	add(0, order)
	add(1, append(pipelinePrefix(r.Pipeline()), order...))
	if r.State.Status == engine.Succeeded {
		add(2, succeededKey(r))
	}
	for _, k := range ListingKeys(r) {
		add(4, append(listingPrefix(k), order...))
	}
	return out
}

// eachIndexKey calls fn with each bucket position and key indexKeys encoded in keys.
func eachIndexKey(keys []byte, fn func(bk int, key []byte) error) error {
	for len(keys) > 0 {
		bk := int(keys[0])
		n, w := binary.Uvarint(keys[1:])
		if bk >= len(indexes) || w <= 0 || uint64(len(keys)-1-w) < n {
			return errors.New("damaged index keys")
		}
		start := 1 + w
		if err := fn(bk, keys[start:start+int(n)]); err != nil {
			return err
		}
		keys = keys[start+int(n):]
	}
	return nil
}

// succeededKey is r's key in the succeeded index: its scope, then its order.
func succeededKey(r Record) []byte {
	return append(scopePrefix(r.Scope()), orderKey(r)...)
}

// orderDigits is the length of an orderKey before the run's id.
const orderDigits = 40

// orderKey sorts as ListRuns orders, oldest first: start time and seq as 20 digits (enough
// for any int64, and readable in a bbolt dump), then the id to keep keys unique.
func orderKey(r Record) []byte {
	k := fmt.Appendf(nil, "%020d%020d", max(r.State.Started, 0), max(r.State.Seq, 0))
	return append(k, r.ID()...)
}

func pipelinePrefix(pipeline string) []byte {
	return append([]byte(pipeline), 0)
}

func listingPrefix(key string) []byte {
	return append([]byte(key), 0)
}

func scopePrefix(s Scope) []byte {
	return append([]byte(s.Key()), 0)
}

// GetRun implements Store.
func (b *Bolt) GetRun(ctx context.Context, id string) (Record, error) {
	return b.lookUp(ctx, "get", id, getRun)
}

// FindRun implements Finder.
func (b *Bolt) FindRun(ctx context.Context, prefix string) (Record, error) {
	return b.lookUp(ctx, "find", prefix, findRun)
}

// lookUp reads one run with look in a read transaction.
func (b *Bolt) lookUp(ctx context.Context, verb, id string, look func(*bolt.Tx, string) (Record, error)) (Record, error) {
	var r Record
	err := b.view(ctx, func(tx *bolt.Tx) error {
		var err error
		r, err = look(tx, id)
		return err
	})
	if err == nil && r.ID() == "" {
		err = ErrNotFound // the file does not exist yet
	}
	if err != nil {
		return Record{}, fmt.Errorf("%s run %q: %w", verb, id, err)
	}
	return r, nil
}

// getRun reads the run named id in tx, wherever it is (place).
func getRun(tx *bolt.Tx, id string) (Record, error) {
	if id == "" {
		return Record{}, ErrNotFound
	}
	for _, at := range []place{running, ended} {
		if runs := tx.Bucket(at.runs); runs != nil {
			if data := runs.Get([]byte(id)); data != nil {
				return readRun(tx, at, id, data)
			}
		}
	}
	return Record{}, ErrNotFound
}

// findRun finds the run named or uniquely prefixed by prefix in tx, reading at most
// MaxMatches+1 keys of each place.
func findRun(tx *bolt.Tx, prefix string) (Record, error) {
	if r, err := getRun(tx, prefix); !errors.Is(err, ErrNotFound) || prefix == "" {
		return r, err
	}
	var found []string
	for _, at := range []place{running, ended} {
		runs := tx.Bucket(at.runs)
		if runs == nil {
			continue
		}
		c := runs.Cursor()
		n := 0
		for k, _ := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)) && n <= MaxMatches; k, _ = c.Next() {
			found, n = append(found, string(k)), n+1
		}
	}
	slices.Sort(found)
	found = slices.Compact(found)
	switch len(found) {
	case 0:
		return Record{}, ErrNotFound
	case 1:
		return getRun(tx, found[0])
	}
	return Record{}, Ambiguous(prefix, found[:min(len(found), MaxMatches+1)])
}

// ListRuns implements Store. The ended runs come from the history's indexes, newest first: a
// pipeline's listing of f's branch or status when f asks for one (Filter.Listed), else the
// pipeline's or every pipeline's index; the runs not done (a few, apart) are merged in at
// their places. A page after f.After starts where that run's key would be.
func (b *Bolt) ListRuns(ctx context.Context, f Filter) ([]Record, error) {
	var recs []Record
	err := b.view(ctx, func(tx *bolt.Tx) error {
		var after *Record
		if f.After != "" {
			r, err := getRun(tx, f.After)
			if err != nil {
				return fmt.Errorf("after %q: %w", f.After, err)
			}
			after = &r
		}
		active, err := unfinished(tx, f, after)
		if err != nil || f.OnlyUnfinished() {
			recs = active
			return err
		}
		seen := map[string]bool{}
		for _, r := range active {
			seen[r.ID()] = true
		}
		full := func() bool { return f.Limit > 0 && len(recs) >= f.Limit }
		index, prefix := tx.Bucket(bucketByTime), []byte(nil)
		switch {
		case f.Listed() && tx.Bucket(bucketListing) != nil:
			index, prefix = tx.Bucket(bucketListing), listingPrefix(ListingKey(f.Pipeline, f.Branch, f.Status))
		case f.Pipeline != "":
			index, prefix = tx.Bucket(bucketPipeline), pipelinePrefix(f.Pipeline)
		}
		var before []byte
		if after != nil {
			before = orderKey(*after)
		}
		err = newestFirst(tx, index, prefix, before, func(r Record) bool {
			if seen[r.ID()] || !f.Keeps(r) {
				// A run not done in a file no write has migrated yet; a run of another
				// branch or status where no listing serves the filter.
				return true
			}
			for len(active) > 0 && CompareNewest(active[0], r) < 0 && !full() {
				recs, active = append(recs, active[0]), active[1:]
			}
			if !full() {
				recs = append(recs, r)
			}
			return !full()
		})
		for len(active) > 0 && !full() {
			recs, active = append(recs, active[0]), active[1:]
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return recs, nil
}

// unfinished reads the runs f selects that are not done, after the run after (nil: from the
// newest), from the unfinished index, which holds only those: what it reads does not grow
// with the history. A file no write has migrated yet has no such index, and its pipeline
// index is walked instead.
func unfinished(tx *bolt.Tx, f Filter, after *Record) ([]Record, error) {
	var prefix []byte
	if f.Pipeline != "" {
		prefix = pipelinePrefix(f.Pipeline)
	}
	index := tx.Bucket(bucketUnfinished)
	if index == nil {
		index = tx.Bucket(bucketByTime)
		if f.Pipeline != "" {
			index = tx.Bucket(bucketPipeline)
		}
	}
	var recs []Record
	err := newestFirst(tx, index, prefix, nil, func(r Record) bool {
		if !r.State.Done() && f.Keeps(r) && (after == nil || CompareNewest(*after, r) < 0) {
			recs = append(recs, r)
		}
		return true
	})
	// Without a pipeline the index is ordered by pipeline first.
	slices.SortFunc(recs, CompareNewest)
	if f.Limit > 0 && len(recs) > f.Limit {
		recs = recs[:f.Limit]
	}
	return recs, err
}

// Latest implements Store: the scopes' pointers to their newest runs, each run read once.
func (b *Bolt) Latest(ctx context.Context) ([]Record, error) {
	var recs []Record
	err := b.view(ctx, func(tx *bolt.Tx) error {
		latest := tx.Bucket(bucketLatest)
		if latest == nil {
			// A file no write has migrated yet (reads cannot): walk the whole history.
			active, err := unfinished(tx, Filter{}, nil)
			recs = active
			if err != nil {
				return err
			}
			return newestFirst(tx, tx.Bucket(bucketByTime), nil, nil, func(r Record) bool {
				recs = append(recs, r)
				return true
			})
		}
		return latest.ForEach(func(scope, order []byte) error {
			if len(order) <= orderDigits {
				return fmt.Errorf("the newest run of scope %q is %q, not an order key", scope, order)
			}
			r, err := getRun(tx, string(order[orderDigits:]))
			if err != nil {
				return fmt.Errorf("the newest run of scope %q: %w", scope, err)
			}
			recs = append(recs, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("latest runs: %w", err)
	}
	return Newest(recs), nil
}

// LastSucceeded implements Store.
func (b *Bolt) LastSucceeded(ctx context.Context, scope Scope) (Record, error) {
	var rec *Record
	err := b.view(ctx, func(tx *bolt.Tx) error {
		if index := tx.Bucket(bucketSucceeded); index != nil {
			return newestFirst(tx, index, scopePrefix(scope), nil, func(r Record) bool {
				rec = &r
				return false
			})
		}
		// A store from before scoped runs that no write has migrated yet (reads cannot):
		// walk the pipeline's runs instead.
		return newestFirst(tx, tx.Bucket(bucketPipeline), pipelinePrefix(scope.Pipeline), nil, func(r Record) bool {
			if r.State.Status == engine.Succeeded && r.Scope() == scope {
				rec = &r
			}
			return rec == nil
		})
	})
	if err != nil {
		return Record{}, fmt.Errorf("last succeeded run of %s: %w", scope, err)
	}
	if rec == nil {
		return Record{}, fmt.Errorf("last succeeded run of %s: %w", scope, ErrNotFound)
	}
	return *rec, nil
}

// newestFirst walks the keys of index that start with prefix backwards, from the last or,
// when before is not nil, from the last key below prefix+before, and calls yield with each
// run's record until it returns false. A missing index is empty.
func newestFirst(tx *bolt.Tx, index *bolt.Bucket, prefix, before []byte, yield func(Record) bool) error {
	if index == nil {
		return nil
	}
	c := index.Cursor()
	var k, v []byte
	var end []byte
	switch {
	case before != nil:
		end = append(bytes.Clone(prefix), before...)
	case len(prefix) > 0:
		// Every key with the prefix sorts before the prefix with its last byte raised
		// (prefixes end in NUL, so the raise never carries).
		end = bytes.Clone(prefix)
		end[len(end)-1]++
	}
	if end == nil {
		k, v = c.Last()
	} else if k, _ = c.Seek(end); k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
		r, err := getRun(tx, string(v))
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("index entry %q names missing run %q", k, v)
		}
		if err != nil {
			return err
		}
		if !yield(r) {
			return nil
		}
	}
	return nil
}

// Acquire implements Store.
func (b *Bolt) Acquire(ctx context.Context, scope Scope, stage string, mode engine.Mode, run string, seq int64) (engine.Grant, error) {
	if err := checkLane(scope, stage, run); err != nil {
		return engine.Grant{}, err
	}
	var g engine.Grant
	err := b.updateLane(ctx, scope, stage, func(l engine.Lane) engine.Lane {
		l, g = l.Acquire(mode, run, seq)
		return l
	})
	if err != nil {
		return engine.Grant{}, fmt.Errorf("acquire %s/%s for %s: %w", scope, stage, run, err)
	}
	return g, nil
}

// Release implements Store.
func (b *Bolt) Release(ctx context.Context, scope Scope, stage, run string) (string, error) {
	if err := checkLane(scope, stage, run); err != nil {
		return "", err
	}
	var next string
	err := b.updateLane(ctx, scope, stage, func(l engine.Lane) engine.Lane {
		l, next = l.Release(run)
		return l
	})
	if err != nil {
		return "", fmt.Errorf("release %s/%s for %s: %w", scope, stage, run, err)
	}
	return next, nil
}

// updateLane loads a lane, applies fn and saves the result in one transaction, so the lane
// rules see every other caller's change. Free lanes are deleted rather than stored empty.
func (b *Bolt) updateLane(ctx context.Context, scope Scope, stage string, fn func(engine.Lane) engine.Lane) error {
	key := append(scopePrefix(scope), stage...)
	return b.update(ctx, func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketLanes)
		var lane engine.Lane
		if v := bk.Get(key); v != nil {
			if err := json.Unmarshal(v, &lane); err != nil {
				return fmt.Errorf("decode lane: %w", err)
			}
		}
		lane = fn(lane)
		if free(lane) {
			return bk.Delete(key)
		}
		v, err := json.Marshal(lane)
		if err != nil {
			return err
		}
		return bk.Put(key, v)
	})
}
