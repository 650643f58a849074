package notify

import (
	"strings"
	"time"
	"unicode"

	"github.com/stepline/stepline/pkg/changes"
	"github.com/stepline/stepline/pkg/notify/commitstatus"
	"github.com/stepline/stepline/pkg/sourcearchive"
)

// StatusFor returns the commit status a change sets on the run's commit, and false when it
// sets none. Only the pipeline's own changes move its one status: started → in progress;
// succeeded → succeeded, with the duration; failed → failed, with the failed stage, action
// and reason; superseded and canceled → stopped, so no status stays in progress. Stage and
// action changes, approvals, and runs without a commit (image or object triggers) set none.
// link is the run's link (Links.Run); a succeeded run whose environment has an address
// (Run.URL, a preview's) links there instead, as the place to look at what it deployed.
func StatusFor(c Change, run Run, link string) (commitstatus.Status, bool) {
	kind, ok := c.Kind()
	if !ok || c.DetailType != changes.DetailPipeline || !sourcearchive.ValidCommit(run.Commit) || run.Repository == "" {
		return commitstatus.Status{}, false
	}
	s := commitstatus.Status{Repository: run.Repository, Commit: run.Commit, Branch: run.Branch, Key: run.Key(),
		Name: "stepline: " + run.Title(), URL: link, Number: run.Number}
	took := duration(run.Started, c.Time)
	switch kind {
	case PipelineStarted:
		s.State, s.Description = commitstatus.InProgress, "Running"
	case PipelineSucceeded:
		s.State, s.Description, s.Duration = commitstatus.Succeeded, "Succeeded", took
		if took > 0 {
			s.Description += " in " + took.String()
		}
		if run.URL != "" {
			s.URL = run.URL
			s.Description += ": Details opens " + run.Environment
		}
	case PipelineFailed:
		s.State, s.Description, s.Duration = commitstatus.Failed, failedText(c, run), took
	case PipelineSuperseded:
		s.State, s.Description, s.Duration = commitstatus.Stopped, sentence(c.State.Message, "Superseded by a newer run"), took
	case PipelineCanceled:
		s.State, s.Description, s.Duration = commitstatus.Stopped, "Canceled: "+oneLine(c.State.Message), took
		if c.State.Message == "" {
			s.Description = "Canceled"
		}
	default:
		return commitstatus.Status{}, false
	}
	return s, true
}

// failedText says where and why a run failed: "Failed in Build/Test: exit status 2".
func failedText(c Change, run Run) string {
	if f := run.Failure; f != nil {
		where := f.Stage
		if f.Action != "" {
			where += "/" + f.Action
		}
		msg := f.Message
		if msg == "" {
			msg = c.State.Message
		}
		if msg == "" {
			return "Failed in " + where
		}
		return "Failed in " + where + ": " + oneLine(msg)
	}
	return sentence(c.State.Message, "Failed")
}

// duration is how long from start to end, to the second; zero when either is unknown.
func duration(start, end time.Time) time.Duration {
	if start.IsZero() || end.IsZero() || end.Before(start) {
		return 0
	}
	return end.Sub(start).Round(time.Second)
}

// sentence is msg on one line with a capital first letter, or def when msg is empty.
func sentence(msg, def string) string {
	msg = oneLine(msg)
	if msg == "" {
		return def
	}
	r := []rune(msg)
	return string(unicode.ToUpper(r[0])) + string(r[1:])
}

// oneLine joins a text's lines and runs of spaces into one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
