package store

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stepline/stepline/pkg/engine"
)

// benchRecord is a run of a three-stage pipeline, about the size of a real local run's record.
func benchRecord(pipeline string, seq int64, status engine.Status) Record {
	def := engine.Definition{Pipeline: pipeline}
	for _, name := range []string{"Source", "Build", "Deploy"} {
		def.Stages = append(def.Stages, engine.Stage{Name: name, Actions: []engine.Action{
			{Name: name, Provider: "local", Inputs: []string{"source"}, Outputs: []string{name + "_out"}},
			{Name: name + "Check", Provider: "local", RunOrder: 2},
		}})
	}
	st := engine.New(def, engine.RunInfo{ID: fmt.Sprintf("%s-%d", pipeline, seq), Seq: seq})
	st.Status, st.Started = status, 1_700_000_000_000+seq*1000
	return Record{Definition: def, State: st, Trigger: "push", Branch: "main",
		Logs: map[string]string{"Build/Build": "/tmp/logs/build.log"}}
}

// seed writes n runs spread over three pipelines in one transaction, as a long history.
func seed(b *testing.B, s *Bolt, n int) {
	b.Helper()
	err := s.update(b.Context(), func(tx *bolt.Tx) error {
		for i := range n {
			status := engine.Failed
			if i%10 == 0 {
				status = engine.Succeeded
			}
			if _, err := putRun(tx, benchRecord([]string{"api", "web", "worker"}[i%3], int64(i+1), status), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkBoltPutRun measures a write with the file opened and closed around it, the price of
// letting other stepline processes use the file between calls; "kept open" is the same write
// on a database held open, for comparison.
func BenchmarkBoltPutRun(b *testing.B) {
	b.Run("open per call", func(b *testing.B) {
		s := NewBolt(filepath.Join(b.TempDir(), "history.db"))
		for i := 0; b.Loop(); i++ {
			if err := s.PutRun(b.Context(), benchRecord("api", int64(i+1), engine.Succeeded)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kept open", func(b *testing.B) {
		db, err := bolt.Open(filepath.Join(b.TempDir(), "history.db"), 0o644, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		err = db.Update(func(tx *bolt.Tx) error {
			for _, name := range buckets {
				if _, err := tx.CreateBucket(name); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; b.Loop(); i++ {
			r := benchRecord("api", int64(i+1), engine.Succeeded)
			if err := db.Update(func(tx *bolt.Tx) error { _, err := putRun(tx, r, nil); return err }); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBoltReads measures reads against a history of 10,000 runs: the indexes must keep
// a short list, a filtered page, each scope's newest run and LastSucceeded independent of the
// history's length.
func BenchmarkBoltReads(b *testing.B) {
	s := NewBolt(filepath.Join(b.TempDir(), "history.db"))
	seed(b, s, 10_000)
	if err := s.PutRun(b.Context(), benchRecord("7f3a9c2e", 1, engine.Succeeded)); err != nil {
		b.Fatal(err)
	}
	b.Run("GetRun", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.GetRun(b.Context(), "api-5002"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetRun, file kept open", func(b *testing.B) {
		db, err := bolt.Open(s.path, 0o644, &bolt.Options{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		for b.Loop() {
			err := db.View(func(tx *bolt.Tx) error {
				_, err := getRun(tx, "api-5002")
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("FindRun by prefix", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.FindRun(b.Context(), "7f3a"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ListRuns of a pipeline, limit 20", func(b *testing.B) {
		for b.Loop() {
			if recs, err := s.ListRuns(b.Context(), Filter{Pipeline: "web", Limit: 20}); err != nil || len(recs) != 20 {
				b.Fatal(len(recs), err)
			}
		}
	})
	b.Run("ListRuns of a pipeline's status, limit 20, after a run", func(b *testing.B) {
		for b.Loop() {
			recs, err := s.ListRuns(b.Context(), Filter{Pipeline: "web", Status: engine.Succeeded, Limit: 20, After: "web-5003"})
			if err != nil || len(recs) != 20 {
				b.Fatal(len(recs), err)
			}
		}
	})
	b.Run("Latest", func(b *testing.B) {
		for b.Loop() {
			if recs, err := s.Latest(b.Context()); err != nil || len(recs) != 4 {
				b.Fatal(len(recs), err)
			}
		}
	})
	b.Run("LastSucceeded", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.LastSucceeded(b.Context(), Scope{Pipeline: "worker", Branch: "main"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Acquire and Release", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Acquire(b.Context(), testScope("api"), "Deploy", engine.ModeQueued, "r1", 1); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Release(b.Context(), testScope("api"), "Deploy", "r1"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// testScope is the scope of a pipeline's runs that name no repository or branch.
func testScope(pipeline string) Scope { return Scope{Pipeline: pipeline} }

// sizedRun is a pipeline of n actions (n a multiple of 50): stages of 50 actions in five
// run-order groups, each group's last action producing an artifact the next stage reads.
func sizedRun(n int) engine.Definition {
	def := engine.Definition{Pipeline: "monorepo", Mode: engine.ModeQueued}
	prev := ""
	for s := range n / 50 {
		st := engine.Stage{Name: fmt.Sprintf("Stage%02d", s)}
		for j := range 50 {
			a := engine.Action{Name: fmt.Sprintf("Action%02d", j), Provider: "local", RunOrder: j/10 + 1,
				Config: map[string]any{"buildspec": fmt.Sprintf("services/svc%02d/buildspec.yml", j)}}
			if prev != "" {
				a.Inputs = []string{prev}
			}
			if j%10 == 9 {
				a.Outputs = []string{fmt.Sprintf("art%d_%d", s, j)}
			}
			st.Actions = append(st.Actions, a)
		}
		def.Stages = append(def.Stages, st)
		prev = fmt.Sprintf("art%d_49", s)
	}
	return def
}

// BenchmarkBoltRunByPipelineSize writes every state change of a whole run, as the local
// runner does (a PutRun after each Advance, each action's result arriving on its own, the
// record's log paths growing with the run), for pipelines of 100 and 1,000 actions, and
// reports the store's time per action (store-µs/action, the PutRun calls alone) and, at
// 1,000, its ratio to that at 100 measured first in the same process (x-100; issue 11 point
// 12: at most 1.5).
func BenchmarkBoltRunByPipelineSize(b *testing.B) {
	var base float64
	for _, n := range []int{100, 1_000} {
		def := sizedRun(n)
		b.Run(fmt.Sprintf("actions=%d", n), func(b *testing.B) {
			s := NewBolt(filepath.Join(b.TempDir(), "history.db"))
			var inStore time.Duration
			puts := 0
			for i := 0; b.Loop(); i++ {
				now := time.Unix(1_800_000_000, 0)
				rec := Record{Definition: def, State: engine.New(def, engine.RunInfo{ID: fmt.Sprintf("monorepo-%d", i+1), Seq: int64(i + 1)}),
					Trigger: "push", Branch: "main", Logs: map[string]string{}}
				var d engine.Decision
				var pending []engine.Task
				var in []engine.Input
				for {
					var err error
					if rec.State, d, err = engine.Advance(def, rec.State, in, now); err != nil {
						b.Fatal(err)
					}
					for _, t := range d.Start {
						rec.Logs[t.Stage+"/"+t.Action] = fmt.Sprintf("/state/runs/%s/%s/%s.log", t.Run, t.Stage, t.Action)
					}
					t0 := time.Now()
					if err := s.PutRun(b.Context(), rec); err != nil {
						b.Fatal(err)
					}
					inStore += time.Since(t0)
					puts++
					if d.Done {
						break
					}
					pending = append(pending, d.Start...)
					switch {
					case d.Acquire != "":
						in = []engine.Input{{Kind: engine.KindGranted, Stage: d.Acquire}}
					case len(pending) > 0:
						t := pending[0]
						pending = pending[1:]
						outs := map[string]string{}
						for _, o := range t.Outputs {
							outs[o] = "/state/artifacts/" + o + ".zip"
						}
						in = []engine.Input{t.Succeeded(outs, nil)}
					default:
						b.Fatal("the run is stuck")
					}
				}
				if rec.State.Status != engine.Succeeded {
					b.Fatal(rec.State.Status)
				}
			}
			perAction := float64(inStore.Microseconds()) / float64(b.N*n)
			b.ReportMetric(perAction, "store-µs/action")
			b.ReportMetric(float64(puts)/float64(b.N*n), "puts/action")
			if base == 0 {
				base = perAction
				return
			}
			b.ReportMetric(perAction/base, "x-100")
			if perAction > 1.5*base {
				b.Errorf("at %d actions the store costs %.0f µs per action, %.2f times its cost at 100", n, perAction, perAction/base)
			}
		})
	}
}
