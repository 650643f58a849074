package codecommit

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/codecommit/cctest"
)

const (
	c1 = "3e5983b9f6a1bd9ca3e2ff8f74ea26b9e6b02b6f"
	c2 = "7f2d4b5c0a9e8d7c6b5a49382716f5e4d3c2b1a0"
)

func stateChange(t *testing.T, detail string) events.CloudWatchEvent {
	t.Helper()
	return events.CloudWatchEvent{Version: "0", ID: "01234567-0123-0123-0123-012345678901", DetailType: DetailType, Source: Source,
		AccountID: "123456789012", Region: "us-east-2", Resources: []string{"arn:aws:codecommit:us-east-2:123456789012:MyDemoRepo"},
		Detail: json.RawMessage(detail)}
}

func TestReferenceEventsBecomeNormalisedPushes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		detail string
		want   scm.Event
	}{
		{name: "an updated branch is a push from the old commit to the new", detail: `{"event":"referenceUpdated","repositoryName":"MyDemoRepo","repositoryId":"12345678-1234-5678-abcd-12345678abcd",
			"referenceType":"branch","referenceName":"main","referenceFullName":"refs/heads/main","commitId":"` + c2 + `","oldCommitId":"` + c1 + `",
			"callerUserArn":"arn:aws:iam::123456789012:user/Mary_Major"}`,
			want: scm.Event{Kind: scm.KindPush, Ref: "refs/heads/main", Branch: "main", Before: c1, After: c2, Sender: "Mary_Major"}},
		{name: "a created branch has no before", detail: `{"event":"referenceCreated","repositoryName":"MyDemoRepo","repositoryId":"r",
			"referenceType":"branch","referenceName":"feature/x","referenceFullName":"refs/heads/feature/x","commitId":"` + c2 + `",
			"callerUserArn":"arn:aws:sts::123456789012:assumed-role/Dev/alice"}`,
			want: scm.Event{Kind: scm.KindPush, Ref: "refs/heads/feature/x", Branch: "feature/x", After: c2, Created: true, Sender: "alice"}},
		{name: "a created tag is a tag push", detail: `{"event":"referenceCreated","repositoryName":"MyDemoRepo","repositoryId":"r",
			"referenceType":"tag","referenceName":"v1.0","referenceFullName":"refs/tags/v1.0","commitId":"` + c2 + `"}`,
			want: scm.Event{Kind: scm.KindTag, Ref: "refs/tags/v1.0", Tag: "v1.0", After: c2, Created: true}},
		{name: "a merge in the console is an update of the destination branch", detail: `{"event":"referenceUpdated","repositoryName":"MyDemoRepo","repositoryId":"r",
			"referenceType":"branch","referenceName":"main","referenceFullName":"refs/heads/main","commitId":"` + c2 + `","oldCommitId":"` + c1 + `",
			"baseCommitId":"` + c1 + `","sourceCommitId":"` + c2 + `","destinationCommitId":"` + c1 + `","mergeOption":"FAST_FORWARD_MERGE"}`,
			want: scm.Event{Kind: scm.KindPush, Ref: "refs/heads/main", Branch: "main", Before: c1, After: c2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseEvent(stateChange(t, tc.detail))
			require.NoError(t, err)
			tc.want.Provider, tc.want.Delivery = scm.CodeCommit, "01234567-0123-0123-0123-012345678901"
			tc.want.Repository = scm.Repository{FullName: "MyDemoRepo", CloneURL: "https://git-codecommit.us-east-2.amazonaws.com/v1/repos/MyDemoRepo"}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestEventsThatAreNotPushesAreIgnoredOrRefused(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		detail  string
		ignored string
	}{
		"a deleted branch":       {`{"event":"referenceDeleted","repositoryName":"MyDemoRepo","referenceType":"branch","referenceName":"old","referenceFullName":"refs/heads/old","commitId":"` + c1 + `"}`, "branch old of MyDemoRepo was deleted"},
		"a pull request event":   {`{"event":"pullRequestCreated","repositoryNames":["MyDemoRepo"],"pullRequestId":"1"}`, `CodeCommit event "pullRequestCreated"`},
		"an unknown ref type":    {`{"event":"referenceUpdated","repositoryName":"MyDemoRepo","referenceType":"note","commitId":"` + c1 + `"}`, `reference type "note"`},
		"a detail without a sha": {`{"event":"referenceUpdated","repositoryName":"MyDemoRepo","referenceType":"branch","referenceName":"main"}`, ""},
		"a detail of wrong type": {`{"event":["referenceUpdated"]}`, ""},
	} {
		_, err := ParseEvent(stateChange(t, tc.detail))
		require.Error(t, err, name)
		reason, ignored := scm.IsIgnored(err)
		if tc.ignored != "" {
			assert.True(t, ignored, name)
			assert.Contains(t, reason, tc.ignored, name)
		} else {
			var m *scm.MalformedError
			assert.True(t, errors.As(err, &m), "%s: %v", name, err)
		}
	}
	e := stateChange(t, `{}`)
	e.Source = "aws.ecr"
	_, err := ParseEvent(e)
	assert.Error(t, err)
}

func server(t *testing.T) (*cctest.Server, *Client) {
	t.Helper()
	s := cctest.New(t)
	base := map[string]cctest.Entry{".stepline.yml": {Mode: cctest.Normal, Content: "version: 1\n"}, "a.go": {Mode: cctest.Normal, Content: "package a\n"},
		"docs/old.md": {Mode: cctest.Normal, Content: "old"}}
	next := map[string]cctest.Entry{".stepline.yml": {Mode: cctest.Normal, Content: "version: 1\n"}, "a.go": {Mode: cctest.Normal, Content: "package a // changed\n"},
		"docs/new.md": {Mode: cctest.Normal, Content: "old"}, "run.sh": {Mode: cctest.Executable, Content: "#!/bin/sh\n"}}
	s.Repos["MyDemoRepo"] = &cctest.Repo{DefaultBranch: "main", Branches: map[string]string{"main": c2}, Commits: map[string]map[string]cctest.Entry{c1: base, c2: next}}
	return s, NewClient(s.Client())
}

func TestTheClientReadsFilesHeadsAndTheDefaultBranch(t *testing.T) {
	t.Parallel()
	s, c := server(t)
	ctx := t.Context()
	body, err := c.ReadFile(ctx, "MyDemoRepo", c1, ".stepline.yml")
	require.NoError(t, err)
	assert.Equal(t, "version: 1\n", string(body))
	head, err := c.Head(ctx, "MyDemoRepo", "main")
	require.NoError(t, err)
	assert.Equal(t, c2, head)
	def, err := c.DefaultBranch(ctx, "MyDemoRepo")
	require.NoError(t, err)
	assert.Equal(t, "main", def)
	assert.Equal(t, []string{"GetFile .stepline.yml@" + c1, "GetBranch main", "GetRepository MyDemoRepo"}, s.Calls())
}

func TestMissingThingsAreNotFoundAndRefusalsUnauthorized(t *testing.T) {
	t.Parallel()
	s, c := server(t)
	ctx := t.Context()
	_, err := c.ReadFile(ctx, "MyDemoRepo", c1, "nope.yml")
	assert.ErrorIs(t, err, scm.ErrNotFound, "FileDoesNotExistException")
	assert.Contains(t, err.Error(), "codecommit answered 404 Not Found: FileDoesNotExistException")
	_, err = c.ReadFile(ctx, "NoRepo", c1, ".stepline.yml")
	assert.ErrorIs(t, err, scm.ErrNotFound, "RepositoryDoesNotExistException")
	_, err = c.ReadFile(ctx, "MyDemoRepo", strings.Repeat("9", 40), ".stepline.yml")
	assert.ErrorIs(t, err, scm.ErrNotFound, "CommitDoesNotExistException")
	_, err = c.Head(ctx, "MyDemoRepo", "gone")
	assert.ErrorIs(t, err, scm.ErrNotFound, "BranchDoesNotExistException")

	s.Fail = func(op string, _ map[string]any) (int, string) {
		switch op {
		case "GetFile":
			return http.StatusBadRequest, "EncryptionKeyAccessDeniedException"
		case "GetBranch":
			return http.StatusBadRequest, "ThrottlingException"
		}
		return http.StatusInternalServerError, "InternalFailure"
	}
	_, err = c.ReadFile(ctx, "MyDemoRepo", c1, ".stepline.yml")
	assert.ErrorIs(t, err, scm.ErrUnauthorized)
	_, err = c.Head(ctx, "MyDemoRepo", "main")
	var api *scm.APIError
	require.ErrorAs(t, err, &api)
	assert.Equal(t, http.StatusTooManyRequests, api.StatusCode)
	_, err = c.DefaultBranch(ctx, "MyDemoRepo")
	require.ErrorAs(t, err, &api)
	assert.Equal(t, http.StatusInternalServerError, api.StatusCode)
}

func TestChangedFilesReadEveryPageOfTheDifferences(t *testing.T) {
	t.Parallel()
	s, c := server(t)
	s.PageSize = 2
	files, complete, err := c.ChangedFiles(t.Context(), "MyDemoRepo", c1, c2)
	require.NoError(t, err)
	assert.True(t, complete)
	assert.Equal(t, []string{"a.go", "docs/new.md", "docs/old.md", "run.sh"}, files, "a rename lists both paths")
	assert.Equal(t, []string{"GetDifferences " + c1 + ".." + c2, "GetDifferences " + c1 + ".." + c2 + " 2"}, s.Calls())

	files, complete, err = c.ChangedFiles(t.Context(), "MyDemoRepo", "", c2)
	require.NoError(t, err)
	assert.True(t, complete)
	assert.Equal(t, []string{".stepline.yml", "a.go", "docs/new.md", "run.sh"}, files, "without a before commit, every file of the commit")

	_, _, err = c.ChangedFiles(t.Context(), "MyDemoRepo", c1, strings.Repeat("9", 40))
	assert.ErrorIs(t, err, scm.ErrNotFound)
}

// TestCompleteFillsACodeCommitPushThroughGetDifferences runs the shared completion over the
// client: an update compares before and after, a new branch the default branch and its head.
func TestCompleteFillsACodeCommitPushThroughGetDifferences(t *testing.T) {
	t.Parallel()
	s, c := server(t)
	ev := scm.Event{Provider: scm.CodeCommit, Kind: scm.KindPush, Repository: scm.Repository{FullName: "MyDemoRepo", DefaultBranch: "main"},
		Ref: "refs/heads/main", Branch: "main", Before: c1, After: c2}
	require.NoError(t, scm.Complete(t.Context(), &ev, c))
	assert.True(t, ev.FilesComplete)
	assert.Equal(t, []string{"a.go", "docs/new.md", "docs/old.md", "run.sh"}, ev.ChangedFiles)

	created := scm.Event{Provider: scm.CodeCommit, Kind: scm.KindPush, Repository: scm.Repository{FullName: "MyDemoRepo", DefaultBranch: "main"},
		Ref: "refs/heads/feature", Branch: "feature", After: c1, Created: true}
	require.NoError(t, scm.Complete(t.Context(), &created, c))
	assert.True(t, created.FilesComplete)
	assert.Equal(t, []string{"a.go", "docs/new.md", "docs/old.md", "run.sh"}, created.ChangedFiles)
	assert.Contains(t, s.Calls(), "GetDifferences main.."+c1)
}

// TestFieldsSteplineDoesNotReadNeverRefuseAnEvent: a merge's commits and options, and the
// repository id, are not read, so no type of theirs may refuse the event.
func TestFieldsSteplineDoesNotReadNeverRefuseAnEvent(t *testing.T) {
	t.Parallel()
	ev, err := ParseEvent(stateChange(t, `{"event":"referenceUpdated","repositoryName":"MyDemoRepo","repositoryId":12345,
		"referenceType":"branch","referenceName":"main","referenceFullName":"refs/heads/main","commitId":"`+c2+`","oldCommitId":"`+c1+`",
		"callerUserArn":"arn:aws:iam::123456789012:user/Mary_Major","baseCommitId":[],"sourceCommitId":{},"destinationCommitId":7,
		"mergeOption":{"kind":"FAST_FORWARD_MERGE"},"conflictDetailsLevel":1,"conflictResolutionStrategy":null}`))
	require.NoError(t, err)
	assert.Equal(t, c2, ev.After)
	assert.Equal(t, "Mary_Major", ev.Sender)
}
