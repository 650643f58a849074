package statemachine

import (
	"slices"

	"github.com/stepline/stepline/pkg/engine"
)

// Waves returns, for a run in which every action succeeds at its first attempt, how many
// actions each Advance starts: one wave per run_order group of each stage, in order (the
// implicit Source stage is the first).
func Waves(def engine.Definition) []int {
	var waves []int
	for _, sg := range def.Stages {
		counts := map[int]int{}
		var orders []int
		for _, a := range sg.Actions {
			o := max(a.RunOrder, 1)
			if counts[o] == 0 {
				orders = append(orders, o)
			}
			counts[o]++
		}
		slices.Sort(orders)
		for _, o := range orders {
			waves = append(waves, counts[o])
		}
	}
	return waves
}

// Transitions returns the state transitions Step Functions bills for a run in which every
// action succeeds at its first attempt and no stage lock is contended, following
// pipeline.asl.json: a wave of one action costs Advance, Route and the action's state (3); a
// wave of n > 1 costs Advance, Route, Dispatch and, per action, Kind and its state (3 + 2n);
// the end costs Advance, Route and Succeeded (3). A test runs the file in an interpreter and
// counts the states it enters, so this stays true to the file.
func Transitions(def engine.Definition) int {
	n := 3
	for _, w := range Waves(def) {
		if w == 1 {
			n += 3
		} else {
			n += 3 + 2*w
		}
	}
	return n
}
