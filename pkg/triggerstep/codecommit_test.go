package triggerstep

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awscodecommit "github.com/aws/aws-sdk-go-v2/service/codecommit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/iamcheck"
	"github.com/stepline/stepline/pkg/scm/codecommit"
	"github.com/stepline/stepline/pkg/scm/codecommit/cctest"
)

// ccFile builds services on pushes touching them, releases on tags, and nightly at 3.
const ccFile = `version: 1
pipelines:
  - name: svc
    triggers:
      - {on: push, branches: [main, "feature/**"], paths: ["svc/**"]}
    stages: [{name: Build, actions: [{name: Build, provider: codebuild, inputs: [source]}]}]
  - name: release
    triggers:
      - {on: push, tags: ["v*"]}
    stages: [{name: Build, actions: [{name: Build, provider: codebuild, inputs: [source]}]}]
  - name: nightly
    triggers:
      - {on: schedule, cron: "cron(0 3 * * ? *)"}
    stages: [{name: Build, actions: [{name: Build, provider: codebuild, inputs: [source]}]}]
`

const (
	ccRepo  = "MyDemoRepo"
	ccOld   = "3e5983b9f6a1bd9ca3e2ff8f74ea26b9e6b02b6f"
	ccNew   = "7f2d4b5c0a9e8d7c6b5a49382716f5e4d3c2b1a0"
	ccDocs  = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"
	ccEvent = "01234567-0123-0123-0123-012345678901"
)

// ccRig is the memory rig with a CodeCommit stand-in holding MyDemoRepo: ccOld, then ccNew
// changing svc/main.go (main's head), and ccDocs changing only the README.
func ccRig(t *testing.T) (*memRig, *cctest.Server) {
	t.Helper()
	r := newMemRig(t)
	s := cctest.New(t)
	file := cctest.Entry{Mode: cctest.Normal, Content: ccFile}
	s.Repos[ccRepo] = &cctest.Repo{DefaultBranch: "main", Branches: map[string]string{"main": ccNew},
		Commits: map[string]map[string]cctest.Entry{
			ccOld:  {PipelineFile: file, "svc/main.go": {Mode: cctest.Normal, Content: "package main\n"}, "README.md": {Mode: cctest.Normal, Content: "hi"}},
			ccNew:  {PipelineFile: file, "svc/main.go": {Mode: cctest.Normal, Content: "package main // v2\n"}, "README.md": {Mode: cctest.Normal, Content: "hi"}},
			ccDocs: {PipelineFile: file, "svc/main.go": {Mode: cctest.Normal, Content: "package main // v2\n"}, "README.md": {Mode: cctest.Normal, Content: "docs"}},
		}}
	// The trigger function's CodeCommit client: its calls are recorded for the IAM check.
	rec := iamcheck.NewRecorder(t, "trigger", nil)
	r.h.codecommit = codecommit.NewClient(s.Client(func(o *awscodecommit.Options) { o.APIOptions = append(o.APIOptions, rec.Add) }))
	return r, s
}

// ccEventOf is CodeCommit's Repository State Change for ref, from old ("" on a creation) to
// commit.
func ccEventOf(t *testing.T, event, refType, name, old, commit string) events.CloudWatchEvent {
	t.Helper()
	full := "refs/heads/" + name
	if refType == "tag" {
		full = "refs/tags/" + name
	}
	detail, err := json.Marshal(map[string]string{"event": event, "repositoryName": ccRepo, "repositoryId": "12345678-1234-5678-abcd-12345678abcd",
		"referenceType": refType, "referenceName": name, "referenceFullName": full, "commitId": commit, "oldCommitId": old,
		"callerUserArn": "arn:aws:iam::123456789012:user/Mary_Major"})
	require.NoError(t, err)
	return events.CloudWatchEvent{Version: "0", ID: ccEvent, DetailType: codecommit.DetailType, Source: codecommit.Source,
		AccountID: "123456789012", Time: t0, Region: "us-east-1", Resources: []string{"arn:aws:codecommit:us-east-1:123456789012:" + ccRepo}, Detail: detail}
}

func TestACodeCommitPushRunsItsPipelinesAndRegistersTheFile(t *testing.T) {
	t.Parallel()
	r, s := ccRig(t)
	e := ccEventOf(t, codecommit.ReferenceUpdated, "branch", "main", ccOld, ccNew)
	require.NoError(t, r.h.Handle(r.ctx, e))

	starts := r.sfn.started()
	require.Len(t, starts, 1, r.logs.String())
	assert.Equal(t, "codecommit-"+ccEvent+"-svc", aws.ToString(starts[0].Name))
	rec, err := r.runs.GetRun(r.ctx, runID("codecommit", ccRepo, "svc", 1))
	require.NoError(t, err)
	assert.Equal(t, "codecommit", rec.Provider)
	assert.Equal(t, ccRepo, rec.Repo)
	assert.Equal(t, ccNew, rec.Commit)
	assert.Equal(t, "main", rec.Branch)
	assert.Empty(t, rec.Hook, "a CodeCommit repository has no hook: the functions' roles read it")
	assert.Equal(t, "codecommit push", rec.Trigger)
	assert.Equal(t, "codecommit", rec.State.Vars["source"]["provider"])
	assert.Equal(t, "push", rec.State.Vars["source"]["event"])

	reg := r.reg.entry(t, "codecommit", ccRepo)
	assert.Equal(t, ccNew, reg.Commit)
	assert.Equal(t, "main", reg.Branch)
	assert.Empty(t, reg.Hook)
	assert.Len(t, reg.Schedules, 1, "the nightly schedule")
	assert.Equal(t, []string{"GetRepository " + ccRepo, "GetFile .stepline.yml@" + ccNew, "GetDifferences " + ccOld + ".." + ccNew},
		s.Calls(), "the default branch, the file at the commit, the changed files")

	require.NoError(t, r.h.Handle(r.ctx, e), "the queue's retry of the same event")
	assert.Len(t, r.sfn.started(), 1, "starts nothing twice")
}

func TestCodeCommitPushesMatchAsGitPushes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		event func(t *testing.T) events.CloudWatchEvent
		runs  []string
		log   string
	}{
		{"a push touching only the README does not pass the paths filter",
			func(t *testing.T) events.CloudWatchEvent {
				return ccEventOf(t, codecommit.ReferenceUpdated, "branch", "main", ccNew, ccDocs)
			}, nil, `path \"README.md\" is not included by [svc/**]`},
		{"a new feature branch is compared with the default branch",
			func(t *testing.T) events.CloudWatchEvent {
				return ccEventOf(t, codecommit.ReferenceCreated, "branch", "feature/x", "", ccOld)
			}, []string{"svc"}, `path \"svc/main.go\" matches \"svc/**\"`},
		{"a tag runs the tag pipeline",
			func(t *testing.T) events.CloudWatchEvent {
				return ccEventOf(t, codecommit.ReferenceCreated, "tag", "v1.2", "", ccNew)
			}, []string{"release"}, `tag \"v1.2\" matches \"v*\"`},
		{"a deleted branch is logged and starts nothing",
			func(t *testing.T) events.CloudWatchEvent {
				return ccEventOf(t, codecommit.ReferenceDeleted, "branch", "feature/x", "", ccNew)
			}, nil, "branch feature/x of MyDemoRepo was deleted"},
		{"a pull request event starts nothing",
			func(t *testing.T) events.CloudWatchEvent {
				e := ccEventOf(t, codecommit.ReferenceUpdated, "branch", "main", ccOld, ccNew)
				e.Detail = json.RawMessage(`{"event":"pullRequestCreated","repositoryNames":["MyDemoRepo"],"pullRequestId":"7"}`)
				return e
			}, nil, `CodeCommit event \"pullRequestCreated\"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, _ := ccRig(t)
			require.NoError(t, r.h.Handle(r.ctx, tc.event(t)))
			var names []string
			for _, s := range r.sfn.started() {
				names = append(names, aws.ToString(s.Name))
			}
			var want []string
			for _, p := range tc.runs {
				want = append(want, "codecommit-"+ccEvent+"-"+p)
			}
			assert.Equal(t, want, names)
			assert.Contains(t, r.logs.String(), tc.log)
		})
	}
}

func TestCodeCommitFailuresAreRetriedOnlyWhenARetryCanHelp(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		exception string
		status    int
		retried   bool
	}{
		"throttling is retried":                    {"ThrottlingException", http.StatusBadRequest, true},
		"a service failure is retried":             {"ServiceUnavailableException", http.StatusServiceUnavailable, true},
		"a refused role is acknowledged":           {"AccessDeniedException", http.StatusBadRequest, false},
		"a refused encryption key is acknowledged": {"EncryptionKeyAccessDeniedException", http.StatusBadRequest, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, s := ccRig(t)
			s.Fail = func(op string, _ map[string]any) (int, string) {
				if op == "GetFile" {
					return tc.status, tc.exception
				}
				return 0, ""
			}
			err := r.h.Handle(r.ctx, ccEventOf(t, codecommit.ReferenceUpdated, "branch", "main", ccOld, ccNew))
			if tc.retried {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
				assert.Contains(t, r.logs.String(), tc.exception)
			}
			assert.Empty(t, r.sfn.started())
		})
	}
	r, _ := ccRig(t)
	r.h.codecommit = nil
	require.NoError(t, r.h.Handle(r.ctx, ccEventOf(t, codecommit.ReferenceUpdated, "branch", "main", ccOld, ccNew)))
	assert.Contains(t, r.logs.String(), "needs a CodeCommit client, and none is configured")
}

func TestAScheduleOfACodeCommitRepositoryBuildsTheBranchHead(t *testing.T) {
	t.Parallel()
	r, s := ccRig(t)
	require.NoError(t, r.h.Handle(r.ctx, ccEventOf(t, codecommit.ReferenceUpdated, "branch", "main", ccOld, ccNew)))
	s.Lock()
	s.Repos[ccRepo].Branches["main"] = ccDocs
	s.Unlock()
	raw, err := json.Marshal(map[string]ScheduleInput{ScheduleKey: {Provider: "codecommit", Repository: ccRepo,
		Pipeline: "nightly", Trigger: 0, Branch: "main", Time: t0.Add(24 * time.Hour).Format(time.RFC3339)}})
	require.NoError(t, err)
	before := len(r.sfn.started())
	require.NoError(t, r.h.Invoke(r.ctx, raw))
	require.Len(t, r.sfn.started(), before+1, r.logs.String())
	rec, err := r.runs.GetRun(r.ctx, runID("codecommit", ccRepo, "nightly", 1))
	require.NoError(t, err)
	assert.Equal(t, ccDocs, rec.Commit, "the head GetBranch answers now, not the registered commit")
	assert.Empty(t, rec.Hook)
	assert.Contains(t, s.Calls(), "GetBranch main")
}
