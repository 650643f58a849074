package engine

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// ErrMismatch is returned when a state does not belong to the definition it is advanced with.
var ErrMismatch = errors.New("state does not match definition")

// Advance applies inputs to a run's state at time now and decides what happens next. It never
// changes st (the new state is returned) and is deterministic: the same arguments always give
// the same result. Inputs that no longer apply (a result delivered twice, a late result of a
// timed-out attempt) are listed in Decision.Ignored and change nothing.
//
// The new state shares with st what the call did not change (the list of stages, each stage's
// actions and the variables they exported, the namespaces the run was created with, the
// artifacts, the previous run's artifacts), so a call costs what its inputs touch rather than a copy of the run. Treat
// states as values: writing into the maps or the stages of one would change the others.
func Advance(def Definition, st State, inputs []Input, now time.Time) (State, Decision, error) {
	if err := match(def, st); err != nil {
		return st, Decision{}, err
	}
	// The new state starts as the caller's and shares everything with it; what this call
	// changes is copied before its first write (stage, publish, artifact) or replaced whole
	// (Previous).
	a := &advancer{def: &def, s: st, now: now, ms: millis(now)}
	if a.s.Done() && !slices.ContainsFunc(inputs, reopens) {
		for _, in := range inputs {
			a.ignore(in, "the run has ended")
		}
		a.d.Done = true
		return a.s, a.d, nil
	}
	if a.s.Status == Pending {
		a.s.Status = InProgress
		a.s.Started = a.ms
		a.event(PipelineEvent, Started, -1, -1, "")
	}
	for _, in := range inputs {
		if a.s.Done() && !reopens(in) {
			a.ignore(in, "the run has ended")
			continue
		}
		a.apply(in)
	}
	if !a.s.Done() {
		a.timeouts()
		a.progress()
	}
	a.wake()
	a.d.Done = a.s.Done()
	return a.s, a.d, nil
}

func match(def Definition, st State) error {
	switch {
	case st.Version != StateVersion:
		return fmt.Errorf("%w: state version %d, engine reads %d", ErrMismatch, st.Version, StateVersion)
	case st.Pipeline != def.Pipeline:
		return fmt.Errorf("%w: state of pipeline %q, definition of %q", ErrMismatch, st.Pipeline, def.Pipeline)
	case len(st.Stages) != len(def.Stages):
		return fmt.Errorf("%w: %d stages in state, %d defined", ErrMismatch, len(st.Stages), len(def.Stages))
	case len(def.Stages) == 0:
		return fmt.Errorf("%w: the definition has no stages", ErrMismatch)
	case st.Stage < 0 || st.Stage >= len(def.Stages):
		return fmt.Errorf("%w: current stage %d out of range", ErrMismatch, st.Stage)
	}
	for i := range def.Stages {
		if len(st.Stages[i].Actions) != len(def.Stages[i].Actions) {
			return fmt.Errorf("%w: stage %q has %d actions in state, %d defined", ErrMismatch,
				def.Stages[i].Name, len(st.Stages[i].Actions), len(def.Stages[i].Actions))
		}
	}
	return nil
}

// advancer carries one Advance call's working values.
type advancer struct {
	def *Definition
	s   State
	// own marks the stages whose actions this call has copied (stage); it is nil until the
	// call copies the list of stages itself. Until then they are the caller's.
	own []bool
	// ownVars and ownArtifacts are true once this call has copied the map of namespaces
	// and the map of artifacts (share, artifact); until then they are the caller's.
	ownVars, ownArtifacts bool
	d                     Decision
	now                   time.Time
	ms                    int64
}

func (a *advancer) mode() Mode {
	if a.def.Mode == "" {
		return ModeSuperseded
	}
	return a.def.Mode
}

func (a *advancer) ignore(in Input, why string) {
	what := string(in.Kind)
	if in.Stage != "" {
		what += " " + in.Stage
	}
	if in.Action != "" {
		what += "/" + in.Action
	}
	if in.Attempt != 0 {
		what += fmt.Sprintf("#%d", in.Attempt)
	}
	a.d.Ignored = append(a.d.Ignored, what+": "+why)
}

func (a *advancer) apply(in Input) {
	switch in.Kind {
	case KindCancel:
		a.cancel(in.Message)
	case KindSuperseded:
		if a.current().Status != Waiting {
			a.ignore(in, "the run is not waiting for a stage")
			return
		}
		msg := "superseded"
		if in.By != "" {
			msg += " by run " + in.By
		}
		a.release()
		sg := a.current()
		sg.Status, sg.Ended, sg.Message = Superseded, a.ms, msg
		a.event(StageEvent, string(Superseded), a.s.Stage, -1, msg)
		a.end(Superseded, msg)
	case KindGranted:
		sg := a.current()
		if sg.Status != Waiting || a.def.Stages[a.s.Stage].Name != in.Stage {
			a.ignore(in, "the run is not waiting for that stage")
			return
		}
		sg.Locked = true
		a.enter()
	case KindResult:
		a.result(in)
	case KindApproval, KindRetry, KindStop, KindRollback:
		a.operate(in)
	case KindPrevious:
		for _, sg := range a.s.Stages {
			if sg.RollingBack {
				a.ignore(in, "a rollback has already started")
				return
			}
		}
		a.s.Previous = maps.Clone(in.Outputs)
		a.s.PreviousRun = in.By
	default:
		a.ignore(in, "unknown input kind")
	}
}

func (a *advancer) current() *StageState { return a.stage(a.s.Stage) }

// read returns stage i as it stands, for reading only: it may still be the caller's, and a
// later stage call may move it, so it is read again after any change.
func (a *advancer) read(i int) *StageState { return &a.s.Stages[i] }

// stage returns stage i of the state being advanced, to change: the list of stages (one
// entry per stage, not their actions) is copied the first time a call changes a stage, and
// the stage's actions the first time it changes that stage. A call copies the stages it
// touches, not the whole run.
func (a *advancer) stage(i int) *StageState {
	if a.own == nil {
		a.s.Stages = slices.Clone(a.s.Stages)
		a.own = make([]bool, len(a.s.Stages))
	}
	sg := &a.s.Stages[i]
	if !a.own[i] {
		sg.Actions = slices.Clone(sg.Actions)
		a.own[i] = true
	}
	return sg
}

// publish keeps the variables action j of stage i exported, in its namespace ns, with the
// action's state: the call has copied that stage already (result), so publishing copies no
// more than the action's own variables, whatever the size of the run. A state without
// State.Spaces (written before actions kept their variables) gets it here, once.
func (a *advancer) publish(i, j int, ns string, vars map[string]string) {
	if len(vars) == 0 {
		return
	}
	if a.s.Spaces == nil {
		a.s.Spaces = spaces(a.def)
	}
	if a.s.Spaces[ns] != [2]int{i, j} {
		// A namespace two actions share (validate refuses it): kept in the map of
		// namespaces, copied once per call, as before actions kept their own.
		a.share(ns, vars)
		return
	}
	as := &a.stage(i).Actions[j]
	as.Vars = merged(as.Vars, vars)
}

// share sets vars in namespace ns of the map of namespaces. The caller's state shares that map
// and each namespace's map: the first is copied once per call, the second replaced by a copy
// holding vars too.
func (a *advancer) share(ns string, vars map[string]string) {
	if !a.ownVars {
		a.s.Vars = maps.Clone(a.s.Vars)
		if a.s.Vars == nil {
			a.s.Vars = map[string]map[string]string{}
		}
		a.ownVars = true
	}
	a.s.Vars[ns] = merged(a.s.Vars[ns], vars)
}

// artifact records where artifact name is, in a copy of the map of artifacts made once per
// call, as the caller's state shares it.
func (a *advancer) artifact(name, location string) {
	if !a.ownArtifacts {
		a.s.Artifacts = maps.Clone(a.s.Artifacts)
		if a.s.Artifacts == nil {
			a.s.Artifacts = map[string]string{}
		}
		a.ownArtifacts = true
	}
	a.s.Artifacts[name] = location
}

func (a *advancer) find(stage, action string) (int, int, bool) {
	for i := range a.def.Stages {
		if a.def.Stages[i].Name != stage {
			continue
		}
		for j := range a.def.Stages[i].Actions {
			if a.def.Stages[i].Actions[j].Name == action {
				return i, j, true
			}
		}
	}
	return 0, 0, false
}

func (a *advancer) result(in Input) {
	i, j, ok := a.find(in.Stage, in.Action)
	if !ok {
		a.ignore(in, "no such action")
		return
	}
	if as := a.read(i).Actions[j]; as.Status != InProgress || as.Attempt != in.Attempt {
		a.ignore(in, fmt.Sprintf("attempt %d is not running (attempt %d is %s)", in.Attempt, as.Attempt, as.Status))
		return
	}
	as := &a.stage(i).Actions[j]
	if in.External != "" {
		as.External = in.External
	}
	switch in.Status {
	case Succeeded:
		act := &a.def.Stages[i].Actions[j]
		if !as.Rollback {
			for _, name := range act.Outputs {
				if in.Outputs[name] == "" {
					a.failAttempt(i, j, fmt.Sprintf("the action did not produce its output artifact %q", name), true)
					return
				}
			}
			for _, name := range act.Outputs {
				a.artifact(name, in.Outputs[name])
			}
			if act.Namespace != "" {
				a.publish(i, j, act.Namespace, in.Variables)
			}
		}
		as.Status = Succeeded
		as.Ended = a.ms
		as.Message = in.Message
		a.event(ActionEvent, string(Succeeded), i, j, in.Message)
	case Failed:
		a.failAttempt(i, j, in.Message, in.Final)
	default:
		a.ignore(in, "a result's status must be SUCCEEDED or FAILED")
	}
}

// failAttempt records a failed attempt and either schedules the action's next attempt with
// backoff or leaves it failed for the stage to handle.
func (a *advancer) failAttempt(i, j int, msg string, final bool) {
	act := &a.def.Stages[i].Actions[j]
	as := &a.stage(i).Actions[j]
	as.Status = Failed
	as.Ended = a.ms
	as.Deadline = 0
	as.Message = msg
	a.event(ActionEvent, string(Failed), i, j, msg)
	if final || as.Rollback || act.Provider == ProviderApproval || as.Tries >= act.Retry.MaxAttempts {
		return
	}
	as.Status = Waiting
	as.Due = a.ms + backoff(act.Retry, as.Tries).Milliseconds()
}

// backoff is the wait after the n-th failed attempt: Backoff × Factor^(n-1), capped.
func backoff(p RetryPolicy, n int) time.Duration {
	f := p.Factor
	if f <= 0 {
		f = 2
	}
	d := float64(p.Backoff) * math.Pow(f, float64(n-1))
	if p.MaxBackoff > 0 && d > float64(p.MaxBackoff) {
		return p.MaxBackoff
	}
	if d > float64(math.MaxInt64/2) {
		return time.Duration(math.MaxInt64 / 2)
	}
	return time.Duration(d)
}

// timeouts fails every running attempt whose deadline has passed and asks for it to be stopped.
func (a *advancer) timeouts() {
	i := a.s.Stage
	if a.read(i).Status != InProgress {
		return
	}
	// Read in place: the stage is copied (failAttempt) only when an attempt has timed out.
	for j := range a.read(i).Actions {
		as := a.read(i).Actions[j]
		if as.Status != InProgress || as.Deadline == 0 || a.ms < as.Deadline {
			continue
		}
		act := &a.def.Stages[i].Actions[j]
		a.d.Stop = append(a.d.Stop, a.task(i, j, nil))
		a.failAttempt(i, j, fmt.Sprintf("timed out after %s", act.Timeout), act.Provider == ProviderApproval)
	}
}

// progress moves the run on as far as it can go now: through stage locks, run-order groups,
// stage retries, rollbacks and into the next stages.
func (a *advancer) progress() {
	if a.s.Stopping != "" {
		a.finishStop()
		return
	}
	for !a.s.Done() {
		switch a.read(a.s.Stage).Status {
		case Pending:
			if a.mode() == ModeParallel {
				a.enter()
				continue
			}
			a.current().Status = Waiting
			a.d.Acquire = a.def.Stages[a.s.Stage].Name
			a.event(StageEvent, string(Waiting), a.s.Stage, -1, "waiting for the stage lock")
			return
		case Waiting:
			// Asking again is harmless (Lane.Acquire is idempotent) and heals a lost request.
			a.d.Acquire = a.def.Stages[a.s.Stage].Name
			return
		case InProgress:
			if !a.step() {
				return
			}
		default:
			return
		}
	}
}

func (a *advancer) enter() {
	sg := a.current()
	sg.Status = InProgress
	sg.Started = a.ms
	a.event(StageEvent, Started, a.s.Stage, -1, "")
}

// step runs the current stage's groups; it reports true when the stage succeeded and the run
// moved to the next stage.
func (a *advancer) step() bool {
	i := a.s.Stage
	def := &a.def.Stages[i]
	// The stage is read in place (read) and copied (stage) only when an action changes, so a
	// call with nothing to start copies nothing.
	rolling := a.read(i).RollingBack
	for _, order := range runOrders(def) {
		var members []int
		lost := false
		for j := range def.Actions {
			act := &def.Actions[j]
			if runOrder(act) != order || (rolling && act.Provider == ProviderApproval) {
				continue
			}
			members = append(members, j)
			lost = lost || a.read(i).Actions[j].Status == Failed
		}
		done, busy := true, false
		for _, j := range members {
			switch as := a.read(i).Actions[j]; as.Status {
			case Succeeded, Skipped:
				continue
			case InProgress:
				busy = true
			case Waiting, Pending:
				switch {
				case lost && as.Status == Waiting:
					// The group has failed for good: another attempt cannot save it, so
					// the retry is dropped and the failure stands.
					w := &a.stage(i).Actions[j]
					w.Status, w.Due = Failed, 0
				case lost:
					a.stage(i).Actions[j].Status = Skipped
				case as.Status == Pending || as.Due <= a.ms:
					if !a.start(i, j) {
						lost = true
					} else {
						busy = true
					}
				default:
					busy = true
				}
			}
			done = false
		}
		if done {
			continue
		}
		if busy {
			return false
		}
		if lost {
			return a.stageFailed()
		}
	}
	if rolling {
		cause := a.read(i).Message
		a.finishStage(Failed, "rolled back to the previous successful run after: "+cause)
		a.end(Failed, cause)
		return false
	}
	a.finishStage(Succeeded, "")
	a.s.Stage++
	if a.s.Stage == len(a.def.Stages) {
		a.s.Stage = len(a.def.Stages) - 1
		a.end(Succeeded, "")
	}
	return true
}

// stageFailed applies the stage's on_failure policy once no action of the failed group is
// still running. It reports true when the stage moved the run on.
func (a *advancer) stageFailed() bool {
	i := a.s.Stage
	sg := a.current()
	def := &a.def.Stages[i]
	cause := a.failure(i)
	if sg.RollingBack {
		first := sg.Message
		a.finishStage(Failed, "rollback failed: "+cause+" (after: "+first+")")
		a.end(Failed, first+"; rollback failed: "+cause)
		return false
	}
	switch def.OnFailure.Result {
	case Retry:
		if sg.Retries < max(def.OnFailure.Attempts, 1) {
			sg.Retries++
			for j := range sg.Actions {
				as := &sg.Actions[j]
				if def.OnFailure.Scope == AllActions || as.Status == Failed {
					*as = as.again(false)
				}
			}
			a.event(StageEvent, Resumed, i, -1, fmt.Sprintf("retry %d of %d after: %s", sg.Retries, max(def.OnFailure.Attempts, 1), cause))
			return a.step()
		}
		cause += fmt.Sprintf(" (stage retried %d times)", sg.Retries)
	case Rollback:
		if why := a.cannotRollBack(i); why != "" {
			cause += "; cannot roll back: " + why
			break
		}
		if a.s.PreviousRun != "" {
			cause += "; rolling back to the artifacts of run " + a.s.PreviousRun
		}
		a.rollingBack(i, cause)
		return a.step()
	}
	a.finishStage(Failed, cause)
	a.end(Failed, cause)
	return false
}

// rollingBack starts the rollback of stage i, msg saying why: its actions other than
// approvals run again with the previous run's artifacts (State.Previous).
func (a *advancer) rollingBack(i int, msg string) {
	sg := a.stage(i)
	sg.RollingBack, sg.Message = true, msg
	for j := range sg.Actions {
		if a.def.Stages[i].Actions[j].Provider != ProviderApproval {
			sg.Actions[j] = sg.Actions[j].again(true)
		}
	}
	a.event(StageEvent, RollingBack, i, -1, msg)
}

// failure describes the stage's failed actions, for messages.
func (a *advancer) failure(i int) string {
	rolling := a.s.Stages[i].RollingBack
	for j, as := range a.s.Stages[i].Actions {
		if as.Status == Failed && as.Rollback == rolling {
			return fmt.Sprintf("action %s failed: %s", a.def.Stages[i].Actions[j].Name, as.Message)
		}
	}
	return "an action failed"
}

func (a *advancer) cannotRollBack(i int) string {
	if len(a.s.Previous) == 0 {
		return "no earlier successful run"
	}
	for _, act := range a.def.Stages[i].Actions {
		for _, in := range act.Inputs {
			if a.s.Previous[in] == "" {
				return fmt.Sprintf("the last successful run has no artifact %q", in)
			}
		}
	}
	return ""
}

func (a *advancer) finishStage(st Status, msg string) {
	sg := a.current()
	sg.Status = st
	sg.Ended = a.ms
	sg.Message = msg
	a.event(StageEvent, string(st), a.s.Stage, -1, msg)
	a.release()
}

func (a *advancer) release() {
	sg := a.current()
	if !sg.Locked && sg.Status != Waiting {
		return
	}
	sg.Locked = false
	name := a.def.Stages[a.s.Stage].Name
	if !slices.Contains(a.d.Release, name) {
		a.d.Release = append(a.d.Release, name)
	}
}

// start begins the next attempt of action j of stage i. It reports false when the attempt
// failed before it could start (an unresolvable variable or a missing artifact).
func (a *advancer) start(i, j int) bool {
	act := &a.def.Stages[i].Actions[j]
	as := &a.stage(i).Actions[j]
	as.Attempt++
	as.Tries++
	as.Status = InProgress
	as.Started = a.ms
	as.Ended, as.Due, as.Deadline = 0, 0, 0
	as.Message, as.External = "", ""
	var problem error
	t := a.task(i, j, &problem)
	if problem != nil {
		a.failAttempt(i, j, problem.Error(), true)
		return false
	}
	if act.Timeout > 0 {
		as.Deadline = a.ms + act.Timeout.Milliseconds()
	}
	a.event(ActionEvent, Started, i, j, "")
	a.d.Start = append(a.d.Start, t)
	return true
}

// task builds the attempt's task; when problem is not nil, it receives the first reason the
// task cannot run.
func (a *advancer) task(i, j int, problem *error) Task {
	act := &a.def.Stages[i].Actions[j]
	as := &a.stage(i).Actions[j]
	t := Task{
		Run: a.s.Run, Pipeline: a.s.Pipeline, Stage: a.def.Stages[i].Name, Action: act.Name,
		Attempt: as.Attempt, Provider: act.Provider, Outputs: act.Outputs,
		Namespace: act.Namespace, Rollback: as.Rollback, Timeout: act.Timeout,
	}
	if len(act.Inputs) > 0 {
		from := a.s.Artifacts
		if as.Rollback {
			from = a.s.Previous
		}
		t.Inputs = make([]Artifact, len(act.Inputs))
		for k, name := range act.Inputs {
			loc := from[name]
			if loc == "" && problem != nil && *problem == nil {
				*problem = fmt.Errorf("input artifact %q is not available", name)
			}
			t.Inputs[k] = Artifact{Name: name, Location: loc}
		}
	}
	if act.Config != nil {
		cfg, err := resolve(act.Config, &a.s)
		if err != nil && problem != nil && *problem == nil {
			*problem = err
		}
		t.Config, _ = cfg.(map[string]any)
	}
	return t
}

// cancel stops everything running and ends the run as canceled.
func (a *advancer) cancel(msg string) {
	if msg == "" {
		msg = "canceled"
	}
	i := a.s.Stage
	sg := a.current()
	for j := range sg.Actions {
		as := &sg.Actions[j]
		switch as.Status {
		case InProgress:
			a.d.Stop = append(a.d.Stop, a.task(i, j, nil))
		case Waiting:
		default:
			continue
		}
		as.Status = Canceled
		as.Ended = a.ms
		as.Message = msg
		a.event(ActionEvent, string(Canceled), i, j, msg)
	}
	if sg.Status == InProgress || sg.Status == Waiting {
		a.release()
		sg.Status = Canceled
		sg.Ended = a.ms
		sg.Message = msg
		a.event(StageEvent, string(Canceled), i, -1, msg)
	}
	a.end(Canceled, msg)
}

// end finishes the run.
func (a *advancer) end(st Status, msg string) {
	if sg := a.current(); sg.Status == Waiting || sg.Locked {
		a.release()
	}
	a.s.Status = st
	a.s.Ended = a.ms
	a.s.Message = msg
	a.event(PipelineEvent, string(st), -1, -1, msg)
}

// wake sets WakeAt to the earliest retry or deadline of the current stage.
func (a *advancer) wake() {
	if a.s.Done() {
		return
	}
	var next int64
	for _, as := range a.read(a.s.Stage).Actions {
		t := int64(0)
		switch as.Status {
		case Waiting:
			t = as.Due
		case InProgress:
			t = as.Deadline
		}
		if t > 0 && (next == 0 || t < next) {
			next = t
		}
	}
	if next > 0 {
		a.d.WakeAt = Time(next)
	}
}

func (a *advancer) event(typ EventType, state string, i, j int, msg string) {
	e := Event{Type: typ, State: state, Pipeline: a.s.Pipeline, Run: a.s.Run, Time: a.now, Message: msg}
	if i >= 0 {
		e.Stage = a.def.Stages[i].Name
	}
	if j >= 0 {
		act := &a.def.Stages[i].Actions[j]
		as := &a.s.Stages[i].Actions[j]
		e.Action, e.Provider, e.Attempt, e.Rollback = act.Name, act.Provider, as.Attempt, as.Rollback
	}
	a.d.Events = append(a.d.Events, e)
}

func runOrder(a *Action) int { return max(a.RunOrder, 1) }

// runOrders lists a stage's distinct run orders, ascending.
func runOrders(s *Stage) []int {
	orders := make([]int, 0, 4)
	for j := range s.Actions {
		o := runOrder(&s.Actions[j])
		if !slices.Contains(orders, o) {
			orders = append(orders, o)
		}
	}
	slices.Sort(orders)
	return orders
}
