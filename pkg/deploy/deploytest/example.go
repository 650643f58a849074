package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// BuildspecFiles runs the printf commands of a buildspec's post_build phase (the ones that
// write imagedefinitions.json and imageDetail.json) in a fresh directory with env set, and
// returns the files they wrote, so a test deploys exactly what the example's build writes.
func BuildspecFiles(tb testing.TB, buildspec string, env map[string]string) map[string]string {
	tb.Helper()
	raw, err := os.ReadFile(buildspec)
	if err != nil {
		tb.Fatal(err)
	}
	var spec struct {
		Phases map[string]struct {
			Commands []string `yaml:"commands"`
		} `yaml:"phases"`
	}
	if err := yaml.Unmarshal(raw, &spec); err != nil {
		tb.Fatalf("%s: %v", buildspec, err)
	}
	dir := tb.TempDir()
	for _, c := range spec.Phases["post_build"].Commands {
		if !strings.HasPrefix(c, "printf ") {
			continue
		}
		cmd := exec.Command("bash", "-c", c)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("%s: %v\n%s", c, err, out)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		files[e.Name()] = string(b)
	}
	return files
}
