package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/stepline/stepline/pkg/engine"
)

// Approval asks for manual approvals in the terminal, or approves them all with Auto.
type Approval struct {
	auto bool
	in   *bufio.Reader
	out  io.Writer
	// lines is fed by one reader goroutine, started at the first question, so an abandoned
	// question (a timeout) never leaves two readers racing for the next answer.
	lines chan string
	once  sync.Once
	// mu keeps two approvals of parallel actions from asking at once.
	mu sync.Mutex
	// pause is called around a prompt so a redrawn progress view does not overwrite it.
	pause func(bool)
}

// NewApproval builds an approval executor reading answers from in and asking on out.
// With auto every approval succeeds at once. pause, when not nil, is called with true
// before a prompt and false after it.
func NewApproval(auto bool, in io.Reader, out io.Writer, pause func(bool)) *Approval {
	return &Approval{auto: auto, in: bufio.NewReader(in), out: out, pause: pause}
}

func (a *Approval) read() {
	a.lines = make(chan string)
	go func() {
		defer close(a.lines)
		for {
			line, err := a.in.ReadString('\n')
			if line != "" || err == nil {
				a.lines <- strings.TrimSpace(strings.ToLower(line))
			}
			if err != nil {
				return
			}
		}
	}()
}

// ErrRejected is the failure of a rejected approval.
var ErrRejected = errors.New("rejected")

// Execute asks the question and waits for y/yes (approve) or anything else (reject). A closed
// input rejects: an unattended run must never approve by accident.
func (a *Approval) Execute(ctx context.Context, t engine.Task, env Env) Outcome {
	if a.auto {
		fmt.Fprintln(env.Log, "[stepline] approved automatically (--auto-approve)")
		return Outcome{Message: "approved automatically (--auto-approve)"}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pause != nil {
		a.pause(true)
		defer a.pause(false)
	}
	q := fmt.Sprintf("Approve %s/%s", t.Stage, t.Action)
	if m := configString(t, "message"); m != "" {
		q += ": " + m
	}
	if u := configString(t, "url"); u != "" {
		q += " (" + u + ")"
	}
	fmt.Fprintf(a.out, "%s? [y/N] ", q)
	a.once.Do(a.read)
	select {
	case <-ctx.Done():
		fmt.Fprintln(a.out)
		return Outcome{Err: ctx.Err()}
	case s, ok := <-a.lines:
		switch {
		case !ok:
			fmt.Fprintln(a.out)
			fmt.Fprintln(env.Log, "[stepline] no answer: standard input is closed")
			return Outcome{Err: fmt.Errorf("%w: no answer (standard input is closed)", ErrRejected), Final: true}
		case s == "y" || s == "yes":
			fmt.Fprintln(env.Log, "[stepline] approved in the terminal")
			return Outcome{Message: "approved in the terminal"}
		default:
			fmt.Fprintf(env.Log, "[stepline] rejected in the terminal (answer %q)\n", s)
			return Outcome{Err: fmt.Errorf("%w in the terminal", ErrRejected), Final: true}
		}
	}
}

// Await leaves approvals to a person outside the run: `stepline approve` or `reject`, or the
// dashboard, queue the decision in the store (store.Requests), the runner feeds it to the
// engine, and the engine stops this wait. It is the approval executor of runs no terminal
// answers for (`stepline serve`, `stepline run --wait-approvals`).
type Await struct {
	// Out, when set, is told once per approval what it waits for.
	Out io.Writer
}

// Execute waits until the attempt is stopped: by the decision, a stop of the run, or the
// approval's timeout.
func (a Await) Execute(ctx context.Context, t engine.Task, env Env) Outcome {
	how := fmt.Sprintf("stepline approve %s %s %s (or stepline reject)", t.Run, t.Stage, t.Action)
	fmt.Fprintf(env.Log, "[stepline] waiting for a decision: %s\n", how)
	if a.Out != nil {
		fmt.Fprintf(a.Out, "%s/%s waits for approval: %s\n", t.Stage, t.Action, how)
	}
	<-ctx.Done()
	return Outcome{Err: fmt.Errorf("no decision: %w", ctx.Err())}
}
