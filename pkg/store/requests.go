package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/stepline/stepline/pkg/engine"
)

// Requests carries what a person asks of a local run (an approval decision, a stop) from the
// process that asks (`stepline approve`, the dashboard) to the process driving the run
// (`stepline run`, `stepline serve`), which takes them at each turn of its loop and feeds them
// to the engine. Bolt and Memory implement it; on AWS the state machine's task tokens and
// executions carry these instead (pkg/runops).
type Requests interface {
	// PutRequest queues in for run.
	PutRequest(ctx context.Context, run string, in engine.Input) error
	// TakeRequests returns the inputs queued for run, oldest first, and forgets them, in one
	// atomic step: a request is taken once.
	TakeRequests(ctx context.Context, run string) ([]engine.Input, error)
}

var (
	_ Requests = (*Bolt)(nil)
	_ Requests = (*Memory)(nil)
)

// bucketRequests holds run NUL sequence (8 bytes, big-endian) → JSON engine.Input.
var bucketRequests = []byte("requests")

// PutRequest implements Requests.
func (b *Bolt) PutRequest(ctx context.Context, run string, in engine.Input) error {
	if run == "" {
		return fmt.Errorf("a request needs a run")
	}
	v, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucketRequests)
		if err != nil {
			return err
		}
		seq, err := bk.NextSequence()
		if err != nil {
			return err
		}
		return bk.Put(binary.BigEndian.AppendUint64([]byte(run+"\x00"), seq), v)
	})
}

// TakeRequests implements Requests. A history without requests is read without a write, so
// the driver's polls never wait for the file's write lock.
func (b *Bolt) TakeRequests(ctx context.Context, run string) ([]engine.Input, error) {
	prefix := []byte(run + "\x00")
	queued := false
	if err := b.view(ctx, func(tx *bolt.Tx) error {
		if bk := tx.Bucket(bucketRequests); bk != nil {
			k, _ := bk.Cursor().Seek(prefix)
			queued = k != nil && bytes.HasPrefix(k, prefix)
		}
		return nil
	}); err != nil || !queued {
		return nil, err
	}
	var out []engine.Input
	err := b.update(ctx, func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucketRequests)
		if err != nil {
			return err
		}
		c := bk.Cursor()
		var keys [][]byte
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var in engine.Input
			if err := json.Unmarshal(v, &in); err != nil {
				return fmt.Errorf("request of run %s: %w", run, err)
			}
			out = append(out, in)
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			if err := bk.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// PutRequest implements Requests.
func (m *Memory) PutRequest(ctx context.Context, run string, in engine.Input) error {
	if err := m.begin(ctx, "PutRequest"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.requests == nil {
		m.requests = map[string][]engine.Input{}
	}
	m.requests[run] = append(m.requests[run], in)
	return nil
}

// TakeRequests implements Requests.
func (m *Memory) TakeRequests(ctx context.Context, run string) ([]engine.Input, error) {
	if err := m.begin(ctx, "TakeRequests"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.requests[run]
	delete(m.requests, run)
	return out, nil
}
