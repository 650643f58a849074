package statemachine_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// startBuild is the StartBuild request the CodeBuild states send (their Parameters).
type startBuild struct {
	Project            string           `json:"ProjectName"`
	SourceType         string           `json:"SourceTypeOverride"`
	SourceLocation     string           `json:"SourceLocationOverride"`
	Buildspec          string           `json:"BuildspecOverride"`
	Environment        []map[string]any `json:"EnvironmentVariablesOverride"`
	Artifacts          map[string]any   `json:"ArtifactsOverride"`
	SecondaryArtifacts []map[string]any `json:"SecondaryArtifactsOverride"`
	SecondarySources   []map[string]any `json:"SecondarySourcesOverride"`
	TimeoutMinutes     int              `json:"TimeoutInMinutesOverride"`
}

// buildOf is the Build object startBuild.sync answers with once the build ends (and, as JSON
// text, the Cause of a failed build's States.TaskFailed): every field of BatchGetBuilds'
// Build (CodeBuild API Reference, BatchGetBuilds response syntax; the field values follow its
// example), in Step Functions' PascalCase, filled from the request as CodeBuild echoes it:
// the environment variables, the sources, the artifacts, the timeout. A failed build has
// failed its BUILD phase with CodeBuild's COMMAND_EXECUTION_ERROR context, and the phases
// after it did not run; a succeeded one exports VERSION and IMAGE_TAG.
func buildOf(t *testing.T, raw json.RawMessage, n int, failed bool) map[string]any {
	t.Helper()
	var req startBuild
	require.NoError(t, json.Unmarshal(raw, &req))
	uuid := fmt.Sprintf("%08x-d19e-4254-9079-f47e9a38%04x", 0x9b0ac37f+n, n)
	id := req.Project + ":" + uuid
	start := 1796605200.0 + float64(n)
	type phase struct {
		name     string
		duration int
	}
	phases := []phase{{"SUBMITTED", 0}, {"QUEUED", 1}, {"PROVISIONING", 28}, {"DOWNLOAD_SOURCE", 4}, {"INSTALL", 31},
		{"PRE_BUILD", 2}, {"BUILD", 187}, {"POST_BUILD", 1}, {"UPLOAD_ARTIFACTS", 3}, {"FINALIZING", 2}, {"COMPLETED", 0}}
	var out []map[string]any
	at := start
	status, current := "SUCCEEDED", "COMPLETED"
	for _, p := range phases {
		ph := map[string]any{"PhaseType": p.name, "PhaseStatus": "SUCCEEDED", "StartTime": at, "EndTime": at + float64(p.duration),
			"DurationInSeconds": p.duration, "Contexts": []map[string]any{{"StatusCode": "", "Message": ""}}}
		if p.name == "SUBMITTED" || p.name == "COMPLETED" {
			delete(ph, "Contexts")
		}
		if p.name == "COMPLETED" {
			delete(ph, "EndTime")
			delete(ph, "PhaseStatus")
			delete(ph, "DurationInSeconds")
		}
		if failed && p.name == "BUILD" {
			ph["PhaseStatus"] = "FAILED"
			ph["Contexts"] = []map[string]any{{"StatusCode": "COMMAND_EXECUTION_ERROR",
				"Message": "Error while executing command: make test PACKAGE=./services/api/... GOFLAGS=-count=1. Reason: exit status 2"}}
			status = "FAILED"
		}
		out = append(out, ph)
		at += float64(p.duration)
	}
	environment := make([]map[string]any, 0, len(req.Environment))
	for _, v := range req.Environment {
		environment = append(environment, map[string]any{"Name": v["Name"], "Type": v["Type"], "Value": v["Value"]})
	}
	stream := uuid
	group := "/aws/codebuild/" + req.Project
	b := map[string]any{
		"Arn":           "arn:aws:codebuild:us-east-1:123456789012:build/" + id,
		"Artifacts":     map[string]any{"Location": "arn:aws:s3:::" + fmt.Sprint(req.Artifacts["Location"]) + "/" + fmt.Sprint(req.Artifacts["Path"]) + "/" + fmt.Sprint(req.Artifacts["Name"]), "OverrideArtifactName": false, "EncryptionDisabled": false},
		"BuildComplete": true, "BuildNumber": 4711 + n, "BuildStatus": status,
		"Cache":         map[string]any{"Type": "NO_CACHE"},
		"CurrentPhase":  current,
		"EncryptionKey": "arn:aws:kms:us-east-1:123456789012:alias/aws/s3",
		"StartTime":     start, "EndTime": at,
		"Environment": map[string]any{"Type": "ARM_CONTAINER", "Image": "aws/codebuild/amazonlinux-aarch64-standard:3.0",
			"ComputeType": "BUILD_GENERAL1_SMALL", "EnvironmentVariables": environment, "PrivilegedMode": false,
			"ImagePullCredentialsType": "CODEBUILD"},
		"Id":        id,
		"Initiator": "stepline-PipelineStateMachineRole-9Z8Y7X6W5V4U/StepFunctions-stepline-pipeline",
		"Logs": map[string]any{
			"GroupName": group, "StreamName": stream,
			"DeepLink":          "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/" + strings.ReplaceAll(group, "/", "$252F") + "/log-events/" + stream,
			"CloudWatchLogsArn": "arn:aws:logs:us-east-1:123456789012:log-group:" + group + ":log-stream:" + stream,
			"CloudWatchLogs":    map[string]any{"Status": "ENABLED"},
			"S3Logs":            map[string]any{"Status": "DISABLED", "EncryptionDisabled": false},
		},
		"Phases":                  out,
		"ProjectName":             req.Project,
		"QueuedTimeoutInMinutes":  480,
		"SecondaryArtifacts":      []any{},
		"SecondarySourceVersions": []any{},
		"SecondarySources":        req.SecondarySources,
		"ServiceRole":             "arn:aws:iam::123456789012:role/stepline-BuildProjectRole-1A2B3C4D5E6F7",
		"Source":                  map[string]any{"Type": req.SourceType, "Location": req.SourceLocation, "Buildspec": req.Buildspec, "InsecureSsl": false},
		"TimeoutInMinutes":        req.TimeoutMinutes,
	}
	if !failed {
		b["ExportedEnvironmentVariables"] = []map[string]any{{"Name": "VERSION", "Value": fmt.Sprintf("1.4.%d", n)},
			{"Name": "IMAGE_TAG", "Value": "sha-" + strings.Repeat("c", 12)}}
	}
	return b
}
