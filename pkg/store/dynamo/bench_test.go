package dynamo

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stepline/stepline/pkg/engine"
)

// BenchmarkPutGetRun measures one PutRun and one GetRun by exact id against moto, for a run
// of the size of a small pipeline and for one of 500 actions (the largest state the engine
// is sized for). The stored size shows what gzip leaves of the JSON record.
func BenchmarkPutGetRun(b *testing.B) {
	for _, size := range []struct {
		name            string
		stages, actions int
	}{{"6 actions", 3, 2}, {"500 actions", 10, 50}} {
		b.Run(size.name, func(b *testing.B) {
			client, table := newTable(b)
			s := New(client, table)
			r := bigRecord("bench-1", size.stages, size.actions)
			data, err := json.Marshal(r)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; b.Loop(); i++ {
				r.State.Run = fmt.Sprintf("bench-%d", i)
				if err := s.PutRun(b.Context(), r); err != nil {
					b.Fatal(err)
				}
				if _, err := s.GetRun(b.Context(), r.State.Run); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "json-bytes")
			b.ReportMetric(float64(len(compress(data))), "stored-bytes")
		})
	}
}

// BenchmarkAcquireRelease measures taking and giving back a free stage lock against moto:
// a read and a conditional put, then a read and a conditional delete.
func BenchmarkAcquireRelease(b *testing.B) {
	client, table := newTable(b)
	s := New(client, table)
	for b.Loop() {
		g, err := s.Acquire(b.Context(), testScope("api"), "Deploy", engine.ModeQueued, "r1", 1)
		if err != nil || !g.Granted {
			b.Fatal(g, err)
		}
		if _, err := s.Release(b.Context(), testScope("api"), "Deploy", "r1"); err != nil {
			b.Fatal(err)
		}
	}
}
