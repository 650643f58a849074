package engine

import (
	"encoding/json"
	"maps"
	"strconv"
	"time"
)

// StateVersion is the schema version written into every State; a state of another version is
// refused rather than misread.
const StateVersion = 1

// Status is the state of a run, a stage or an action. The values are CodePipeline's execution
// states, so events built from them read like CodePipeline's.
type Status string

const (
	// Pending is not started yet (the zero value, omitted from JSON).
	Pending Status = ""
	// InProgress is running.
	InProgress Status = "IN_PROGRESS"
	// Waiting is a stage waiting for its lock, or an action waiting for its retry backoff.
	Waiting Status = "WAITING"
	// Succeeded, Failed, Canceled, Superseded and Skipped are final.
	Succeeded  Status = "SUCCEEDED"
	Failed     Status = "FAILED"
	Canceled   Status = "CANCELED"
	Superseded Status = "SUPERSEDED"
	Skipped    Status = "SKIPPED"
)

// String is the status as shown to people: the zero value reads PENDING.
func (s Status) String() string {
	if s == Pending {
		return "PENDING"
	}
	return string(s)
}

// Final reports whether nothing more will happen to the thing in this status.
func (s Status) Final() bool {
	switch s {
	case Succeeded, Failed, Canceled, Superseded, Skipped:
		return true
	}
	return false
}

// State is everything the engine remembers about one run between two Advance calls. It is
// compact JSON because it travels through Step Functions (256 KB payload limit): short keys,
// times as Unix milliseconds, empty values omitted.
type State struct {
	Version  int    `json:"v"`
	Run      string `json:"run"`
	Pipeline string `json:"p"`
	// Seq orders runs of one pipeline; a higher Seq is newer (superseded mode).
	Seq     int64  `json:"seq,omitempty"`
	Status  Status `json:"s,omitempty"`
	Started int64  `json:"t0,omitempty"`
	Ended   int64  `json:"t1,omitempty"`
	// Stage is the index of the current stage.
	Stage  int          `json:"i,omitempty"`
	Stages []StageState `json:"g"`
	// Vars holds the namespaces the run was created with (source, env, pipeline, variables);
	// an action's exported variables are kept with its state (ActionState.Vars), and
	// Variable, Namespace and Namespaces read both. States written before that held the
	// action namespaces here too, and still read the same.
	Vars map[string]map[string]string `json:"vars,omitempty"`
	// Spaces says which action fills each action namespace: its stage and action indexes. It
	// is set when the run is created (or by the first Advance of a state without it) and never
	// changes, so every state of the run shares it and publishing a namespace copies only the
	// stage of its action.
	Spaces map[string][2]int `json:"ns,omitempty"`
	// Artifacts maps artifact names to their locations (a path or an S3 URI).
	Artifacts map[string]string `json:"a,omitempty"`
	// Previous holds the artifact locations of the last successful run, for rollbacks.
	Previous map[string]string `json:"prev,omitempty"`
	// PreviousRun is the run whose artifacts Previous holds, when the caller said.
	PreviousRun string `json:"prun,omitempty"`
	// Message says why the run ended when it did not succeed.
	Message string `json:"m,omitempty"`
	// URL is the run's environment's address as written, #{…} included: EnvironmentURL
	// resolves it.
	URL string `json:"url,omitempty"`
	// Stopping is the reason of a stop asked for while actions still run: nothing new starts,
	// and the run ends CANCELED with it once they have finished.
	Stopping string `json:"stop,omitempty"`
}

// StageState is one stage of a run.
type StageState struct {
	Status Status `json:"s,omitempty"`
	// Locked is true while the run holds this stage's lock.
	Locked bool `json:"l,omitempty"`
	// Retries counts stage retries used by on_failure: retry.
	Retries int `json:"r,omitempty"`
	// RollingBack is true once on_failure: rollback has started re-running the stage.
	RollingBack bool          `json:"rb,omitempty"`
	Started     int64         `json:"t0,omitempty"`
	Ended       int64         `json:"t1,omitempty"`
	Message     string        `json:"m,omitempty"`
	Actions     []ActionState `json:"a"`
}

// ActionState is one action of a run's stage.
type ActionState struct {
	Status Status `json:"s,omitempty"`
	// Attempt numbers every start of the action in this run, retries and rollbacks included,
	// so a late result of an earlier attempt is recognised and ignored.
	Attempt int `json:"n,omitempty"`
	// Tries counts attempts since the stage (re)started, for the action's retry policy.
	Tries int `json:"try,omitempty"`
	// Rollback marks an attempt that redeploys the previous run's artifacts.
	Rollback bool  `json:"rb,omitempty"`
	Started  int64 `json:"t0,omitempty"`
	Ended    int64 `json:"t1,omitempty"`
	// Due is when a Waiting action's next attempt may start.
	Due int64 `json:"due,omitempty"`
	// Deadline is when a running attempt times out.
	Deadline int64  `json:"dl,omitempty"`
	Message  string `json:"m,omitempty"`
	// External is the executor's reference for the attempt (a build id, a log file).
	External string `json:"x,omitempty"`
	// Vars are the variables the action exported into its namespace (State.Spaces), kept
	// across its later attempts: a retry's exports are added to them.
	Vars map[string]string `json:"v,omitempty"`
}

// again is the state a new attempt of the action starts from (a rollback's with rollback):
// the attempt count and the exported variables are kept.
func (a ActionState) again(rollback bool) ActionState {
	return ActionState{Attempt: a.Attempt, Rollback: rollback, Vars: a.Vars}
}

// Equal reports whether a and b are the same action state, exported variables included.
func (a ActionState) Equal(b ActionState) bool {
	return a.Status == b.Status && a.Attempt == b.Attempt && a.Tries == b.Tries && a.Rollback == b.Rollback &&
		a.Started == b.Started && a.Ended == b.Ended && a.Due == b.Due && a.Deadline == b.Deadline &&
		a.Message == b.Message && a.External == b.External && maps.Equal(a.Vars, b.Vars)
}

// RunInfo is what the caller knows when a run is created.
type RunInfo struct {
	// ID names the run; unique among the pipeline's runs.
	ID string
	// Seq orders the pipeline's runs (a run number).
	Seq int64
	// Variables seeds namespaces known before anything runs: source, env, pipeline, variables.
	Variables map[string]map[string]string
	// Previous holds the artifacts of the pipeline's last successful run, if any.
	Previous map[string]string
	// URL is the address of the run's environment as written in the pipeline file; its
	// variables may name actions' outputs, so it is resolved only when asked
	// (State.EnvironmentURL).
	URL string
}

// New returns the state of a run that has not started. The first Advance starts it.
func New(def Definition, info RunInfo) State {
	st := State{
		Version:  StateVersion,
		Run:      info.ID,
		Pipeline: def.Pipeline,
		Seq:      info.Seq,
		Stages:   make([]StageState, len(def.Stages)),
		Previous: maps.Clone(info.Previous),
		URL:      info.URL,
		Spaces:   spaces(&def),
	}
	for i, sg := range def.Stages {
		st.Stages[i].Actions = make([]ActionState, len(sg.Actions))
	}
	st.setVar("pipeline", "name", def.Pipeline)
	st.setVar("pipeline", "execution_id", info.ID)
	st.setVar("pipeline", "run_number", strconv.FormatInt(info.Seq, 10))
	for ns, vars := range info.Variables {
		for k, v := range vars {
			st.setVar(ns, k, v)
		}
	}
	return st
}

// EnvironmentURL returns the address of the run's environment with its variables resolved,
// and false when the run has none or one of its variables is not known (yet): an action whose
// output it names has not run, or did not export that name.
func (s State) EnvironmentURL() (string, bool) {
	if s.URL == "" {
		return "", false
	}
	u, err := expand(s.URL, &s)
	return u, err == nil
}

// Variable returns the value of #{ns.name} as an action starting now would read it: what the
// action of namespace ns exported, else what the run was created with.
func (s *State) Variable(ns, name string) (string, bool) {
	v, ok, _ := s.lookup(ns, name)
	return v, ok
}

// Namespace returns the variables of namespace ns: those the run was created with and those
// its action exported, the latter winning. The map may be shared with the state: read it only.
func (s *State) Namespace(ns string) map[string]string {
	seed, own := s.Vars[ns], s.exported(ns)
	switch {
	case len(own) == 0:
		return seed
	case len(seed) == 0:
		return own
	}
	return merged(seed, own)
}

// merged returns a new map holding base and over, over winning: neither is changed, as
// states share their maps.
func merged(base, over map[string]string) map[string]string {
	m := make(map[string]string, len(base)+len(over))
	maps.Copy(m, base)
	maps.Copy(m, over)
	return m
}

// Namespaces returns every namespace of the run, those it was created with and those its
// actions exported, for display: a new map of maps that may be shared with the state (read
// them only). It costs a map entry per namespace; Variable and Namespace read one.
func (s *State) Namespaces() map[string]map[string]string {
	out := maps.Clone(s.Vars)
	for ns := range s.Spaces {
		if len(s.exported(ns)) == 0 {
			continue
		}
		if out == nil {
			out = map[string]map[string]string{}
		}
		out[ns] = s.Namespace(ns)
	}
	return out
}

// lookup finds #{ns.name}: the value, whether it is set, and whether the namespace exists
// at all.
func (s *State) lookup(ns, name string) (string, bool, bool) {
	own := s.exported(ns)
	if v, ok := own[name]; ok {
		return v, true, true
	}
	seed := s.Vars[ns]
	v, ok := seed[name]
	return v, ok, seed != nil || own != nil
}

// exported returns the variables the action of namespace ns exported, nil if none.
func (s *State) exported(ns string) map[string]string {
	p, ok := s.Spaces[ns]
	if !ok || p[0] < 0 || p[0] >= len(s.Stages) || p[1] < 0 || p[1] >= len(s.Stages[p[0]].Actions) {
		return nil
	}
	return s.Stages[p[0]].Actions[p[1]].Vars
}

// spaces maps each action namespace of def to its action's stage and action indexes; nil
// when no action has one. A namespace used twice (validate refuses it) keeps its first action.
func spaces(def *Definition) map[string][2]int {
	var m map[string][2]int
	for i := range def.Stages {
		for j := range def.Stages[i].Actions {
			ns := def.Stages[i].Actions[j].Namespace
			if ns == "" {
				continue
			}
			if m == nil {
				m = map[string][2]int{}
			}
			if _, dup := m[ns]; !dup {
				m[ns] = [2]int{i, j}
			}
		}
	}
	return m
}

// Done reports whether the run has ended.
func (s State) Done() bool { return s.Status.Final() }

// Marshal encodes the state as compact JSON.
func (s State) Marshal() ([]byte, error) { return json.Marshal(s) }

// Unmarshal decodes a state written by Marshal.
func Unmarshal(data []byte) (State, error) {
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return State{}, err
	}
	return s, nil
}

func (s *State) setVar(ns, name, value string) {
	if s.Vars == nil {
		s.Vars = map[string]map[string]string{}
	}
	if s.Vars[ns] == nil {
		s.Vars[ns] = map[string]string{}
	}
	s.Vars[ns][name] = value
}

func millis(t time.Time) int64 { return t.UnixMilli() }

// Time converts one of the state's Unix-millisecond fields to a time; zero stays zero.
func Time(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
