package buildspec

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Phase context status codes, as CodeBuild puts them on a failed phase.
const (
	codeCommandError = "COMMAND_EXECUTION_ERROR"
	codeClientError  = "CLIENT_ERROR"
	codeStopped      = "BUILD_STOPPED"
)

// Options configures one local build.
type Options struct {
	// SrcDir is the primary source: CODEBUILD_SRC_DIR and the initial working directory.
	// Required.
	SrcDir string
	// OutDir receives artifacts (OutDir/artifacts/<name>/…) and reports
	// (OutDir/reports/<group>/…). When empty, artifact paths are still matched, and a pattern
	// matching nothing still fails the build, but nothing is copied.
	OutDir string
	// Env holds "NAME=value" overrides. They win over the buildspec's env.variables, as
	// start-build overrides do on CodeBuild.
	Env []string
	// Secrets holds "NAME=value" overrides like Env (and winning over it) whose values the
	// log hides, as it hides the values of the buildspec's parameter-store and
	// secrets-manager variables.
	Secrets []string
	// SecretSource fetches the buildspec's parameter-store and secrets-manager variables.
	// Nil fetches nothing: those variables stay unset unless Env or Secrets set them.
	SecretSource SecretSource
	// BuildID defaults to "local:<uuid>".
	BuildID string
	// BuildNumber is CODEBUILD_BUILD_NUMBER; it defaults to 1.
	BuildNumber int
	// Initiator is CODEBUILD_INITIATOR; it defaults to "stepline".
	Initiator string
	// SourceVersion becomes CODEBUILD_SOURCE_VERSION and CODEBUILD_RESOLVED_SOURCE_VERSION.
	SourceVersion string
	// Log receives every command's combined stdout and stderr, interleaved with
	// CodeBuild-style agent lines. Nil discards it.
	Log io.Writer
	// Shell overrides env.shell: "bash", "sh" or a path to either.
	Shell string
	// Now is the clock used for log timestamps, CODEBUILD_START_TIME and durations. Nil
	// means time.Now.
	Now func() time.Time
	// StopGrace is how long a cancelled build's processes get between SIGTERM and SIGKILL.
	// It defaults to 2s.
	StopGrace time.Duration
	// Started, when set, is told the process group id of every shell the build starts, before
	// the shell runs any command, so a caller can record it and end the group should the
	// caller itself be killed (the group outlives it: builds run in a group of their own).
	Started func(pgid int)
}

// Run runs one build of spec the way CodeBuild's agent would, in a single shell session on
// this machine.
//
// A failing command is not an error: it gives a FAILED Result and a nil error. Cancelling ctx
// stops the running command's whole process group and returns a STOPPED Result promptly. The
// error is non-nil only when the build could not be run at all (no shell, an unusable SrcDir
// or OutDir); a Result is returned with it when some of the build had already run.
func Run(ctx context.Context, spec *Spec, opts Options) (*Result, error) {
	if spec == nil {
		return nil, errors.New("run build: no buildspec")
	}
	b, err := newBuild(spec, opts)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "stepline-build-")
	if err != nil {
		return nil, fmt.Errorf("run build %s: %w", b.id, err)
	}
	defer os.RemoveAll(tmp)
	b.tmp = tmp

	shellPath, posix, err := findShell(opts.Shell, spec.Env.Shell)
	if err != nil {
		return nil, fmt.Errorf("run build %s: %w", b.id, err)
	}
	fetched, err := fetchSecrets(ctx, spec, opts.SecretSource)
	if err != nil {
		return nil, fmt.Errorf("run build %s: %w", b.id, err)
	}
	env, err := buildEnv(os.Environ(), spec, fetched, append(append([]string(nil), opts.Env...), opts.Secrets...), builtinEnv(b))
	if err != nil {
		return nil, fmt.Errorf("run build %s: %w", b.id, err)
	}
	b.log.hide(secretValues(spec, env, opts.Secrets))
	// Whatever the masker still holds back is written once nothing more can come.
	defer b.log.flush()
	b.sess, err = newSession(shellPath, posix, env, b.srcDir, tmp, b.log, b.grace)
	if b.sess != nil {
		b.sess.started = opts.Started
	}
	if err != nil {
		return nil, fmt.Errorf("run build %s: %w", b.id, err)
	}
	if err := b.sess.start(); err != nil {
		return nil, fmt.Errorf("run build %s: %w", b.id, err)
	}
	err = b.execute(ctx)
	b.sess.close()
	if b.sess.lostState > 0 {
		b.warnf("the shell ended %d time(s) without saving its state (exec, or an EXIT trap that replaced stepline's); the commands after that started from the build's initial environment", b.sess.lostState)
	}
	if err != nil {
		return b.res, fmt.Errorf("run build %s: %w", b.id, err)
	}
	return b.res, nil
}

// build is the state of one Run.
type build struct {
	spec          *Spec
	id            string
	number        int
	initiator     string
	sourceVersion string
	srcDir        string
	realSrc       string // srcDir with symbolic links resolved, for containment checks
	outDir        string
	tmp           string
	start         time.Time
	now           func() time.Time
	grace         time.Duration
	log           *containerLog
	sess          *session
	res           *Result
	failed        bool
}

func newBuild(spec *Spec, opts Options) (*build, error) {
	b := &build{
		spec: spec, id: opts.BuildID, number: opts.BuildNumber, initiator: opts.Initiator,
		sourceVersion: opts.SourceVersion, now: opts.Now, grace: opts.StopGrace,
	}
	if b.id == "" {
		b.id = "local:" + newUUID()
	}
	if b.number == 0 {
		b.number = 1
	}
	if b.initiator == "" {
		b.initiator = "stepline"
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.grace <= 0 {
		b.grace = 2 * time.Second
	}
	if opts.SrcDir == "" {
		return nil, fmt.Errorf("run build %s: Options.SrcDir is required", b.id)
	}
	src, err := filepath.Abs(opts.SrcDir)
	if err != nil {
		return nil, fmt.Errorf("run build %s: source directory: %w", b.id, err)
	}
	if fi, err := os.Stat(src); err != nil {
		return nil, fmt.Errorf("run build %s: source directory: %w", b.id, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("run build %s: source directory %s is not a directory", b.id, src)
	}
	b.srcDir = src
	if b.realSrc, err = filepath.EvalSymlinks(src); err != nil {
		return nil, fmt.Errorf("run build %s: source directory: %w", b.id, err)
	}
	if opts.OutDir != "" {
		out, err := filepath.Abs(opts.OutDir)
		if err != nil {
			return nil, fmt.Errorf("run build %s: output directory: %w", b.id, err)
		}
		if err := checkWritable(out); err != nil {
			return nil, fmt.Errorf("run build %s: output directory %s: %w", b.id, out, err)
		}
		b.outDir = out
	}
	b.start = b.now()
	b.log = newContainerLog(opts.Log, b.now)
	return b, nil
}

// checkWritable creates dir if needed and proves a file can be written there, so an unusable
// OutDir fails before the build spends minutes producing artifacts it cannot keep.
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".stepline-probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// findShell picks the shell binary. bash is looked up on PATH; /bin/sh is used as is because
// that is the path CodeBuild's "/bin/sh" tag names.
func findShell(override, specShell string) (string, bool, error) {
	want := specShell
	if override != "" {
		want = override
	}
	switch want {
	case "", "bash":
		want = "bash"
	case "sh", "/bin/sh":
		want = "/bin/sh"
	}
	path, err := exec.LookPath(want)
	if err != nil {
		return "", false, fmt.Errorf("shell %s: %w", want, err)
	}
	return path, filepath.Base(path) != "bash", nil
}

func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func (b *build) ms(since time.Time) int64 {
	return b.now().Sub(since).Milliseconds()
}

// execute walks the phases following CodeBuild's phase transitions (docs/buildspec.md):
//   - a failed install or pre_build ends the command phases and skips UPLOAD_ARTIFACTS;
//   - a failed build still runs post_build (with CODEBUILD_BUILD_SUCCEEDING=0) and uploads;
//   - a failed post_build still uploads;
//   - on-failure: CONTINUE goes on to the next phase as if the phase had succeeded, though the
//     build stays FAILED; an explicit ABORT (or an unsupported RETRY) ends the build there.
func (b *build) execute(ctx context.Context) error {
	b.res = &Result{BuildID: b.id, Status: StatusSucceeded}
	for _, w := range b.spec.warnings {
		b.res.Warnings = append(b.res.Warnings, w.String())
	}
	defer func() { b.res.DurationMS = b.ms(b.start) }()

	ended, upload, stopped := false, true, false
	for _, cp := range commandPhases {
		if !ended && !stopped && ctx.Err() != nil {
			stopped = true
		}
		if ended || stopped {
			b.res.Phases = append(b.res.Phases, PhaseResult{Name: cp.name, Status: StatusSkipped})
			continue
		}
		ph := b.spec.Phase(cp.name)
		pr, err := b.runPhase(ctx, cp.name, ph)
		b.res.Phases = append(b.res.Phases, pr)
		if err != nil {
			b.res.Status = StatusFailed
			return err
		}
		switch {
		case pr.Status == StatusStopped:
			stopped = true
		case pr.Status != StatusFailed:
		case ph != nil && ph.OnFailure == OnFailureContinue:
		case ph != nil && ph.OnFailure == OnFailureAbort,
			cp.name == PhaseInstall, cp.name == PhasePreBuild:
			ended, upload = true, false
		}
	}
	if !stopped && ctx.Err() == nil {
		if err := b.captureExports(ctx); err != nil {
			b.res.Status = StatusFailed
			return err
		}
	}
	if ctx.Err() != nil {
		stopped = true
	}
	switch {
	case stopped:
		b.res.Phases = append(b.res.Phases, PhaseResult{Name: PhaseUploadArtifacts, Status: StatusSkipped})
		b.res.Status = StatusStopped
		return nil
	case upload:
		pr, err := b.upload(ctx)
		b.res.Phases = append(b.res.Phases, pr)
		if err != nil {
			b.res.Status = StatusFailed
			return err
		}
		if pr.Status == StatusStopped {
			b.res.Status = StatusStopped
			return nil
		}
		if pr.Status == StatusFailed {
			b.failed = true
		}
	default:
		b.res.Phases = append(b.res.Phases, PhaseResult{Name: PhaseUploadArtifacts, Status: StatusSkipped})
	}
	if b.failed {
		b.res.Status = StatusFailed
	}
	return nil
}

// runPhase runs a phase's commands, stopping at the first failure, then its finally commands,
// which run even when a command failed (and also stop at their first failure).
func (b *build) runPhase(ctx context.Context, name PhaseName, ph *Phase) (PhaseResult, error) {
	b.log.Printf("Entering phase %s", name)
	started := b.now()
	pr := PhaseResult{Name: name, Status: StatusSucceeded}
	if ph != nil {
		if err := b.runCommands(ctx, ph.Commands, &pr); err != nil {
			return pr, err
		}
		if pr.Status != StatusStopped {
			if err := b.runCommands(ctx, ph.Finally, &pr); err != nil {
				return pr, err
			}
		}
	}
	pr.DurationMS = b.ms(started)
	b.log.Printf("Phase complete: %s State: %s", name, pr.Status)
	b.log.Printf("Phase context status code: %s Message: %s", pr.Code, pr.Message)
	return pr, nil
}

// runCommands runs one commands or finally block; the session stops it at the first failure.
func (b *build) runCommands(ctx context.Context, cmds []string, pr *PhaseResult) error {
	if len(cmds) == 0 {
		return nil
	}
	r, err := b.sess.runBatch(ctx, cmds, true)
	if err != nil {
		return err
	}
	if r.failed < 0 && !r.stopped {
		return nil
	}
	shown := ""
	if r.failed >= 0 {
		// A block scalar ends with a newline; messages show the command without it.
		shown = strings.TrimRight(cmds[r.failed], "\n")
	}
	if r.stopped {
		pr.Status, pr.Code, pr.Message = StatusStopped, codeStopped, "Build was stopped"
		if shown != "" {
			pr.Message += " while executing command: " + shown
		}
		return nil
	}
	b.log.Printf("Command did not exit successfully %s %s", shown, r.result.reason)
	if pr.Status == StatusSucceeded {
		pr.Status, pr.Code = StatusFailed, codeCommandError
		pr.Message = fmt.Sprintf("Error while executing command: %s. Reason: %s", shown, r.result.reason)
	}
	return b.markFailed(ctx)
}

// markFailed records the first failure and tells the shell, because commands that still run
// (finally, post_build) branch on CODEBUILD_BUILD_SUCCEEDING.
func (b *build) markFailed(ctx context.Context) error {
	if b.failed {
		return nil
	}
	b.failed = true
	_, err := b.sess.run(ctx, "export CODEBUILD_BUILD_SUCCEEDING=0")
	return err
}

// captureExports reads env.exported-variables from the shell. CodeBuild fixes their values
// when post_build ends; locally that is when the last command phase that ran ends. A variable
// that is not set is exported as an empty string, with a warning.
func (b *build) captureExports(ctx context.Context) error {
	names := b.spec.Env.ExportedVariables
	if len(names) == 0 {
		return nil
	}
	file := filepath.Join(b.tmp, "exported")
	var sb strings.Builder
	sb.WriteString("{ ")
	for _, n := range names {
		// Names were checked to be identifiers by Parse, so they are safe to splice in.
		fmt.Fprintf(&sb, `if [ "${%[1]s+x}" = x ]; then printf '1%%s\0' "$%[1]s"; else printf '0\0'; fi; `, n)
	}
	fmt.Fprintf(&sb, "} >%s", shellQuote(file))
	r, err := b.sess.run(ctx, sb.String())
	if err != nil || r.stopped {
		return err
	}
	if r.failed >= 0 {
		return fmt.Errorf("read exported variables: %s", r.result.reason)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read exported variables: %w", err)
	}
	values := bytes.Split(data, []byte{0})
	b.res.Exported = map[string]string{}
	for i, n := range names {
		v := ""
		if i < len(values) && len(values[i]) > 0 && values[i][0] == '1' {
			v = string(values[i][1:])
		} else {
			b.warnf("exported variable %s was not set when the build ended; exported as an empty string", n)
		}
		b.res.Exported[n] = v
	}
	return nil
}

func (b *build) warnf(format string, args ...any) {
	b.res.Warnings = append(b.res.Warnings, fmt.Sprintf(format, args...))
}
