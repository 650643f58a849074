package buildspec

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics, that a rejected buildspec always says why with a
// usable position, and that whatever Parse accepts it accepts again the same way: the engine
// parses the same file in more than one place and must get one answer.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*/*.yml")
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, warnings, err := Parse("fuzz.yml", data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T %v is not a non-empty Errors", err, err)
			}
			for _, p := range errs {
				if p.Line < 1 || p.Col < 1 || p.Msg == "" || p.Rule == "" {
					t.Fatalf("problem without position, message or rule: %+v", p)
				}
			}
			if spec != nil {
				t.Fatal("Parse returned a spec together with an error")
			}
			return
		}
		if spec == nil {
			t.Fatal("Parse returned neither a spec nor an error")
		}
		again, warnings2, err := Parse("fuzz.yml", data)
		if err != nil {
			t.Fatalf("second parse failed: %v", err)
		}
		if !reflect.DeepEqual(spec, again) || !reflect.DeepEqual(warnings, warnings2) {
			t.Fatalf("parse is not deterministic:\n%+v\n%+v", spec, again)
		}
	})
}
