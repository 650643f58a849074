package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/stepline/stepline/pkg/engine"
)

// A run's record is kept by Bolt in parts while the run is not done, so that a state change,
// which touches one stage, writes about one stage's worth of bytes whatever the size of the
// pipeline: the definition once, when the run is created; each stage's action states and log
// paths under its own key (bucketActiveStages), encoded and written only when they changed;
// and the rest (the run's status, variables, artifacts, stage headers) as the record. An ended
// run is written once more, into the history (place), with its stages inline. Records of
// stores from before the parts hold everything inline; readRun reads every form.

// stagePart is what bucketStages holds for one stage of a run.
type stagePart struct {
	Actions []engine.ActionState `json:"a"`
	// Logs are the run's log paths of this stage's actions ("Stage/Action" keys).
	Logs map[string]string `json:"logs,omitempty"`
}

// stageKey is the key of stage i of run id: the id's length, the id and i, so no run's keys
// run into another's whatever the ids hold.
func stageKey(id string, i int) []byte {
	k := binary.AppendUvarint(nil, uint64(len(id)))
	k = append(k, id...)
	return binary.AppendUvarint(k, uint64(i))
}

// written is what a Bolt last wrote of a run: the revision it stored with it and a copy of
// each stage's part. While the stored revision is that one, nobody else has written the run
// since, and a stage equal to its copy is stored as it is: it is neither encoded nor
// written again.
type written struct {
	revision []byte
	stages   []stagePart
}

// writeRecord writes r's parts in tx, skipping those that last shows unchanged and those
// whose bytes are already stored, and returns what it wrote.
func writeRecord(tx *bolt.Tx, r Record, last *written, at place) (*written, error) {
	id := r.ID()
	defs := tx.Bucket(at.defs)
	if defs.Get([]byte(id)) == nil {
		def, err := json.Marshal(r.Definition)
		if err != nil {
			return nil, err
		}
		if err := defs.Put([]byte(id), def); err != nil {
			return nil, err
		}
	}
	revisions := tx.Bucket(bucketRevisions)
	if last != nil && (!bytes.Equal(revisions.Get([]byte(id)), last.revision) || len(last.stages) != len(r.State.Stages)) {
		last = nil // written by another process since, or by hand
	}
	next := &written{revision: make([]byte, 8), stages: make([]stagePart, len(r.State.Stages))}
	if !r.State.Done() {
		// An ended run is written once more at most: nothing to remember.
		if _, err := rand.Read(next.revision); err != nil {
			return nil, err
		}
		if err := revisions.Put([]byte(id), next.revision); err != nil {
			return nil, err
		}
	}
	head := r
	head.Definition = engine.Definition{}
	if at.stages == nil {
		return nil, putChanged(tx.Bucket(at.runs), []byte(id), head)
	}
	stageOf := make(map[string]int, len(r.Definition.Stages))
	for i, sg := range r.Definition.Stages {
		stageOf[sg.Name] = i
	}
	parts := make([]stagePart, len(r.State.Stages))
	head.Logs = nil
	for key, path := range r.Logs {
		name, _, _ := strings.Cut(key, "/")
		if i, ok := stageOf[name]; ok && i < len(parts) {
			if parts[i].Logs == nil {
				parts[i].Logs = map[string]string{}
			}
			parts[i].Logs[key] = path
			continue
		}
		if head.Logs == nil {
			head.Logs = map[string]string{}
		}
		head.Logs[key] = path
	}
	head.State.Stages = make([]engine.StageState, len(r.State.Stages))
	stages := tx.Bucket(at.stages)
	for i, sg := range r.State.Stages {
		parts[i].Actions = sg.Actions
		sg.Actions = nil
		head.State.Stages[i] = sg
		if last != nil && slices.EqualFunc(last.stages[i].Actions, parts[i].Actions, engine.ActionState.Equal) && maps.Equal(last.stages[i].Logs, parts[i].Logs) {
			next.stages[i] = last.stages[i]
			continue
		}
		next.stages[i] = stagePart{Actions: slices.Clone(parts[i].Actions), Logs: maps.Clone(parts[i].Logs)}
		data, err := json.Marshal(parts[i])
		if err != nil {
			return nil, err
		}
		key := stageKey(id, i)
		if bytes.Equal(stages.Get(key), data) {
			continue
		}
		if err := stages.Put(key, data); err != nil {
			return nil, err
		}
	}
	return next, putChanged(tx.Bucket(at.runs), []byte(id), head)
}

// putChanged writes v as JSON under key in bk, unless those bytes are there already.
func putChanged(bk *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil || bytes.Equal(bk.Get(key), data) {
		return err
	}
	return bk.Put(key, data)
}

// readRun decodes the record of run id stored as data in tx at at, with its definition and
// stages.
func readRun(tx *bolt.Tx, at place, id string, data []byte) (Record, error) {
	r, err := decode(id, data)
	if err != nil {
		return Record{}, err
	}
	if defs := tx.Bucket(at.defs); defs != nil {
		if def := defs.Get([]byte(id)); def != nil {
			r.Definition = engine.Definition{}
			if err := json.Unmarshal(def, &r.Definition); err != nil {
				return Record{}, fmt.Errorf("decode the definition of run %s: %w", id, err)
			}
		}
	}
	if at.stages == nil || tx.Bucket(at.stages) == nil {
		return r, nil // stages inline
	}
	stages := tx.Bucket(at.stages)
	for i := range r.State.Stages {
		data := stages.Get(stageKey(id, i))
		if data == nil {
			continue // a record from before the parts: the actions are inline
		}
		var part stagePart
		if err := json.Unmarshal(data, &part); err != nil {
			return Record{}, fmt.Errorf("decode stage %d of run %s: %w", i, id, err)
		}
		r.State.Stages[i].Actions = part.Actions
		if len(part.Logs) > 0 {
			if r.Logs == nil {
				r.Logs = map[string]string{}
			}
			maps.Copy(r.Logs, part.Logs)
		}
	}
	return r, nil
}
