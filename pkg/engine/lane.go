package engine

import "slices"

// Lane is the lock of one stage of one pipeline, shared by all the pipeline's runs. The engine
// only asks for a lane (Decision.Acquire) and gives it back (Decision.Release); a store keeps
// the lanes and applies these pure rules atomically (a bbolt transaction locally, a DynamoDB
// conditional write on AWS), then tells the runs concerned with Granted or Superseded inputs.
type Lane struct {
	// Holder is the run inside the stage, empty when the stage is free.
	Holder string `json:"holder,omitempty"`
	// Waiting are the runs waiting to enter, oldest arrival first.
	Waiting []Waiter `json:"waiting,omitempty"`
	// Gone remembers the latest superseded runs, so a run that learns of the lane only by
	// asking again (another process) is told it was superseded instead of queuing anew.
	Gone []string `json:"gone,omitempty"`
}

// goneKept bounds Lane.Gone: a run asks again within seconds, so a few names suffice.
const goneKept = 16

// Waiter is a run waiting for a lane.
type Waiter struct {
	Run string `json:"run"`
	Seq int64  `json:"seq"`
}

// Grant is the answer to an Acquire.
type Grant struct {
	// Granted is true when the asking run now holds the lane.
	Granted bool
	// Superseded lists runs (possibly the asking one) that will never get the lane and must
	// end as superseded.
	Superseded []string
}

// Acquire asks the lane for run. In Parallel mode every run is granted at once and the lane
// keeps no record. In Queued mode runs wait in arrival order. In Superseded mode at most one
// run waits: the newer of two waiters (higher seq) stays, the older is superseded, as in
// CodePipeline. Asking again for a lane already held or waited for changes nothing.
func (l Lane) Acquire(mode Mode, run string, seq int64) (Lane, Grant) {
	if mode == ModeParallel {
		return l, Grant{Granted: true}
	}
	if l.Holder == run {
		return l, Grant{Granted: true}
	}
	for _, w := range l.Waiting {
		if w.Run == run {
			return l, Grant{}
		}
	}
	if slices.Contains(l.Gone, run) {
		return l, Grant{Superseded: []string{run}}
	}
	if l.Holder == "" && len(l.Waiting) == 0 {
		l.Holder = run
		return l, Grant{Granted: true}
	}
	next := Lane{Holder: l.Holder, Waiting: append([]Waiter(nil), l.Waiting...), Gone: append([]string(nil), l.Gone...)}
	if mode != ModeSuperseded && mode != "" {
		next.Waiting = append(next.Waiting, Waiter{Run: run, Seq: seq})
		return next, Grant{}
	}
	var g Grant
	newest := Waiter{Run: run, Seq: seq}
	for _, w := range next.Waiting {
		if w.Seq > newest.Seq {
			g.Superseded = append(g.Superseded, newest.Run)
			newest = w
		} else {
			g.Superseded = append(g.Superseded, w.Run)
		}
	}
	next.Waiting = []Waiter{newest}
	next.Gone = append(next.Gone, g.Superseded...)
	if len(next.Gone) > goneKept {
		next.Gone = next.Gone[len(next.Gone)-goneKept:]
	}
	return next, g
}

// Release gives the lane back when run leaves the stage, or withdraws run from the waiters
// when it ends while waiting. It returns the run that now holds the lane, if one was waiting;
// that run must be sent a Granted input.
func (l Lane) Release(run string) (Lane, string) {
	next := Lane{Holder: l.Holder, Gone: l.Gone}
	for _, w := range l.Waiting {
		if w.Run != run {
			next.Waiting = append(next.Waiting, w)
		}
	}
	if next.Holder != run {
		return next, ""
	}
	next.Holder = ""
	if len(next.Waiting) == 0 {
		return Lane{Gone: next.Gone}, ""
	}
	next.Holder = next.Waiting[0].Run
	next.Waiting = next.Waiting[1:]
	if len(next.Waiting) == 0 {
		next.Waiting = nil
	}
	return next, next.Holder
}
