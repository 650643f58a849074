package cpimport

import (
	"errors"
	"fmt"

	"github.com/stepline/stepline/pkg/pipeline"
)

// noActionLeft is why a stage (or a pipeline) whose every action (or stage) is a comment is a
// comment too: stepline refuses an empty list of actions or stages. Its actions are reported
// one by one, so the stage itself is not.
const noActionLeft = "nothing in it could be imported"

// maxRounds bounds the validate-and-comment loop; each round comments out at least one part.
const maxRounds = 1000

// settle writes the file and checks it as stepline validate would. Each problem found is
// charged to the innermost part written on its line (an action, a trigger, a notification
// rule, a variable, a stage), which is commented out with the problem as its reason, until the
// file is clean. Then every part not imported is reported where it came from.
func settle(file string, pipes []*outPipeline, im *importer) ([]byte, error) {
	for round := 0; round < maxRounds; round++ {
		if !cascade(pipes) {
			im.reportDrops(pipes)
			return nil, ErrNothingImported
		}
		w := emit(file, pipes)
		data := w.bytes()
		_, err := pipeline.Parse(".stepline.yml", data)
		if err == nil {
			im.reportDrops(pipes)
			return data, nil
		}
		var probs pipeline.Problems
		if !errors.As(err, &probs) {
			return nil, fmt.Errorf("the imported file does not validate: %w", err)
		}
		progress := false
		for _, pr := range probs {
			if p := innermost(w.spans, pr.Line); p != nil && !p.dropped() {
				p.drop = "stepline validate: " + pr.Msg
				progress = true
			}
		}
		if !progress {
			return nil, fmt.Errorf("the imported file does not validate, and no part of it can be set aside:\n%w", err)
		}
	}
	return nil, errors.New("the imported file does not validate after commenting out every part")
}

// cascade comments out a stage with no action left and a pipeline with no stage left, and
// reports whether any pipeline is left.
func cascade(pipes []*outPipeline) bool {
	any := false
	for _, p := range pipes {
		if p.dropped() {
			continue
		}
		for _, s := range p.stages {
			if !s.dropped() && !live(s.actions) {
				s.drop = noActionLeft
			}
		}
		if !live(p.stages) {
			p.drop = noActionLeft
			continue
		}
		any = true
	}
	return any
}

func innermost(spans []span, line int) *part {
	var best *span
	for i := range spans {
		s := &spans[i]
		if s.from <= line && line <= s.to && (best == nil || s.to-s.from < best.to-best.from) {
			best = s
		}
	}
	if best == nil {
		return nil
	}
	return best.p
}

// reportDrops reports each part written as a comment, where its input value is.
func (im *importer) reportDrops(pipes []*outPipeline) {
	rep := func(p *part) {
		if p.dropped() && p.merged == "" && p.drop != noActionLeft {
			im.report(p.from, RuleNotImported, "%s", p.drop)
		}
	}
	for _, p := range pipes {
		rep(&p.part)
		for _, v := range p.variables {
			rep(&v.part)
		}
		for _, t := range p.triggers {
			rep(&t.part)
		}
		for _, s := range p.stages {
			rep(&s.part)
			for _, a := range s.actions {
				rep(&a.part)
			}
		}
		for _, n := range p.notify {
			rep(&n.part)
		}
	}
}
