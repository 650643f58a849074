package cpimport

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/stepline/stepline/pkg/pipeline"
)

// FuzzImport checks that Import never panics and is deterministic, that every finding has a
// position, a message and a rule, and that whatever it writes is a pipeline file stepline
// accepts without a problem, whose x-codepipeline block reads back. The JSON seeds are
// compacted: the fuzzer minimizes every input that finds new code, for up to a minute each,
// and a third of the size is a third of that time.
func FuzzImport(f *testing.F) {
	for _, path := range inputs(f) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		var compact bytes.Buffer
		if json.Compact(&compact, data) == nil {
			data = compact.Bytes()
		}
		f.Add(data)
	}
	f.Add([]byte(thirdParty))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Import("fuzz.json", data)
		again, err2 := Import("fuzz.json", data)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("Import is not deterministic: %v / %v", err, err2)
		}
		if res != nil {
			if again == nil || string(res.YAML) != string(again.YAML) || len(res.Findings) != len(again.Findings) {
				t.Fatal("Import is not deterministic")
			}
			for _, fd := range res.Findings {
				if fd.Line < 1 || fd.Col < 1 || fd.Msg == "" || fd.Rule == "" || fd.Path == "" {
					t.Fatalf("finding without position, message, rule or path: %#v", fd)
				}
			}
		}
		if err != nil {
			if res != nil && res.YAML != nil {
				t.Fatal("an error with a file written")
			}
			if res != nil && !errors.Is(err, ErrNothingImported) {
				t.Fatalf("findings with an error other than ErrNothingImported: %v", err)
			}
			return
		}
		if _, err := pipeline.Parse(".stepline.yml", res.YAML); err != nil {
			t.Fatalf("the imported file does not validate:\n%v\n%s", err, res.YAML)
		}
		if _, err := ReadOrigins(res.YAML); err != nil {
			t.Fatalf("x-codepipeline does not read back: %v", err)
		}
	})
}
