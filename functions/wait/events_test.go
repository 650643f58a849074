package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/waitstep"
)

var update = flag.Bool("update", false, "regenerate events/wait")

// sampleToken stands for a Step Functions task token: an opaque base64 string of some 700
// characters with the service's fixed prefix. events/callback's keys derive from it.
func sampleToken() string {
	var b []byte
	seed := []byte("stepline sample task token")
	for len(b) < 500 {
		sum := sha256.Sum256(seed)
		b = append(b, sum[:]...)
		seed = sum[:]
	}
	return "AQCEAAAAKgAAAAMAAAAAAAAAA" + base64.StdEncoding.EncodeToString(b[:500])
}

// samples are the events the wait function receives: the Wait state's payload for an
// approval and for an ECS deployment, and the deadline schedule's input.
func samples() map[string]waitstep.Input {
	approve := engine.Task{Run: "api-7", Pipeline: "api", Stage: "Release", Action: "Approve", Attempt: 1, Provider: "approval",
		Config:  map[string]any{"message": "Ship 4f2c1ab (Fix the login redirect) to production?", "url": "https://github.com/octo/api/compare/v1.4.0...4f2c1ab"},
		Timeout: 24 * time.Hour}
	ecs := engine.Task{Run: "api-7", Pipeline: "api", Stage: "Deploy", Action: "Service", Attempt: 1, Provider: "ecs",
		Config: map[string]any{"cluster": "main", "service": "api", "image_definitions": "bin::imagedefinitions.json", "strategy": "rolling"},
		Inputs: []engine.Artifact{{Name: "bin", Location: "s3://stepline-artifacts/runs/api-7/bin.zip"}}}
	return map[string]waitstep.Input{
		"approval.json": {Token: sampleToken(), Run: "api-7", Task: &statemachine.Item{ID: approve.ID(), Kind: statemachine.KindWait, TimeoutSeconds: 86400, Task: approve}},
		"ecs.json":      {Token: sampleToken(), Run: "api-7", Task: &statemachine.Item{ID: ecs.ID(), Kind: statemachine.KindWait, TimeoutSeconds: 604800, Task: ecs}},
		"expire.json":   {Expire: &waitstep.Expire{Run: "api-7", Task: approval.TaskKey("Release", "Approve", 1)}},
	}
}

func samplePath(name string) string { return filepath.Join("..", "..", "events", "wait", name) }

// TestTheSampleEventsRoundTrip decodes each sample into the handler's input and encodes it
// again unchanged; with -update it writes them.
func TestTheSampleEventsRoundTrip(t *testing.T) {
	for name, in := range samples() {
		want, err := json.MarshalIndent(in, "", "  ")
		require.NoError(t, err)
		if *update {
			require.NoError(t, os.WriteFile(samplePath(name), append(want, '\n'), 0o644))
		}
		raw, err := os.ReadFile(samplePath(name))
		require.NoError(t, err, "run go test ./functions/wait -run TestTheSampleEventsRoundTrip -update")
		var got waitstep.Input
		require.NoError(t, json.Unmarshal(raw, &got), name)
		again, err := json.Marshal(got)
		require.NoError(t, err)
		assert.JSONEq(t, string(raw), string(again), name)
		assert.JSONEq(t, string(want), string(raw), "%s is what samples() describes", name)
	}
}

// TestTheApprovalSampleIsWhatTheWaitStateSends checks the approval sample against the state
// machine's Wait state: its Payload is {token, run, task} from $$.Task.Token, $.run, $.task.
func TestTheApprovalSampleIsWhatTheWaitStateSends(t *testing.T) {
	var asl struct {
		States map[string]struct {
			Parameters struct {
				Payload map[string]any `json:"Payload"`
			} `json:"Parameters"`
		} `json:"States"`
	}
	require.NoError(t, json.Unmarshal(statemachine.Definition(), &asl))
	payload := asl.States["Wait"].Parameters.Payload
	assert.Equal(t, map[string]any{"token.$": "$$.Task.Token", "run.$": "$.run", "task.$": "$.task"}, payload)

	raw, err := os.ReadFile(samplePath("approval.json"))
	require.NoError(t, err)
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &fields))
	assert.ElementsMatch(t, []string{"token", "run", "task"}, keys(fields))
}

func TestAMalformedSampleIsRefusedByTheDecoder(t *testing.T) {
	for name, in := range map[string]string{
		"a truncated payload":        `{"token":"AQ","task":{"id":`,
		"a task that is not an item": `{"token":"AQ","run":"api-7","task":"Release/Approve"}`,
		"an attempt that is text":    `{"token":"AQ","run":"api-7","task":{"engine":{"attempt":"one"}}}`,
		"an expiry that is a list":   `{"expire":["api-7","Release.Approve.1"]}`,
	} {
		var got waitstep.Input
		assert.Error(t, json.Unmarshal([]byte(in), &got), name)
	}
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
