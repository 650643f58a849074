package buildspec

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Result JSON is what `stepline run` prints and the engine stores; its shape is pinned here
// and must round-trip.
func TestResultMarshalsToTheDocumentedJSON(t *testing.T) {
	t.Parallel()
	res := &Result{
		Status: StatusFailed,
		Phases: []PhaseResult{
			{Name: PhaseInstall, Status: StatusSucceeded, DurationMS: 12},
			{Name: PhaseBuild, Status: StatusFailed, DurationMS: 40, Message: "Error while executing command: go test ./.... Reason: exit status 1", Code: codeCommandError},
			{Name: PhaseUploadArtifacts, Status: StatusSkipped},
		},
		Exported:   map[string]string{"VERSION": "1.2"},
		Artifacts:  []ArtifactResult{{Name: "artifact", Dir: "/out/artifacts/artifact", Files: []string{"bin/app"}}},
		Reports:    []ReportResult{{Name: "unit", Dir: "/out/reports/unit", Files: []string{"a.xml"}, FileFormat: "JUNITXML"}},
		Warnings:   []string{"cache is ignored locally"},
		BuildID:    "local:1",
		DurationMS: 60,
	}
	got, err := json.Marshal(res)
	require.NoError(t, err)
	want := `{"status":"FAILED","phases":[` +
		`{"name":"INSTALL","status":"SUCCEEDED","duration_ms":12},` +
		`{"name":"BUILD","status":"FAILED","duration_ms":40,"message":"Error while executing command: go test ./.... Reason: exit status 1"},` +
		`{"name":"UPLOAD_ARTIFACTS","status":"SKIPPED","duration_ms":0}],` +
		`"exported":{"VERSION":"1.2"},` +
		`"artifacts":[{"name":"artifact","dir":"/out/artifacts/artifact","files":["bin/app"]}],` +
		`"reports":[{"name":"unit","dir":"/out/reports/unit","files":["a.xml"],"file_format":"JUNITXML"}],` +
		`"warnings":["cache is ignored locally"],"build_id":"local:1","duration_ms":60}`
	assert.JSONEq(t, want, string(got))
	assert.Equal(t, want, string(got), "field order is part of the format")

	var back Result
	require.NoError(t, json.Unmarshal(got, &back))
	res.Phases[1].Code = "" // not part of the JSON
	assert.Equal(t, *res, back)
}

func TestResultLeavesOutEmptyOptionalFields(t *testing.T) {
	t.Parallel()
	got, err := json.Marshal(&Result{Status: StatusSucceeded, Phases: []PhaseResult{}, BuildID: "local:1"})
	require.NoError(t, err)
	assert.Equal(t, `{"status":"SUCCEEDED","phases":[],"build_id":"local:1","duration_ms":0}`, string(got))
}

func TestResultRejectsMalformedJSON(t *testing.T) {
	t.Parallel()
	var r Result
	assert.Error(t, json.Unmarshal([]byte(`{"status":"SUCCEEDED","phases":{}}`), &r))
}
