package triggerstep

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store"
)

// These tests drive the trigger and the advance step against one DynamoDB table on moto with
// pipelines whose run ids prefix each other's: what identifies a run on AWS is exact.

const helloWorld = "Codertocat/Hello-World"

// prefixingPipelines is a file whose pipelines' run ids prefix each other's: node's run 1 is
// node-1-<tag>, and the pipeline named exactly that numbers its runs node-1-<tag>-<n>-<tag>.
// node runs for tags, the others for pushes to main (node-18 is the issue's own example).
func prefixingPipelines() string {
	pipeline := func(name, trigger string) string {
		return fmt.Sprintf(`  - name: %s
    execution_mode: parallel
    triggers:
      - %s
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, inputs: [source]}
`, name, trigger)
	}
	return "version: 1\npipelines:\n" +
		pipeline("node", `{on: push, tags: {include: ["v*"]}}`) +
		pipeline("node-18", `{on: push, branches: {include: [main]}}`) +
		pipeline(runID("github", helloWorld, "node", 1), `{on: push, branches: {include: [main]}}`)
}

// helloPush is a delivery of a push of commit to ref of Codertocat/Hello-World.
func helloPush(t *testing.T, ref, commit string) events.CloudWatchEvent {
	t.Helper()
	ev := scm.Event{Provider: "github", Kind: scm.KindPush, Delivery: "d-" + commit[:8],
		Repository: scm.Repository{FullName: helloWorld, CloneURL: "https://github.com/Codertocat/Hello-World.git", DefaultBranch: "main"},
		Ref:        ref, Before: scm.ZeroSHA[:39] + "1", After: commit,
		Commits: []scm.Commit{{ID: commit, Message: "Change", Author: "octo"}}, FilesComplete: true, ChangedFiles: []string{"x.go"}}
	if tag, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		ev.Kind, ev.Tag = scm.KindTag, tag
	} else {
		ev.Branch = strings.TrimPrefix(ref, "refs/heads/")
	}
	return cloudEvent(t, Detail{Key: "github-" + commit[:20], Provider: "github", Kind: ev.Kind, Repository: helloWorld,
		Ref: ev.Ref, Event: &ev, Hook: testHook})
}

// commitN is the n-th commit of these tests, each with the pipeline file.
func (r *rig) commitN(n int) string {
	c := fmt.Sprintf("%08x%s", n, strings.Repeat("c0ffee", 6)[:32]) // the event key takes the first 20
	r.files["/repos/Codertocat/Hello-World/contents/.stepline.yml@"+c] = prefixingPipelines()
	return c
}

// advancer is functions/advance's handler on the rig's table.
func (r *rig) advancer() *advance.Handler {
	return advance.New(r.db, noEvents{}, nil, advance.Config{Bucket: r.bucket, Project: "stepline-build"})
}

type noEvents struct{}

func (noEvents) Publish(context.Context, store.Record, []engine.Event) error { return nil }

func (r *rig) run(t *testing.T, id string) store.Record {
	t.Helper()
	rec, err := r.db.GetRun(context.Background(), id)
	require.NoError(t, err, "run %s", id)
	return rec
}

func TestEachPipelineStartsAndAdvancesItsOwnRunWhenRunIDsPrefixEachOther(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	node, node18 := runID("github", helloWorld, "node", 1), runID("github", helloWorld, "node-18", 1)
	longer := runID("github", helloWorld, node, 1)
	require.True(t, strings.HasPrefix(longer, node))

	require.NoError(t, r.h.Handle(ctx, helloPush(t, scm.BranchRef("main"), r.commitN(1))))
	assert.ElementsMatch(t, []string{node18, longer}, ids(r.runs(t)), "the push writes only the runs of the pipelines it matches")

	// node's first run: its id is a prefix of the other pipeline's run, which is not its record.
	require.NoError(t, r.h.Handle(ctx, helloPush(t, scm.TagRef("v1"), r.commitN(2))))
	starts := r.sfn.started()
	require.Len(t, starts, 3)
	assert.JSONEq(t, `{"run":"`+node+`"}`, aws.ToString(starts[2].Input))
	assert.Equal(t, "node", r.run(t, node).Pipeline(), "the trigger wrote node's own record")

	// Each execution drives its own run.
	for id, pipeline := range map[string]string{node: "node", node18: "node-18", longer: node} {
		s, err := r.advancer().Handle(ctx, advance.Input{State: statemachine.State{Run: id}})
		require.NoError(t, err)
		assert.Equal(t, id, s.Run)
		require.NotNil(t, s.Task, "the run starts its source action")
		assert.Equal(t, statemachine.KindSource, s.Task.Kind)
		rec := r.run(t, id)
		assert.Equal(t, pipeline, rec.Pipeline())
		assert.Equal(t, engine.InProgress, rec.State.Status, "run %s advanced", id)
	}
}

func TestARetriedStartIsNotAmbiguousWhenTenRunsOfAnotherPipelineExtendItsID(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	node := runID("github", helloWorld, "node", 1)
	for n := 1; n <= 10; n++ {
		require.NoError(t, r.h.Handle(ctx, helloPush(t, scm.BranchRef("main"), r.commitN(n))))
	}
	longer := 0
	for _, id := range ids(r.runs(t)) {
		if strings.HasPrefix(id, node) {
			longer++
		}
	}
	require.Equal(t, 10, longer, "ten runs whose ids start with node's")

	tag := helloPush(t, scm.TagRef("v1"), r.commitN(11))
	r.sfn.failStart = true
	require.Error(t, r.h.Handle(ctx, tag), "the first start fails; the queue retries")
	r.sfn.failStart = false
	require.NoError(t, r.h.Handle(ctx, tag), "the retried start")
	require.NoError(t, r.h.Handle(ctx, tag), "a redelivery")

	r.sfn.mu.Lock()
	var started []string
	for name, input := range r.sfn.executions {
		if strings.HasSuffix(name, "-node") {
			started = append(started, input)
		}
	}
	r.sfn.mu.Unlock()
	assert.Equal(t, []string{`{"run":"` + node + `"}`}, started, "one execution of node's run")
	assert.Equal(t, "node", r.run(t, node).Pipeline())
}

func TestAnExecutionWithoutItsRecordNeverDrivesTheRunItsIDPrefixes(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	node := runID("github", helloWorld, "node", 1)
	longer := runID("github", helloWorld, node, 1)
	require.NoError(t, r.h.Handle(ctx, helloPush(t, scm.BranchRef("main"), r.commitN(1))))
	before := r.run(t, longer)

	_, err := r.advancer().Handle(ctx, advance.Input{State: statemachine.State{Run: node}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no record")
	// The execution ends (its record missing, it failed): the ended path finds nothing to end.
	_, err = r.advancer().Handle(ctx, executionEnded(t, node))
	require.NoError(t, err)

	assert.Equal(t, before, r.run(t, longer), "the other pipeline's run is untouched")
}

// executionEnded is the "Step Functions Execution Status Change" event of run's execution
// timing out, as ExecutionEndedRule delivers it to the advance function.
func executionEnded(t *testing.T, run string) advance.Input {
	t.Helper()
	input, err := json.Marshal(`{"run":"` + run + `"}`)
	require.NoError(t, err)
	raw := fmt.Sprintf(`{"version":"0","id":"315c1398-40ff-a850-213b-158f73e60175","detail-type":"Step Functions Execution Status Change",
	"source":"aws.states","account":"123456789012","time":"2026-12-07T01:02:03Z","region":"us-east-1",
	"resources":["arn:aws:states:us-east-1:123456789012:execution:stepline-pipeline:%[1]s"],
	"detail":{"executionArn":"arn:aws:states:us-east-1:123456789012:execution:stepline-pipeline:%[1]s",
	"stateMachineArn":"arn:aws:states:us-east-1:123456789012:stateMachine:stepline-pipeline","name":"%[1]s","status":"TIMED_OUT",
	"startDate":1796518800000,"stopDate":1796522400000,"input":%[2]s,"output":null,"inputDetails":{"included":true},
	"outputDetails":null,"error":"States.Timeout","cause":"The execution timed out"}}`, run, input)
	var in advance.Input
	require.NoError(t, json.Unmarshal([]byte(raw), &in))
	return in
}

func ids(recs []store.Record) []string {
	out := []string{}
	for _, rec := range recs {
		out = append(out, rec.ID())
	}
	return out
}
