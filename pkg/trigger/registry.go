package trigger

import (
	"slices"

	"github.com/stepline/stepline/pkg/pipeline"
)

// Schedule is one schedule trigger of a file, as EventBridge Scheduler must know it to start
// the pipeline: the pipeline, the trigger's index among the pipeline's triggers (counted
// from 0, like Decision.Trigger), its schedule expression and the branch a run builds.
type Schedule struct {
	Pipeline   string `json:"pipeline"`
	Trigger    int    `json:"trigger"`
	Expression string `json:"expression"`
	Branch     string `json:"branch"`
	// Untrusted is the trigger's `trusted: false`: its runs are untrusted (docs/trust.md).
	Untrusted bool `json:"untrusted,omitempty"`
}

// Schedules lists the schedule triggers of f in file order. A trigger without a branch runs
// defaultBranch, the repository's default branch, as docs/pipeline.md says.
func Schedules(f *pipeline.File, defaultBranch string) []Schedule {
	var out []Schedule
	for _, p := range f.Pipelines {
		for i, t := range p.Triggers {
			if t.On.Value != pipeline.OnSchedule {
				continue
			}
			branch := t.Branch.Value
			if branch == "" {
				branch = defaultBranch
			}
			out = append(out, Schedule{Pipeline: p.Name.Value, Trigger: i, Expression: t.Cron.Value, Branch: branch, Untrusted: t.Untrusted()})
		}
	}
	return out
}

// ScheduleOf returns the schedule trigger number index of the pipeline named name in f, and
// false when there is no such pipeline or that trigger is not a schedule, which happens when
// a schedule fires after its file changed.
func ScheduleOf(f *pipeline.File, name string, index int, defaultBranch string) (Schedule, bool) {
	for _, s := range Schedules(f, defaultBranch) {
		if s.Pipeline == name && s.Trigger == index {
			return s, true
		}
	}
	return Schedule{}, false
}

// ImageRepositories returns the ECR repository names the image triggers of f listen to,
// sorted and without duplicates: the names under which a registry indexes the file, so an
// image push finds the files that may match it without reading every file.
func ImageRepositories(f *pipeline.File) []string {
	var out []string
	for _, p := range f.Pipelines {
		for _, t := range p.Triggers {
			if t.On.Value == pipeline.OnImage && t.Repository.Value != "" {
				out = append(out, t.Repository.Value)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ObjectBuckets returns the S3 bucket names the object triggers of f listen to, sorted and
// without duplicates: the names under which a registry indexes the file for object
// creations, as ImageRepositories does for image pushes.
func ObjectBuckets(f *pipeline.File) []string {
	var out []string
	for _, p := range f.Pipelines {
		for _, t := range p.Triggers {
			if t.On.Value == pipeline.OnObject && t.Bucket.Value != "" {
				out = append(out, t.Bucket.Value)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
