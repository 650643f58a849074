package trigger

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

const registrySrc = `version: 1
pipelines:
  - name: api
    triggers:
      - {on: push, branches: [main]}
      - {on: schedule, cron: "cron(0 3 * * ? *)"}
      - {on: image, repository: team/api, tags: [latest]}
      - {on: schedule, cron: "rate(1 day)", branch: release/1}
    stages: [{name: B, actions: [{name: B, provider: codebuild}]}]
  - name: web
    triggers:
      - {on: image, repository: team/web}
      - {on: image, repository: team/api}
      - {on: object, bucket: drops, keys: ["*.zip"]}
      - {on: object, bucket: builds}
      - {on: object, bucket: drops}
    stages: [{name: B, actions: [{name: B, provider: codebuild}]}]
  - name: manual
    stages: [{name: B, actions: [{name: B, provider: codebuild}]}]
`

func TestSchedulesListEveryScheduleTriggerWithTheBranchItRuns(t *testing.T) {
	t.Parallel()
	f := parse(t, registrySrc)
	assert.Equal(t, []Schedule{
		{Pipeline: "api", Trigger: 1, Expression: "cron(0 3 * * ? *)", Branch: "trunk"},
		{Pipeline: "api", Trigger: 3, Expression: "rate(1 day)", Branch: "release/1"},
	}, Schedules(f, "trunk"), "a trigger without a branch runs the default branch; indexes count every trigger")
	assert.Empty(t, Schedules(parse(t, pipelineYAML(`{on: push}`)), "main"), "a file without schedule triggers has no schedules")
}

func TestScheduleOfFindsOnlyAScheduleTriggerAtThatIndex(t *testing.T) {
	t.Parallel()
	f := parse(t, registrySrc)
	tests := []struct {
		name     string
		pipeline string
		index    int
		ok       bool
	}{
		{"the schedule trigger of a pipeline is found", "api", 3, true},
		{"a push trigger at that index is not a schedule", "api", 0, false},
		{"an index past the triggers is not found", "api", 9, false},
		{"a pipeline that is gone is not found", "gone", 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, ok := ScheduleOf(f, tc.pipeline, tc.index, "main")
			assert.Equal(t, tc.ok, ok)
			if ok {
				assert.Equal(t, tc.index, s.Trigger)
				assert.Equal(t, tc.pipeline, s.Pipeline)
			}
		})
	}
}

func TestImageRepositoriesAreSortedAndListedOnce(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{"team/api", "team/web"}, ImageRepositories(parse(t, registrySrc)))
	assert.Empty(t, ImageRepositories(parse(t, pipelineYAML(`{on: push}`))))
}

func TestObjectBucketsAreSortedAndListedOnce(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{"builds", "drops"}, ObjectBuckets(parse(t, registrySrc)))
	assert.Empty(t, ObjectBuckets(parse(t, pipelineYAML(`{on: image, repository: drops}`))), "an image repository is not a bucket")
}
