package buildspec

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A session is the one shell a build's commands run in. Buildspec 0.2 promises that cd,
// variables and functions carry over from one command to the next and across phases, so every
// command is eval'd by the same long-lived shell instead of a fresh process each.
//
// The protocol, in the shell's own fds:
//   - fd 8 carries commands: each command's lines, then a line "<token> <batch> <seq>".
//   - fd 9 is a duplicate of stdout/stderr. The shell writes "<token> <seq> S" there before a
//     command runs and "<token> <seq> <status>" after it. Sharing the output pipe keeps these
//     markers in order with the command's own output, so "Running command" and phase lines
//     never overtake the output they belong with.
//   - stdin is /dev/null, so a command that reads stdin sees EOF instead of eating the
//     commands that follow it.
//
// A phase's commands are sent together as one batch. After a command in a batch fails the shell
// skips the rest of that batch (writing "<token> <seq> K" for each), which is CodeBuild's "the
// remaining commands are not run". Sending a batch at once means the shell never waits for
// stepline between commands: on a busy machine each such wait can cost a scheduler time slice.
//
// A command can end the shell (exit 3, set -e and a failure, exec). An EXIT trap saves the
// variables, functions, options and directory first; the next command starts a new shell that
// restores them, so later phases (post_build, finally) still run in the state the user built.
type session struct {
	path  string
	posix bool // sh rather than bash: no declare/compgen, so only exported variables survive a restart
	env   []string
	dir   string
	tmp   string
	log   agentLog
	grace time.Duration

	// token marks protocol lines. It is kept in two shell variables and only concatenated at
	// runtime so that `set` or `declare -f` in a user command cannot print a fake marker.
	token string

	cur      *shellProc
	restarts int
	// lostState counts restarts that found no saved state, so the build can warn that later
	// commands did not see earlier variables.
	lostState int
	batch     int
	seq       int
	// shown maps a command's sequence number to the text its "Running command" line shows;
	// the output reader logs that line when the shell starts the command. Internal commands
	// have no entry and are not logged.
	mu    sync.Mutex
	shown map[int]string
	// pgids of every shell started, so the end of the build can stop what they left behind
	// (background jobs, daemons), as the end of a CodeBuild container would.
	pgids []int
	// started is told each shell's process group id (Options.Started).
	started func(pgid int)
	// stale are shells that have exited but whose output pipe a background process still holds
	// open; their readers are closed when the build ends.
	stale []*shellProc
}

// agentLog is where the session writes command output and the lines it logs itself.
type agentLog interface {
	io.Writer
	Printf(format string, args ...any)
}

// event is one marker the shell wrote.
type event struct {
	seq    int
	kind   byte // 'S' started, 'K' skipped, 'D' done
	status int
}

// shellProc is one running shell process.
type shellProc struct {
	cmd     *exec.Cmd
	cmdW    *os.File
	outR    *os.File
	mu      sync.Mutex
	events  []event
	notify  chan struct{} // signalled when events are appended
	exited  chan struct{}
	waitErr error
	drained chan struct{} // closed when the output reader has returned
}

func newSession(path string, posix bool, env []string, dir, tmp string, log agentLog, grace time.Duration) (*session, error) {
	// 64 random bits cannot be guessed by a command, and a short token matters: bash reads
	// the command pipe one byte per system call, and the token is on every command's last line.
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("session token: %w", err)
	}
	return &session{
		path: path, posix: posix, env: env, dir: dir, tmp: tmp, log: log, grace: grace,
		token: "SL" + hex.EncodeToString(b[:]),
		shown: map[int]string{},
	}, nil
}

// start launches a shell. After a previous shell died, it restores what that shell saved.
func (s *session) start() error {
	restore := ""
	if s.restarts > 0 {
		var err error
		if restore, err = s.restoreScript(); err != nil {
			return err
		}
	}
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("command pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		cmdR.Close()
		cmdW.Close()
		return fmt.Errorf("output pipe: %w", err)
	}
	cmd := exec.Command(s.path, "-c", s.bootstrap(restore))
	cmd.Env = s.env
	cmd.Dir = s.dir
	cmd.Stdin = nil // os/exec connects a nil Stdin to /dev/null
	cmd.Stdout = outW
	cmd.Stderr = outW
	cmd.ExtraFiles = []*os.File{cmdR, outW}
	cmd.SysProcAttr = procAttr()
	err = cmd.Start()
	cmdR.Close()
	outW.Close()
	if err != nil {
		cmdW.Close()
		outR.Close()
		return fmt.Errorf("start %s: %w", s.path, err)
	}
	p := &shellProc{
		cmd: cmd, cmdW: cmdW, outR: outR,
		notify:  make(chan struct{}, 1),
		exited:  make(chan struct{}),
		drained: make(chan struct{}),
	}
	s.pgids = append(s.pgids, cmd.Process.Pid)
	if s.started != nil {
		// Before any command is sent: a group the caller has not recorded runs nothing.
		s.started(cmd.Process.Pid)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	go s.read(p)
	s.cur = p
	s.restarts++
	return nil
}

// read copies the shell's output to the log and turns markers into events. Output is forwarded
// as it arrives; only a tail that might be the start of a marker is held back until the next
// read decides it.
func (s *session) read(p *shellProc) {
	defer close(p.drained)
	marker := []byte(s.token + " ")
	buf := make([]byte, 64*1024)
	var pending []byte
	for {
		n, err := p.outR.Read(buf)
		pending = append(pending, buf[:n]...)
		for {
			i := bytes.Index(pending, marker)
			if i < 0 {
				break
			}
			end := bytes.IndexByte(pending[i+len(marker):], '\n')
			if end < 0 {
				break
			}
			s.log.Write(pending[:i])
			if ev, ok := parseEvent(pending[i+len(marker) : i+len(marker)+end]); ok {
				if ev.kind == 'S' {
					s.mu.Lock()
					text, logged := s.shown[ev.seq]
					s.mu.Unlock()
					if logged {
						s.log.Printf("Running command %s", text)
					}
				}
				p.push(ev)
			}
			pending = pending[i+len(marker)+end+1:]
		}
		keep := 0
		if i := bytes.Index(pending, marker); i >= 0 {
			keep = len(pending) - i
		} else {
			keep = partialSuffix(pending, marker)
		}
		if err != nil {
			keep = 0
		}
		if flush := len(pending) - keep; flush > 0 {
			s.log.Write(pending[:flush])
			pending = append(pending[:0], pending[flush:]...)
		}
		if err != nil {
			return
		}
	}
}

// parseEvent reads "<seq> S", "<seq> K" or "<seq> <status>".
func parseEvent(b []byte) (event, bool) {
	seqText, what, ok := strings.Cut(string(b), " ")
	if !ok {
		return event{}, false
	}
	seq, err := strconv.Atoi(seqText)
	if err != nil {
		return event{}, false
	}
	switch what {
	case "S", "K":
		return event{seq: seq, kind: what[0]}, true
	}
	st, err := strconv.Atoi(what)
	if err != nil {
		return event{}, false
	}
	return event{seq: seq, kind: 'D', status: st}, true
}

func (p *shellProc) push(ev event) {
	p.mu.Lock()
	p.events = append(p.events, ev)
	p.mu.Unlock()
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

func (p *shellProc) take() []event {
	p.mu.Lock()
	defer p.mu.Unlock()
	evs := p.events
	p.events = nil
	return evs
}

// partialSuffix returns the length of the longest suffix of b that is a proper prefix of m.
func partialSuffix(b, m []byte) int {
	for k := min(len(m)-1, len(b)); k > 0; k-- {
		if bytes.HasSuffix(b, m[:k]) {
			return k
		}
	}
	return 0
}

// commandResult is how one command ended.
type commandResult struct {
	status int
	reason string // CodeBuild's wording: "exit status 1", "signal: killed"
}

// batchResult is how a batch of commands ended.
type batchResult struct {
	// failed is the index of the command that failed or was stopped; -1 when none did.
	failed  int
	result  commandResult
	stopped bool
}

// run executes one internal command (not logged) and returns how it ended.
func (s *session) run(ctx context.Context, command string) (batchResult, error) {
	return s.runBatch(ctx, []string{command}, false)
}

// runBatch runs commands in order and stops at the first that fails. When logged is true each
// command gets a "Running command" line as it starts. A shell that a command ended is restarted
// for the commands after it. A non-nil error means the shell could not be run at all.
func (s *session) runBatch(ctx context.Context, commands []string, logged bool) (batchResult, error) {
	next := 0 // index of the first command not known to have finished
	for next < len(commands) {
		if s.cur == nil {
			if err := s.start(); err != nil {
				return batchResult{}, err
			}
		}
		p := s.cur
		rest := commands[next:]
		s.batch++
		first := s.seq + 1
		var msg strings.Builder
		s.mu.Lock()
		for _, c := range rest {
			s.seq++
			if logged {
				s.shown[s.seq] = strings.TrimRight(c, "\n")
			}
			for _, line := range strings.Split(c, "\n") {
				msg.WriteString(line)
				msg.WriteByte('\n')
			}
			fmt.Fprintf(&msg, "%s %d %d\n", s.token, s.batch, s.seq)
		}
		s.mu.Unlock()
		// The write runs on its own: a batch can be larger than the pipe buffer, and a shell
		// that dies stops reading. A failed write is seen as the shell's exit.
		written := make(chan struct{})
		go func() {
			defer close(written)
			io.WriteString(p.cmdW, msg.String())
		}()

		res, resumeAt := s.await(ctx, p, first, len(rest), written)
		s.mu.Lock()
		for seq := first; seq < first+len(rest); seq++ {
			delete(s.shown, seq)
		}
		s.mu.Unlock()
		if resumeAt < 0 {
			if res.failed >= 0 {
				res.failed += next
			}
			return res, nil
		}
		// The shell ended with status 0 during or between commands (exit 0, exec): the commands
		// it did not get to run go to a new shell.
		next += resumeAt
	}
	return batchResult{failed: -1}, nil
}

// await collects the events of a batch of n commands numbered from first. When the shell exits
// cleanly before the batch ends, resumeAt is the index (within the batch) of the first command
// it did not run; otherwise resumeAt is -1 and res says how the batch ended.
func (s *session) await(ctx context.Context, p *shellProc, first, n int, written chan struct{}) (res batchResult, resumeAt int) {
	res.failed = -1
	finished, running := 0, -1
	apply := func(evs []event) {
		for _, ev := range evs {
			i := ev.seq - first
			if i < 0 || i >= n {
				continue
			}
			switch ev.kind {
			case 'S':
				running = i
			case 'K':
				finished++
			case 'D':
				finished++
				running = -1
				if ev.status != 0 && res.failed < 0 {
					res.failed = i
					res.result = commandResult{status: ev.status, reason: fmt.Sprintf("exit status %d", ev.status)}
				}
			}
		}
	}
	for finished < n {
		apply(p.take())
		if finished == n {
			break
		}
		select {
		case <-p.notify:
		case <-p.exited:
			<-written
			s.retire(p)
			apply(p.take())
			if finished == n || res.failed >= 0 {
				return res, -1
			}
			if running >= 0 {
				r := exitResult(p.waitErr)
				if r.status != 0 {
					res.failed, res.result = running, r
					return res, -1
				}
				return res, running + 1
			}
			return res, finished
		case <-ctx.Done():
			s.kill(p)
			<-written
			s.retire(p)
			apply(p.take())
			res.stopped, res.failed = true, running
			res.result = commandResult{status: -1, reason: "build stopped"}
			return res, -1
		}
	}
	<-written
	return res, -1
}

// exitResult describes how a shell process ended, in the terms CodeBuild uses.
func exitResult(err error) commandResult {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return commandResult{status: 128 + int(ws.Signal()), reason: "signal: " + ws.Signal().String()}
		}
		return commandResult{status: ee.ExitCode(), reason: fmt.Sprintf("exit status %d", ee.ExitCode())}
	}
	if err != nil {
		return commandResult{status: -1, reason: err.Error()}
	}
	return commandResult{status: 0, reason: "exit status 0"}
}

// retire forgets a shell that has exited. Its output is drained briefly so the command's last
// lines land in the log before the phase summary; a background process that still holds the
// pipe open keeps its reader alive until the build ends.
func (s *session) retire(p *shellProc) {
	p.cmdW.Close()
	select {
	case <-p.drained:
		p.outR.Close()
	case <-time.After(100 * time.Millisecond):
		s.stale = append(s.stale, p)
	}
	if s.cur == p {
		s.cur = nil
	}
}

// kill stops a shell's whole process group: SIGTERM first so tools can clean up, SIGKILL if
// the group is still there after the grace period.
func (s *session) kill(p *shellProc) {
	pgid := p.cmd.Process.Pid
	if signalGroup(pgid, syscall.SIGTERM) != nil {
		p.cmd.Process.Kill()
	}
	select {
	case <-p.exited:
	case <-time.After(s.grace):
	}
	if signalGroup(pgid, syscall.SIGKILL) != nil {
		p.cmd.Process.Kill()
	}
	<-p.exited
}

// close ends the session: the shell is told there are no more commands, and whatever is left
// in the process groups it started is stopped, as it would be when a CodeBuild container ends.
func (s *session) close() {
	if p := s.cur; p != nil {
		p.cmdW.Close()
		select {
		case <-p.exited:
		case <-time.After(s.grace):
			s.kill(p)
		}
		s.retire(p)
	}
	StopGroups(s.pgids, s.grace)
	for _, p := range s.stale {
		select {
		case <-p.drained:
		case <-time.After(100 * time.Millisecond):
		}
		p.outR.Close()
		<-p.drained
	}
	s.stale = nil
}
