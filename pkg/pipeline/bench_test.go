package pipeline

import (
	"os"
	"testing"
)

// BenchmarkParse measures parsing and checking the full example file, the cost paid by the
// trigger function on every push.
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/ok/full.yml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("full.yml", data); err != nil {
			b.Fatal(err)
		}
	}
}
