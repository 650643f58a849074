package engine

import (
	"errors"
	"fmt"
	"maps"
)

// What people do to a run from outside it (pkg/runops): decide an approval, retry a failed
// stage, stop the run, roll a stage back. Each has a Check function that says why the run's
// state does not allow it, which the drivers show before they send anything; Advance applies
// the same check and ignores an input that fails it (a decision that raced another one).

// Stopping is the pipeline event of a run asked to stop once its running actions finish.
const Stopping = "STOPPING"

// ErrNotAllowed is wrapped by every Check function's answer.
var ErrNotAllowed = errors.New("not allowed")

func notAllowed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotAllowed, fmt.Sprintf(format, args...))
}

// reopens reports whether in may apply to a run that has ended.
func reopens(in Input) bool { return in.Kind == KindRetry || in.Kind == KindRollback }

// CheckDecision says why the approval action of stage cannot be decided now; nil when the run
// waits for it.
func CheckDecision(def Definition, st State, stage, action string) error {
	i, j, err := lookup(def, stage, action)
	if err != nil {
		return err
	}
	if def.Stages[i].Actions[j].Provider != ProviderApproval {
		return notAllowed("%s/%s is a %s action, not an approval", stage, action, def.Stages[i].Actions[j].Provider)
	}
	if st.Done() {
		return notAllowed("the run has ended (%s)", st.Status)
	}
	if as := st.Stages[i].Actions[j]; as.Status != InProgress {
		return notAllowed("%s/%s is not waiting for a decision (it is %s)", stage, action, as.Status)
	}
	return nil
}

// CheckRetry says why stage of the run cannot be retried; nil when it can: the run FAILED in
// that stage, or was stopped (CANCELED) in it, as CodePipeline retries a stopped execution's
// stage (https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-stop.html).
func CheckRetry(def Definition, st State, stage string) error {
	i, _, err := lookup(def, stage, "")
	if err != nil {
		return err
	}
	if st.Status != Failed && st.Status != Canceled {
		return notAllowed("only a FAILED or stopped (CANCELED) run can be retried; this one is %s", st.Status)
	}
	if sg := st.Stages[i].Status; i != st.Stage || (sg != Failed && sg != Canceled) {
		return notAllowed("the run ended in stage %s, not in %s", def.Stages[st.Stage].Name, stage)
	}
	return nil
}

// CheckStop says why the run cannot be stopped; nil when it can. A run that is already
// stopping can still be abandoned.
func CheckStop(st State, abandon bool) error {
	switch {
	case st.Done():
		return notAllowed("the run has ended (%s)", st.Status)
	case st.Stopping != "" && !abandon:
		return notAllowed("the run is already stopping (%s); abandon it to stop its running actions", st.Stopping)
	}
	return nil
}

// CheckRollback says why stage of the run cannot be rolled back to the run to; nil when it
// can: the run has ended, the stage ran and has actions to redeploy, and to is another run
// that succeeded with every artifact they take.
func CheckRollback(def Definition, st State, stage string, to State) error {
	i, _, err := lookup(def, stage, "")
	if err != nil {
		return err
	}
	switch {
	case !st.Done():
		return notAllowed("the run is %s: stop it first, or let it end", st.Status)
	case st.Status != Succeeded && st.Status != Failed:
		return notAllowed("the run is %s; only a SUCCEEDED or FAILED run's stage can be rolled back", st.Status)
	case st.Stages[i].Status != Succeeded && st.Stages[i].Status != Failed:
		return notAllowed("stage %s never ran in this run (it is %s)", stage, st.Stages[i].Status)
	case to.Run == st.Run:
		return notAllowed("a run cannot be rolled back to itself")
	case to.Status != Succeeded:
		return notAllowed("run %s is %s; only a SUCCEEDED run can be rolled back to", to.Run, to.Status)
	case to.Pipeline != st.Pipeline:
		return notAllowed("run %s is of pipeline %s, not %s", to.Run, to.Pipeline, st.Pipeline)
	}
	deploys := 0
	for _, act := range def.Stages[i].Actions {
		if act.Provider == ProviderApproval {
			continue
		}
		deploys++
		for _, name := range act.Inputs {
			if to.Artifacts[name] == "" {
				return notAllowed("run %s has no artifact %q, which %s/%s deploys", to.Run, name, stage, act.Name)
			}
		}
	}
	if deploys == 0 {
		return notAllowed("stage %s has only approvals: nothing to roll back", stage)
	}
	return nil
}

// lookup finds stage (and action, unless empty) in def.
func lookup(def Definition, stage, action string) (int, int, error) {
	for i := range def.Stages {
		if def.Stages[i].Name != stage {
			continue
		}
		if action == "" {
			return i, 0, nil
		}
		for j := range def.Stages[i].Actions {
			if def.Stages[i].Actions[j].Name == action {
				return i, j, nil
			}
		}
		return 0, 0, notAllowed("stage %s has no action %s", stage, action)
	}
	return 0, 0, notAllowed("the pipeline has no stage %s", stage)
}

// operate applies a person's operation, or ignores it with the reason its check gives.
func (a *advancer) operate(in Input) {
	var err error
	switch in.Kind {
	case KindApproval:
		err = CheckDecision(*a.def, a.s, in.Stage, in.Action)
	case KindRetry:
		err = CheckRetry(*a.def, a.s, in.Stage)
	case KindStop:
		err = CheckStop(a.s, false)
	case KindRollback:
		err = CheckRollback(*a.def, a.s, in.Stage, State{Run: in.By, Pipeline: a.s.Pipeline, Status: Succeeded, Artifacts: in.Outputs})
	}
	if err != nil {
		a.ignore(in, err.Error())
		return
	}
	switch in.Kind {
	case KindApproval:
		a.decide(in)
	case KindRetry:
		a.retry(in)
	case KindStop:
		a.s.Stopping = "stopped" + by(in.Who) + colon(in.Message)
		a.event(PipelineEvent, Stopping, -1, -1, a.s.Stopping)
	case KindRollback:
		a.rollBack(in)
	}
}

// decide ends the approval's attempt with the person's decision. A rejection is final. The
// attempt's executor (a terminal prompt, a wait for the store) is listed to stop.
func (a *advancer) decide(in Input) {
	i, j, _ := a.find(in.Stage, in.Action)
	if as := a.read(i).Actions[j]; in.Attempt != 0 && in.Attempt != as.Attempt {
		a.ignore(in, fmt.Sprintf("attempt %d is not the waiting one (attempt %d is)", in.Attempt, as.Attempt))
		return
	}
	as := &a.stage(i).Actions[j]
	a.d.Stop = append(a.d.Stop, a.task(i, j, nil))
	if in.Status == Succeeded {
		as.Status, as.Ended, as.Deadline = Succeeded, a.ms, 0
		as.Message = "approved" + by(in.Who) + colon(in.Message)
		a.event(ActionEvent, string(Succeeded), i, j, as.Message)
		return
	}
	a.failAttempt(i, j, "rejected"+by(in.Who)+colon(in.Message), true)
}

// retry reopens the run at the stage it failed or was stopped in. The stage asks for its lock again (another run
// may hold it by now); its succeeded actions keep their results unless in.All. A stage that
// was rolled back runs all its actions again: what it deployed was replaced by the rollback.
func (a *advancer) retry(in Input) {
	i := a.s.Stage
	sg := a.current()
	all := in.All || sg.RollingBack
	for j := range sg.Actions {
		if as := &sg.Actions[j]; all || as.Status != Succeeded {
			*as = as.again(false)
		}
	}
	scope := "failed actions"
	if all {
		scope = "all actions"
	}
	msg := fmt.Sprintf("retry of stage %s (%s)%s", a.def.Stages[i].Name, scope, by(in.Who)) + colon(in.Message)
	a.reopen(msg)
	sg.RollingBack = false
}

// rollBack reopens the run at stage to redeploy the artifacts of run in.By; step ends the
// run FAILED once the redeploy is done, the stage marked rolled back.
func (a *advancer) rollBack(in Input) {
	i, _, _ := lookup(*a.def, in.Stage, "")
	a.s.Stage = i
	a.s.Previous, a.s.PreviousRun = maps.Clone(in.Outputs), in.By
	msg := "rollback to run " + in.By + by(in.Who) + colon(in.Message)
	a.reopen(msg)
	a.rollingBack(i, msg)
}

// reopen makes the ended run's current stage pending again and the run in progress.
func (a *advancer) reopen(msg string) {
	sg := a.current()
	sg.Status, sg.Started, sg.Ended, sg.Message, sg.Retries, sg.Locked = Pending, 0, 0, "", 0, false
	a.s.Status, a.s.Ended, a.s.Message, a.s.Stopping = InProgress, 0, "", ""
	a.event(PipelineEvent, Resumed, -1, -1, msg)
}

// finishStop ends a stopping run once none of its actions runs any more. An approval has
// nothing to finish: it is canceled with the run rather than waited for.
func (a *advancer) finishStop() {
	for j, as := range a.read(a.s.Stage).Actions {
		if as.Status == InProgress && a.def.Stages[a.s.Stage].Actions[j].Provider != ProviderApproval {
			return
		}
	}
	msg := a.s.Stopping
	a.cancel(msg)
	a.s.Stopping = ""
}

func by(who string) string {
	if who == "" {
		return ""
	}
	return " by " + who
}

func colon(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}
