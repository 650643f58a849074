package waitstep

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzHandle decodes any payload as the Lambda runtime does and hands it to the wait function,
// seeded with the samples in events/wait: it never panics, answers the Wait state's requests
// with an error only of the one type the state catches by name (*ActionFailed, never wrapped;
// an expiry comes from Scheduler, which retries any error), and no error shows the task token.
func FuzzHandle(f *testing.F) {
	files, _ := filepath.Glob("../../events/wait/*.json")
	if len(files) == 0 {
		f.Fatal("no samples in events/wait")
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`{"token":"t","task":{"kind":"wait","task":{"provider":"approval","config":{"timeout":"-1s"}}}}`))
	f.Add([]byte(`{"expire":{"run":"","task":""}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var in Input
		if json.Unmarshal(raw, &in) != nil {
			return // the runtime refuses it before the handler runs
		}
		_, err := newRig().h.Handle(lambdaCtx(), in)
		if err == nil {
			return
		}
		if len(in.Token) >= 16 && strings.Contains(err.Error(), in.Token) {
			t.Fatalf("the error shows the token: %v", err)
		}
		if in.Expire != nil {
			return
		}
		var failed *ActionFailed
		if !errors.As(err, &failed) || error(failed) != err {
			t.Fatalf("Handle answered %T %v, which the Wait state does not catch by name", err, err)
		}
	})
}
