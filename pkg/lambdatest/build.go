package lambdatest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// BuildFlags are the go build flags of a Lambda bootstrap (scripts/build-functions.sh uses
// the same): no RPC server in aws-lambda-go, reproducible paths, no symbol tables.
var BuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w"}

// Build compiles the main package in dir (relative to the test's working directory, usually
// the package under test) as scripts/build-functions.sh builds it for Lambda, with
// CGO_ENABLED=0 and BuildFlags, but for the host's GOOS and GOARCH so it runs here. It returns
// the path of the binary, tb.TempDir()/<dir's name>/bootstrap, so Start names the function
// after its directory.
func Build(tb testing.TB, dir string) string {
	tb.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		tb.Fatalf("lambdatest: %v", err)
	}
	out := filepath.Join(tb.TempDir(), filepath.Base(abs), "bootstrap")
	goTool, err := exec.LookPath("go")
	if err != nil {
		tb.Fatalf("lambdatest: the go command is needed to build %s: %v", dir, err)
	}
	args := append([]string{"build", "-o", out}, BuildFlags...)
	cmd := exec.Command(goTool, append(args, abs)...)
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("lambdatest: go build %s: %v\n%s", dir, err, b)
	}
	return out
}
