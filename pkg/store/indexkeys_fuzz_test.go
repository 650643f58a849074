package store

import (
	"bytes"
	"testing"

	"github.com/stepline/stepline/pkg/engine"
)

// FuzzIndexKeys feeds eachIndexKey what a damaged history file may hold under run_keys: it
// must end with an error or the keys, never panic or read past the value; and the keys of a
// record, encoded by indexKeys, must come back whole and in order, with a listing key for
// each filter that selects it (ListingKeys).
func FuzzIndexKeys(f *testing.F) {
	r := Record{State: engine.State{Run: "api-1", Pipeline: "api", Seq: 1, Started: 100, Status: engine.Succeeded}}
	f.Add(indexKeys(r), "api", "api-1", "main", int64(100))
	f.Add([]byte{0, 0x80}, "p", "r", "", int64(0))
	f.Add([]byte{9, 1, 'x'}, "", "", "a\x00b", int64(-1))
	f.Fuzz(func(t *testing.T, stored []byte, pipeline, id, branch string, started int64) {
		_ = eachIndexKey(stored, func(bk int, key []byte) error {
			if bk < 0 || bk >= len(indexes) {
				t.Fatalf("bucket %d out of range", bk)
			}
			return nil
		})
		for _, status := range []engine.Status{engine.InProgress, engine.Succeeded, engine.Failed} {
			r := Record{Branch: branch, State: engine.State{Run: id, Pipeline: pipeline, Started: started, Status: status}}
			var got [][]byte
			if err := eachIndexKey(indexKeys(r), func(_ int, key []byte) error {
				got = append(got, bytes.Clone(key))
				return nil
			}); err != nil {
				t.Fatalf("the keys of %+v do not decode: %v", r.State, err)
			}
			// by_time, pipeline, the succeeded index, then the listings: by status, and
			// by branch and by both when the run has a branch.
			want := 3 + 1
			switch status {
			case engine.InProgress:
				want = 1
			case engine.Failed:
				want = 2 + 1
			}
			if status != engine.InProgress && branch != "" {
				want += 2
			}
			if len(got) != want || !bytes.HasSuffix(got[0], []byte(id)) {
				t.Fatalf("%s: got keys %q", status, got)
			}
		}
	})
}
