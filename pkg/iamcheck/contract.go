package iamcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
)

// Contract is the committed record of the IAM requests each function's code makes in its
// tests: function → the package whose tests recorded them → requests. Resources and
// condition values are written in the stack's terms (Recorder), for Check to resolve against
// a template.
type Contract map[string]map[string][]Request

// ContractPath is the contract file: pkg/iamcheck/testdata/calls.json in this source tree.
// One file for every package: -iamcheck.update of several packages at once takes turns
// through a file lock.
func ContractPath() string {
	return filepath.Join(moduleRoot(), "pkg", "iamcheck", "testdata", "calls.json")
}

// moduleRoot is the root of the module holding this source file.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// LoadContract reads a contract file.
func LoadContract(path string) (Contract, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the contract: %w", err)
	}
	var c Contract
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

var (
	resetMu sync.Mutex
	// reset holds the sections this process has rewritten: the first recorder of a package
	// replaces its section, the later ones add to it.
	reset = map[string]bool{}
)

// updateContract writes requests into the function's section for pkg, under an exclusive
// lock on the file, since test binaries of several packages run at once.
func updateContract(path, function, pkg string, requests []Request) error {
	resetMu.Lock()
	defer resetMu.Unlock()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing unlocks too
	c := Contract{}
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		if err := json.NewDecoder(f).Decode(&c); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if c[function] == nil {
		c[function] = map[string][]Request{}
	}
	merged := map[string]Request{}
	section := function + " " + pkg
	if reset[section] {
		for _, q := range c[function][pkg] {
			merged[q.key()] = q
		}
	}
	reset[section] = true
	for _, q := range requests {
		merged[q.key()] = q
	}
	c[function][pkg] = sorted(merged)
	if len(c[function][pkg]) == 0 {
		delete(c[function], pkg)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(buf.Bytes(), 0); err != nil {
		return errors.Join(fmt.Errorf("write %s", path), err)
	}
	return nil
}
