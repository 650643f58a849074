//go:build unix

package buildspec

import (
	"context"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchPhases is a build of about 20 commands that do small but real work (files, seq, sort,
// gzip, sha256sum), about a quarter of a second in plain bash.
var benchPhases = []struct {
	key      string
	commands []string
}{
	{"install", []string{
		`rm -rf work && mkdir -p work && cd work`,
		`for i in $(seq 1 300); do echo "line $i" > "f$i.txt"; done`,
		`seq 1 100000 > numbers.txt`,
	}},
	{"pre_build", []string{
		`sha256sum numbers.txt > numbers.sha`,
		`cat f*.txt | sha256sum`,
		`for i in $(seq 1 100); do sha256sum "f$i.txt"; done > sums.txt`,
		`awk '{ s += $1 } END { print s }' numbers.txt`,
		`sort -rn numbers.txt | head -n 3`,
	}},
	{"build", []string{
		`gzip -c numbers.txt > numbers.gz`,
		`gzip -dc numbers.gz | sha256sum`,
		`head -c 1000000 /dev/zero | tr '\0' 'x' > blob.bin`,
		`sha256sum blob.bin`,
		`split -l 20000 numbers.txt part.`,
		`for p in part.*; do wc -l < "$p"; done`,
		`grep -c 7 numbers.txt`,
		`tar -cf parts.tar part.*`,
	}},
	{"post_build", []string{
		`sha256sum parts.tar | cut -c1-16`,
		`count=0; for i in $(seq 1 3000); do count=$((count + i)); done; echo "$count"`,
		`ls | wc -l`,
		`cd .. && du -sk work | cut -f1`,
	}},
}

func benchBuildspec() (yaml, script string) {
	var y, s strings.Builder
	y.WriteString("version: 0.2\nphases:\n")
	for _, ph := range benchPhases {
		y.WriteString("  " + ph.key + ":\n    commands:\n")
		for _, c := range ph.commands {
			y.WriteString("      - |-\n        " + c + "\n")
			s.WriteString(c + "\n")
		}
	}
	return y.String(), s.String()
}

// BenchmarkBuildVsBash measures what the buildspec runner costs over running the same
// commands as one bash script: both run in every iteration, in alternating order, and the
// benchmark reports their ratio and the fixed overhead per build. The target is
// run ≤ 1.05 × bash + 100 ms.
func BenchmarkBuildVsBash(b *testing.B) {
	yaml, script := benchBuildspec()
	spec, _, err := Parse("bench.yml", []byte(yaml))
	if err != nil {
		b.Fatal(err)
	}
	dirs := [2]string{b.TempDir(), b.TempDir()}
	ctx := context.Background()

	var runCPU, bashCPU time.Duration
	timeRun := func(dir string) time.Duration {
		defer func(cpu time.Duration) { runCPU += cpuTime() - cpu }(cpuTime())
		start := time.Now()
		res, err := Run(ctx, spec, Options{SrcDir: dir, Log: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		if res.Status != StatusSucceeded {
			b.Fatalf("build %s: %+v", res.Status, res.Phases)
		}
		return time.Since(start)
	}
	timeBash := func(dir string) time.Duration {
		defer func(cpu time.Duration) { bashCPU += cpuTime() - cpu }(cpuTime())
		start := time.Now()
		cmd := exec.Command("bash", "-c", script)
		cmd.Dir = dir
		cmd.Env = os.Environ()
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}

	// Each iteration is a pair run back to back, and the medians of the pairs are reported:
	// on a shared machine load comes and goes, and totals would charge a burst of someone
	// else's work to whichever side it happened to hit. Over four iterations each side runs
	// first and second, in each directory: bash against bash in this harness showed a steady
	// ~10% difference between two temporary directories, which would otherwise be credited to
	// one side.
	var runs, bashes []time.Duration
	for b.Loop() {
		i := len(runs)
		runDir, bashDir := dirs[0], dirs[1]
		if i%4 >= 2 {
			runDir, bashDir = dirs[1], dirs[0]
		}
		var r, sh time.Duration
		if i%2 == 0 {
			r, sh = timeRun(runDir), timeBash(bashDir)
		} else {
			sh, r = timeBash(bashDir), timeRun(runDir)
		}
		runs, bashes = append(runs, r), append(bashes, sh)
	}
	ratios := make([]float64, len(runs))
	overheads := make([]float64, len(runs))
	for i := range runs {
		ratios[i] = runs[i].Seconds() / bashes[i].Seconds()
		overheads[i] = float64((runs[i] - bashes[i]).Microseconds()) / 1000
	}
	runMS := float64(median(runs).Microseconds()) / 1000
	bashMS := float64(median(bashes).Microseconds()) / 1000
	b.ReportMetric(medianFloat(ratios), "ratio")
	b.ReportMetric(medianFloat(overheads), "overhead-ms")
	b.ReportMetric(runMS, "run-ms")
	b.ReportMetric(bashMS, "bash-ms")
	// The target is run ≤ 1.05 × bash + 100 ms; at or below 1 it is met.
	b.ReportMetric(runMS/(1.05*bashMS+100), "vs-target")
	// CPU time does not depend on what else the machine is doing, so it shows the runner's
	// own cost even when the wall-clock numbers are noisy.
	b.ReportMetric(runCPU.Seconds()/bashCPU.Seconds(), "cpu-ratio")
	if runMS > 1.05*bashMS+100 {
		b.Logf("over target: run %.1f ms, bash %.1f ms (target run ≤ 1.05 × bash + 100 ms)", runMS, bashMS)
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianFloat(f []float64) float64 {
	s := slices.Clone(f)
	slices.Sort(s)
	return s[len(s)/2]
}

// cpuTime is the CPU time used so far by this process and the children it has waited for; the
// build's shells and their commands are all such children.
func cpuTime() time.Duration {
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	return tv(self.Utime) + tv(self.Stime) + tv(children.Utime) + tv(children.Stime)
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Nano())
}
