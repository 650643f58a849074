package dashboard

import (
	"cmp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/notify"
	"github.com/stepline/stepline/pkg/store"
)

// The view models below are built from store records alone, with the time as an argument:
// what a page shows is a pure function of the history, the same locally and on AWS.

// Status is a status as a page shows it: a word, an icon and a CSS class, so the state reads
// as text and shape, never by colour alone.
type Status struct {
	Word, Icon, Class string
}

// statusOf maps an engine status to what the page shows.
func statusOf(s engine.Status) Status {
	switch s {
	case engine.Succeeded:
		return Status{"Succeeded", "✓", "ok"}
	case engine.Failed:
		return Status{"Failed", "✗", "failed"}
	case engine.InProgress:
		return Status{"In progress", "●", "running"}
	case engine.Waiting:
		return Status{"Waiting", "⏸", "waiting"}
	case engine.Canceled:
		return Status{"Canceled", "⊘", "stopped"}
	case engine.Superseded:
		return Status{"Superseded", "⤼", "stopped"}
	case engine.Skipped:
		return Status{"Skipped", "–", "skipped"}
	}
	return Status{"Pending", "○", "pending"}
}

// RunRow is one run in a list: the pipelines view's last runs, a pipeline's runs.
type RunRow struct {
	ID, Pipeline, Branch, Environment string
	Commit, ShortCommit, Trigger      string
	Seq                               int64
	Status                            Status
	Final                             bool
	Started                           time.Time
	Duration                          string
}

func rowOf(r store.Record, now time.Time) RunRow {
	st := r.State
	return RunRow{ID: r.ID(), Pipeline: r.Pipeline(), Branch: r.Branch, Environment: st.Namespace("env")["name"],
		Commit: r.Commit, ShortCommit: short(r.Commit), Trigger: r.Trigger, Seq: st.Seq,
		Status: statusOf(st.Status), Final: st.Status.Final(), Started: engine.Time(st.Started),
		Duration: span(st.Started, st.Ended, now)}
}

// PipelineRow is one pipeline of the pipelines view: its last run on each branch or
// environment, newest first.
type PipelineRow struct {
	Name string
	Last []RunRow
}

// pipelines groups records (newest first: the newest run of every scope, as Latest returns
// them) by pipeline, keeping the newest run of each environment, or of each branch when a run
// has no environment.
func pipelines(recs []store.Record, now time.Time) []PipelineRow {
	byName := map[string]*PipelineRow{}
	seen := map[[2]string]bool{}
	var names []string
	for _, r := range recs {
		p := byName[r.Pipeline()]
		if p == nil {
			p = &PipelineRow{Name: r.Pipeline()}
			byName[r.Pipeline()] = p
			names = append(names, r.Pipeline())
		}
		lane := "branch " + r.Branch
		if env, _ := r.State.Variable("env", "name"); env != "" {
			lane = "env " + env
		}
		if key := [2]string{r.Pipeline(), lane}; !seen[key] {
			seen[key] = true
			p.Last = append(p.Last, rowOf(r, now))
		}
	}
	sort.Strings(names)
	out := make([]PipelineRow, 0, len(names))
	for _, n := range names {
		out = append(out, *byName[n])
	}
	return out
}

// RunView is one run: what started it, the stage → action graph and the timeline.
type RunView struct {
	RunRow
	Message, Author, CommitMessage, Repository string
	// Console is the run's Step Functions execution page on AWS; "" locally.
	Console string
	// Untrusted is set for a run of a fork's pull request or of a trigger marked trusted:
	// false (docs/trust.md): it builds apart and never deploys, so nothing rolls it back.
	Untrusted bool
	Stages    []StageView
	Timeline  []Moment
	// Updated identifies the record's version; pages ask for changes since it.
	Updated int64
}

// StageView is one stage: its status and its actions in run_order groups, as the pipeline
// file lays them out.
type StageView struct {
	Name      string
	Status    Status
	Failed    bool
	Succeeded bool
	// Stopped is set for the stage a stopped (CANCELED) run ended in, which can be retried
	// as a failed one can.
	Stopped     bool
	Message     string
	Duration    string
	RollingBack bool
	Groups      [][]ActionView
}

// ActionView is one action of a stage.
type ActionView struct {
	Stage, Name, Provider, Namespace string
	RunOrder                         int
	Status                           Status
	Running                          bool
	Approval                         bool
	Attempts                         int
	Rollback                         bool
	Duration                         string
	Message                          string
	External                         string
	// Log is true when the action has a local log file the dashboard can stream.
	Log bool
	// LogLink is the console page of the action's log on AWS (a CodeBuild build), or "".
	LogLink   string
	Variables []KV
	Artifacts []KV
}

// KV is one name and value (a variable, an artifact and its location).
type KV struct{ Name, Value string }

// Moment is one entry of a run's timeline.
type Moment struct {
	Time   time.Time
	What   string
	Status Status
	Detail string
}

// runView builds the view of one record at now.
func runView(r store.Record, now time.Time) RunView {
	st, def := r.State, r.Definition
	src := st.Namespace("source")
	links := notify.Links{ExecutionARN: r.ExecutionARN}
	v := RunView{RunRow: rowOf(r, now), Message: st.Message, Author: src["author"], CommitMessage: src["commit_message"], Untrusted: !r.Trusted(),
		Repository: cmp.Or(src["repository"], r.Repo), Console: links.Run(r.ID()), Updated: r.Updated.UnixNano()}
	add := func(ms int64, what string, s engine.Status, detail string) {
		if ms != 0 {
			v.Timeline = append(v.Timeline, Moment{Time: engine.Time(ms), What: what, Status: statusOf(s), Detail: detail})
		}
	}
	add(st.Started, "Run started", engine.InProgress, r.Trigger)
	for i, sd := range def.Stages {
		if i >= len(st.Stages) {
			break
		}
		ss := st.Stages[i]
		sv := StageView{Name: sd.Name, Status: statusOf(ss.Status), Failed: ss.Status == engine.Failed,
			Succeeded: ss.Status == engine.Succeeded, Stopped: ss.Status == engine.Canceled, Message: ss.Message, Duration: span(ss.Started, ss.Ended, now), RollingBack: ss.RollingBack}
		add(ss.Started, "Stage "+sd.Name+" started", engine.InProgress, "")
		for j, ad := range sd.Actions {
			if j >= len(ss.Actions) {
				break
			}
			as := ss.Actions[j]
			av := ActionView{Stage: sd.Name, Name: ad.Name, Provider: ad.Provider, Namespace: ad.Namespace,
				RunOrder: max(ad.RunOrder, 1), Status: statusOf(as.Status), Running: as.Status == engine.InProgress,
				Approval: ad.Provider == engine.ProviderApproval, Attempts: as.Attempt, Rollback: as.Rollback,
				Duration: span(as.Started, as.Ended, now), Message: as.Message, External: as.External,
				Log: r.Logs[sd.Name+"/"+ad.Name] != "", LogLink: links.Build(as.External)}
			if ad.Namespace != "" {
				av.Variables = sorted(st.Namespace(ad.Namespace))
			}
			for _, o := range ad.Outputs {
				av.Artifacts = append(av.Artifacts, KV{o, st.Artifacts[o]})
			}
			if as.Started != 0 {
				add(as.Started, "Action "+sd.Name+"/"+ad.Name+" started", engine.InProgress, attemptOf(as))
			}
			if as.Ended != 0 {
				add(as.Ended, "Action "+sd.Name+"/"+ad.Name+" "+strings.ToLower(statusOf(as.Status).Word), as.Status, as.Message)
			}
			sv.Groups = appendGroup(sv.Groups, av)
		}
		add(ss.Ended, "Stage "+sd.Name+" "+strings.ToLower(sv.Status.Word), ss.Status, ss.Message)
		v.Stages = append(v.Stages, sv)
	}
	add(st.Ended, "Run "+strings.ToLower(v.Status.Word), st.Status, st.Message)
	slices.SortStableFunc(v.Timeline, func(a, b Moment) int { return a.Time.Compare(b.Time) })
	return v
}

// appendGroup puts av into the group of its run_order; actions arrive in file order and the
// groups end up in ascending run_order.
func appendGroup(groups [][]ActionView, av ActionView) [][]ActionView {
	for i, g := range groups {
		if g[0].RunOrder == av.RunOrder {
			groups[i] = append(g, av)
			return groups
		}
	}
	groups = append(groups, []ActionView{av})
	slices.SortStableFunc(groups, func(a, b []ActionView) int { return cmp.Compare(a[0].RunOrder, b[0].RunOrder) })
	return groups
}

// action finds the view of stage/name in v.
func (v RunView) action(stage, name string) (ActionView, bool) {
	for _, s := range v.Stages {
		for _, g := range s.Groups {
			for _, a := range g {
				if a.Stage == stage && a.Name == name {
					return a, true
				}
			}
		}
	}
	return ActionView{}, false
}

func attemptOf(a engine.ActionState) string {
	switch {
	case a.Rollback:
		return "rollback, attempt " + strconv.Itoa(a.Attempt)
	case a.Attempt > 1:
		return "attempt " + strconv.Itoa(a.Attempt)
	}
	return ""
}

func sorted(m map[string]string) []KV {
	out := make([]KV, 0, len(m))
	for k, v := range m {
		out = append(out, KV{k, v})
	}
	slices.SortFunc(out, func(a, b KV) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// span is the duration between two of the state's millisecond times, up to now while the end
// is not known; "" before the start.
func span(start, end int64, now time.Time) string {
	if start == 0 {
		return ""
	}
	stop := engine.Time(end)
	if end == 0 {
		stop = now
	}
	d := stop.Sub(engine.Time(start))
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func short(commit string) string {
	if len(commit) > 7 {
		return commit[:7]
	}
	return commit
}
