package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stepline/stepline/pkg/engine"
)

// FuzzParse checks that Parse never panics, is deterministic, positions every problem, and that
// whatever it accepts compiles to a definition the engine can run: named things have names and
// every input is produced by an action that runs before.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"ok", "err"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.yml"))
		for _, path := range files {
			data, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yml", data)
		_, again := Parse("fuzz.yml", data)
		if (err == nil) != (again == nil) || (err != nil && err.Error() != again.Error()) {
			t.Fatalf("Parse is not deterministic:\n%v\n---\n%v", err, again)
		}
		if err != nil {
			var probs Problems
			if !errors.As(err, &probs) || len(probs) == 0 {
				t.Fatalf("error %T %v is not a non-empty Problems", err, err)
			}
			for _, p := range probs {
				if p.Line < 1 || p.Col < 1 || p.Msg == "" || p.Rule == "" {
					t.Fatalf("problem without position, message or rule: %#v", p)
				}
			}
			return
		}
		if len(file.Pipelines) == 0 {
			t.Fatal("accepted a file without pipelines")
		}
		for _, p := range file.Pipelines {
			checkDefinition(t, p.Definition())
		}
	})
}

func checkDefinition(t *testing.T, def engine.Definition) {
	t.Helper()
	if def.Pipeline == "" {
		t.Fatal("pipeline without a name")
	}
	for _, n := range def.Notifications {
		tg := n.Target
		for _, e := range n.Events {
			if !slices.Contains(NotificationEvents, e) {
				t.Fatalf("notification of an unknown event %q", e)
			}
		}
		if !slices.Contains(TargetKinds, tg.Kind) || (tg.Kind != TargetTopic) != (tg.SecretID != "") ||
			looksLikeURL(tg.SecretID) || looksLikeURL(tg.TopicARN) {
			t.Fatalf("notification target %+v is not a topic or a webhook's secret", tg)
		}
	}
	produced := map[string]bool{}
	for si, st := range def.Stages {
		if st.Name == "" || len(st.Actions) == 0 {
			t.Fatalf("stage %d has no name or no actions", si)
		}
		// Outputs of this stage count for actions of a higher run_order only.
		order := map[string]int{}
		for _, a := range st.Actions {
			if a.Name == "" || a.Provider == "" {
				t.Fatalf("stage %s has an action without name or provider: %+v", st.Name, a)
			}
			for _, out := range a.Outputs {
				if _, dup := order[out]; dup || produced[out] {
					t.Fatalf("artifact %q produced twice", out)
				}
				order[out] = max(a.RunOrder, 1)
			}
		}
		for _, a := range st.Actions {
			for _, in := range a.Inputs {
				o, here := order[in]
				if !produced[in] && (!here || o >= max(a.RunOrder, 1)) {
					t.Fatalf("input %q of %s/%s is not produced before it", in, st.Name, a.Name)
				}
			}
		}
		for out := range order {
			produced[out] = true
		}
	}
}
