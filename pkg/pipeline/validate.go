package pipeline

import (
	"fmt"
	"github.com/stepline/stepline/pkg/diag"
	"slices"
	"strings"
)

// pipelineIndex gathers what the cross-reference checks of one pipeline need.
type pipelineIndex struct {
	p *Pipeline
	// actions in file order.
	actions []*Action
	// namespaces maps each namespace to the first action declaring it.
	namespaces map[string]*Action
	sites      []varSite
	deps       []dep
}

// dep says that action from needs something of action to: an artifact or a namespace.
type dep struct {
	from, to *Action
	at       Pos
	what     string
	variable bool
}

// validate runs the checks that look across the file: unique names, artifact wiring, variable
// references, and the order and cycles of the dependencies they create.
func (d *decoder) validate() {
	first := map[string]Pos{}
	for _, pi := range d.pipelines {
		if n := pi.p.Name; n.Value != "" {
			if at, dup := first[n.Value]; dup {
				d.report(n.Pos, RuleDuplicate, "duplicate pipeline name %q %s", n.Value, firstSeen(at, n.Pos))
			} else {
				first[n.Value] = n.Pos
			}
		}
		d.validatePipeline(pi)
	}
}

func (d *decoder) validatePipeline(pi *pipelineIndex) {
	stages := map[string]Pos{}
	for _, st := range pi.p.Stages {
		if at, dup := stages[st.Name.Value]; dup && st.Name.Value != "" {
			d.report(st.Name.Pos, RuleDuplicate, "duplicate stage name %q %s", st.Name.Value, firstSeen(at, st.Name.Pos))
		} else {
			stages[st.Name.Value] = st.Name.Pos
		}
		d.checkWave(st)
		names := map[string]Pos{}
		for _, a := range st.Actions {
			if at, dup := names[a.Name.Value]; dup && a.Name.Value != "" {
				d.report(a.Name.Pos, RuleDuplicate, "duplicate action name %q in stage %q %s", a.Name.Value, st.Name.Value, firstSeen(at, a.Name.Pos))
			} else {
				names[a.Name.Value] = a.Name.Pos
			}
			pi.actions = append(pi.actions, a)
		}
	}
	pi.namespaces = map[string]*Action{}
	for _, a := range pi.actions {
		ns := a.Namespace
		if ns.Value == "" || slices.Contains(reservedNamespaces, ns.Value) {
			continue
		}
		if prev := pi.namespaces[ns.Value]; prev != nil {
			d.report(ns.Pos, RuleDuplicate, "namespace %q is already used by action %q (at %d:%d)", ns.Value, prev.ID(), prev.Namespace.Pos.Line, prev.Namespace.Pos.Col)
			continue
		}
		pi.namespaces[ns.Value] = a
	}
	d.checkArtifacts(pi)
	d.checkVariables(pi)
	d.checkDeps(pi)
	d.checkPlacement(pi)
}

// MaxWave is how many actions of one stage may share a run_order: the actions the state
// machine starts at once. Each one's result comes back through the Dispatch map, whose output
// Step Functions limits to 256 KB, and no Catch catches an output over the limit
// (States.DataLimitExceeded). A failed CodeBuild build brings its whole Build object back as
// the error's cause, which no state can trim: about 7.7 KB a build with the task that started
// it, so 15 failed builds stay under half the limit (pkg/statemachine's
// TestTheWidestWaveStaysUnderHalfTheStateLimit measures it in the interpreter).
const MaxWave = 15

// MaxStages and MaxActions bound a pipeline's size as CodePipeline's quotas do (stages per
// pipeline, actions per stage: https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html).
// On AWS a run's whole record, every action's state included, is one DynamoDB item of at most
// 400 KB: pkg/store/dynamo's TestTheRecordOfTheLargestPipelineValidateAcceptsFitsInAnItem
// measures a run of the largest pipeline these allow, every name at its longest.
const (
	MaxStages  = 50
	MaxActions = 50
)

// checkWave reports a run_order group of st with more than MaxWave actions, at the first
// action beyond the limit.
func (d *decoder) checkWave(st *Stage) {
	groups := map[int][]*Action{}
	var orders []int
	for _, a := range st.Actions {
		o := a.RunOrder.Value
		if groups[o] == nil {
			orders = append(orders, o)
		}
		groups[o] = append(groups[o], a)
	}
	for _, o := range orders {
		g := groups[o]
		if len(g) <= MaxWave {
			continue
		}
		at := g[MaxWave].Name.Pos
		if at == (Pos{}) {
			at = g[MaxWave].Pos
		}
		d.report(at, RuleWave, "stage %q starts %d actions at run_order %d; at most %d run at once, as each one's result travels through the state machine, whose state is limited to 256 KB: give the others a higher run_order or another stage",
			st.Name.Value, len(g), o, MaxWave)
	}
}

// firstSeen says where a duplicated name was first written; when it is the same place, a YAML
// alias has repeated it.
func firstSeen(first, here Pos) string {
	if first == here {
		return "(a YAML alias repeats it)"
	}
	return fmt.Sprintf("(first at %d:%d)", first.Line, first.Col)
}

// checkArtifacts finds each artifact's producer and turns every input into a dependency.
func (d *decoder) checkArtifacts(pi *pipelineIndex) {
	type producer struct {
		a  *Action
		at Pos
	}
	producers := map[string]producer{}
	names := []string{SourceArtifact}
	for _, a := range pi.actions {
		for _, o := range a.Outputs {
			if o.Value == SourceArtifact || !artifactRE.MatchString(o.Value) {
				continue
			}
			if prev, dup := producers[o.Value]; dup {
				d.report(o.Pos, RuleArtifact, "artifact %q is already produced by action %q at %d:%d", o.Value, prev.a.ID(), prev.at.Line, prev.at.Col)
				continue
			}
			producers[o.Value] = producer{a, o.Pos}
			names = append(names, o.Value)
		}
	}
	for _, a := range pi.actions {
		for _, in := range slices.Concat(a.Inputs, a.artifactRefs) {
			if in.Value == SourceArtifact || !artifactRE.MatchString(in.Value) {
				continue
			}
			p, ok := producers[in.Value]
			if !ok {
				d.report(in.Pos, RuleArtifact, "input %q is not produced by any action%s", in.Value, diag.DidYouMean(in.Value, names))
				continue
			}
			pi.deps = append(pi.deps, dep{from: a, to: p.a, at: in.Pos, what: in.Value})
		}
	}
}

// runsBefore reports whether a finishes before b starts: an earlier stage, or the same stage
// and a lower run_order.
func runsBefore(a, b *Action) bool {
	if a.stageIndex != b.stageIndex {
		return a.stageIndex < b.stageIndex
	}
	return a.RunOrder.Value < b.RunOrder.Value
}

// checkDeps reports each group of actions that depend on each other in a circle once, as a
// cycle, and every other dependency on an action that does not run first.
func (d *decoder) checkDeps(pi *pipelineIndex) {
	inCycle := d.reportCycles(pi)
	for _, dp := range pi.deps {
		if g := inCycle[dp.from]; g != 0 && g == inCycle[dp.to] {
			continue
		}
		if runsBefore(dp.to, dp.from) {
			continue
		}
		why := "which does not run before it"
		if dp.to.stageIndex == dp.from.stageIndex && dp.to.RunOrder.Value == dp.from.RunOrder.Value {
			why = "which runs at the same time (same stage and run_order)"
		}
		hint := "; move it to an earlier stage or give it a lower run_order"
		if dp.variable {
			d.report(dp.at, RuleVariable, "%s: namespace %q belongs to action %q, %s%s", dp.what, dp.to.Namespace.Value, dp.to.ID(), why, hint)
		} else {
			d.report(dp.at, RuleArtifact, "input %q is produced by action %q, %s%s", dp.what, dp.to.ID(), why, hint)
		}
	}
}

// maxCyclesPerGroup bounds the cycles reported for one group of actions that all depend on
// each other: past a few, more messages do not help to untangle it.
const maxCyclesPerGroup = 10

// reportCycles finds the groups of actions that depend on each other in a circle (strongly
// connected components, Tarjan) and reports each distinct cycle once: the shortest cycle
// through the group's first action, then, with that action set aside, the next, and so on. It
// returns each action's group id (0 when in none), whose inner dependencies are not reported
// again as artifact or variable problems.
func (d *decoder) reportCycles(pi *pipelineIndex) map[*Action]int {
	index := map[*Action]int{}
	for i, a := range pi.actions {
		index[a] = i
	}
	n := len(pi.actions)
	adj := make([][]int, n)
	firstAt := make(map[[2]int]Pos)
	for _, dp := range pi.deps {
		from, to := index[dp.from], index[dp.to]
		if _, ok := firstAt[[2]int{from, to}]; !ok {
			firstAt[[2]int{from, to}] = dp.at
			adj[from] = append(adj[from], to)
		}
	}
	active := make([]bool, n)
	for i := range active {
		active[i] = true
	}
	group := map[*Action]int{}
	for _, members := range cyclicGroups(adj, active) {
		for _, v := range members {
			group[pi.actions[v]] = members[0] + 1
		}
		// Work on the group alone, renumbered, so that a file with many groups costs the
		// size of each group rather than of the whole pipeline per group.
		local := make(map[int]int, len(members))
		for i, v := range members {
			local[v] = i
		}
		sub := make([][]int, len(members))
		for i, v := range members {
			for _, w := range adj[v] {
				if j, ok := local[w]; ok {
					sub[i] = append(sub[i], j)
				}
			}
		}
		inGroup := make([]bool, len(members))
		for i := range inGroup {
			inGroup[i] = true
		}
		for range maxCyclesPerGroup {
			groups := cyclicGroups(sub, inGroup)
			if len(groups) == 0 {
				break
			}
			start := groups[0][0]
			path := cyclePath(sub, inGroup, start)
			names := make([]string, len(path))
			for i, v := range path {
				path[i] = members[v]
				names[i] = pi.actions[path[i]].ID()
			}
			at := firstAt[[2]int{path[0], path[1]}]
			if len(path) == 2 {
				d.report(at, RuleCycle, "action %q depends on itself: %s", names[0], strings.Join(names, " -> "))
			} else {
				d.report(at, RuleCycle, "actions depend on each other in a cycle, each needing the next: %s", strings.Join(names, " -> "))
			}
			inGroup[start] = false
		}
	}
	return group
}

// cyclicGroups returns the strongly connected components among the active vertices that hold
// a cycle (more than one vertex, or a vertex depending on itself), each sorted, ordered by
// their first vertex.
func cyclicGroups(adj [][]int, active []bool) [][]int {
	comp := tarjan(adj, active)
	byComp := map[int][]int{}
	var order []int
	for v, c := range comp {
		if c < 0 {
			continue
		}
		if _, seen := byComp[c]; !seen {
			order = append(order, c)
		}
		byComp[c] = append(byComp[c], v)
	}
	var out [][]int
	for _, c := range order {
		members := byComp[c]
		if len(members) > 1 || slices.Contains(adj[members[0]], members[0]) {
			out = append(out, members)
		}
	}
	return out
}

// tarjan returns the strongly connected component of each active vertex, -1 for the others.
func tarjan(adj [][]int, active []bool) []int {
	n := len(adj)
	idx, low, comp := make([]int, n), make([]int, n), make([]int, n)
	onStack := make([]bool, n)
	for i := range idx {
		idx[i], comp[i] = -1, -1
	}
	var stack []int
	next, comps := 0, 0
	var visit func(v int)
	visit = func(v int) {
		idx[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range adj[v] {
			if !active[w] {
				continue
			}
			if idx[w] < 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], idx[w])
			}
		}
		if low[v] == idx[v] {
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp[w] = comps
				if w == v {
					break
				}
			}
			comps++
		}
	}
	for v := range n {
		if active[v] && idx[v] < 0 {
			visit(v)
		}
	}
	return comp
}

// cyclePath returns the shortest cycle from start back to start among active vertices, as a
// list of vertices beginning and ending with start. Vertices outside start's component cannot
// lead back to it, so the search need not know the component.
func cyclePath(adj [][]int, active []bool, start int) []int {
	parent := map[int]int{}
	queue := []int{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range adj[v] {
			if !active[w] {
				continue
			}
			if w == start {
				path := []int{start}
				for u := v; u != start; u = parent[u] {
					path = append(path, u)
				}
				path = append(path, start)
				slices.Reverse(path[1 : len(path)-1])
				return path
			}
			if _, seen := parent[w]; !seen {
				parent[w] = v
				queue = append(queue, w)
			}
		}
	}
	// Unreachable for a vertex of a cycle; a self-loop keeps the message well-formed anyway.
	return []int{start, start}
}
