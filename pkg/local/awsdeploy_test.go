package local

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/deploy"
	"github.com/stepline/stepline/pkg/deploy/deploytest"
	"github.com/stepline/stepline/pkg/engine"
)

// scriptedProvider answers Start with start and each Poll with the next of polls (the last
// one again once they run out), and records the requests it was given.
type scriptedProvider struct {
	start deploy.Wait
	polls []pollAnswer
	mu    sync.Mutex
	reqs  []deploy.Request
	read  []string
	n     int
}

type pollAnswer struct {
	out deploy.Outcome
	err error
}

func (p *scriptedProvider) Start(ctx context.Context, req deploy.Request) (deploy.Wait, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, req)
	for _, a := range req.Inputs {
		b, err := a.ReadFile(ctx, "imagedefinitions.json")
		if err != nil {
			return deploy.Wait{}, err
		}
		p.read = append(p.read, string(b))
	}
	return p.start, nil
}

func (p *scriptedProvider) Poll(context.Context, deploy.Wait) (deploy.Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.polls[min(p.n, len(p.polls)-1)]
	p.n++
	return a.out, a.err
}

// deployTask is an ecs task whose input artifact is a zip on disk holding imagedefinitions.json.
func deployTask(t *testing.T) (engine.Task, Env, *bytes.Buffer) {
	dir := t.TempDir()
	zip := filepath.Join(dir, "image.zip")
	require.NoError(t, os.WriteFile(zip, deploytest.Zip(t, map[string]string{"imagedefinitions.json": `[{"name":"app","imageUri":"r/app:2"}]`}), 0o644))
	var log bytes.Buffer
	return engine.Task{Run: "svc-1", Stage: "Deploy", Action: "Service", Attempt: 1, Provider: "ecs",
			Config: map[string]any{"cluster": "main"}, Inputs: []engine.Artifact{{Name: "image", Location: zip}}},
		Env{Work: filepath.Join(dir, "work"), Log: &log}, &log
}

func TestAWSDeployWaitsThroughPollsAndTransientErrors(t *testing.T) {
	t.Parallel()
	busy := pollAnswer{}
	throttled := pollAnswer{err: errors.New("ThrottlingException: rate exceeded")}
	cases := []struct {
		name  string
		polls []pollAnswer
		check func(t *testing.T, out Outcome, log string)
	}{
		{"a deploy that completes succeeds with the service's message", []pollAnswer{busy, throttled, busy, {out: deploy.Outcome{Done: true, Succeeded: true, Message: "ECS deployment d-1 completed"}}},
			func(t *testing.T, out Outcome, log string) {
				require.NoError(t, out.Err)
				assert.Equal(t, "ECS deployment d-1 completed", out.Message)
				assert.Contains(t, log, "waiting for ECS deployment d-1 to complete … (")
				assert.Contains(t, log, "could not ask how the deploy stands (1 of 3): ThrottlingException")
			}},
		{"a deploy the service rolled back fails saying so", []pollAnswer{{out: deploy.Outcome{Done: true, RolledBack: true, Message: "Queue (AWS::SQS::Queue) UPDATE_FAILED: bad name"}}},
			func(t *testing.T, out Outcome, log string) {
				assert.EqualError(t, out.Err, "Queue (AWS::SQS::Queue) UPDATE_FAILED: bad name (ecs rolled it back)")
				assert.False(t, out.Final, "a failed deploy may be retried")
			}},
		{"a message that already tells of the rollback is kept", []pollAnswer{{out: deploy.Outcome{Done: true, RolledBack: true, Message: "ECS deployment d-1 failed: tasks failed to start; the circuit breaker rolls the service back"}}},
			func(t *testing.T, out Outcome, log string) {
				assert.EqualError(t, out.Err, "ECS deployment d-1 failed: tasks failed to start; the circuit breaker rolls the service back")
			}},
		{"three failed polls in a row fail the action", []pollAnswer{busy, throttled, throttled, throttled},
			func(t *testing.T, out Outcome, log string) {
				assert.EqualError(t, out.Err, "waiting for ECS deployment d-1 to complete: ThrottlingException: rate exceeded")
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := &scriptedProvider{start: deploy.Wait{Provider: "ecs", Key: "d-1", What: "ECS deployment d-1 to complete"}, polls: c.polls}
			task, env, log := deployTask(t)
			out := AWSDeploy{Providers: map[string]deploy.Provider{"ecs": p}, Every: time.Millisecond}.Execute(context.Background(), task, env)
			c.check(t, out, log.String())
			require.Len(t, p.reqs, 1)
			assert.Equal(t, "svc-1", p.reqs[0].Run)
			assert.Equal(t, "main", p.reqs[0].Config["cluster"])
			assert.Equal(t, []string{`[{"name":"app","imageUri":"r/app:2"}]`}, p.read, "the provider read the file from the zip on disk")
		})
	}
}

// A deploy finished within Start (an s3 upload) is not polled; one whose outputs come with
// the outcome exports them as the action's variables.
func TestAWSDeployDoneAtStartAndOutputs(t *testing.T) {
	t.Parallel()
	p := &scriptedProvider{start: deploy.Wait{Provider: "s3", Done: true, Outcome: deploy.Outcome{Done: true, Succeeded: true, Message: "wrote 2 files"}},
		polls: []pollAnswer{{err: errors.New("polled")}}}
	task, env, _ := deployTask(t)
	out := AWSDeploy{Providers: map[string]deploy.Provider{"ecs": p}, Every: time.Millisecond}.Execute(context.Background(), task, env)
	require.NoError(t, out.Err)
	assert.Equal(t, "wrote 2 files", out.Message)
	assert.Zero(t, p.n, "not polled")

	p = &scriptedProvider{start: deploy.Wait{Provider: "cloudformation", Key: "stack/1", What: "stack"},
		polls: []pollAnswer{{out: deploy.Outcome{Done: true, Succeeded: true, Message: "CREATE_COMPLETE", Outputs: map[string]string{"Url": "https://x"}}}}}
	task, env, _ = deployTask(t)
	out = AWSDeploy{Providers: map[string]deploy.Provider{"ecs": p}, Every: time.Millisecond}.Execute(context.Background(), task, env)
	require.NoError(t, out.Err)
	assert.Equal(t, map[string]string{"Url": "https://x"}, out.Variables)
}

// An input kept in S3 (--aws) is fetched into the attempt's directory through the artifact
// store; an artifact store that cannot fetch fails the action naming the input.
func TestAWSDeployFetchesAnInputKeptElsewhere(t *testing.T) {
	t.Parallel()
	task, env, _ := deployTask(t)
	zip := task.Inputs[0].Location
	task.Inputs[0].Location = "s3://artifacts/runs/svc-1/image.zip"
	p := &scriptedProvider{start: deploy.Wait{Done: true, Outcome: deploy.Outcome{Done: true, Succeeded: true}}}
	ex := AWSDeploy{Providers: map[string]deploy.Provider{"ecs": p}, Every: time.Millisecond}

	out := ex.Execute(context.Background(), task, env)
	assert.ErrorContains(t, out.Err, "input artifact image at s3://artifacts/runs/svc-1/image.zip cannot be read here")

	env.Artifacts = copyFetcher{from: zip}
	out = ex.Execute(context.Background(), task, env)
	require.NoError(t, out.Err)
	require.Len(t, p.reqs, 1)
	assert.Equal(t, deploy.Location{Bucket: "artifacts", Key: "runs/svc-1/image.zip"}, p.reqs[0].Inputs["image"].Location())
}

// copyFetcher "fetches" by copying a local zip.
type copyFetcher struct {
	Artifacts
	from string
}

func (c copyFetcher) Fetch(_ context.Context, _, path string) error {
	b, err := os.ReadFile(c.from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
