package github

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnreadFieldsNeverRefuseADelivery pins the rule that a field stepline does not read is
// never decoded, whatever its type: GitHub sends pushed_at as epoch seconds in a push and as
// an ISO-8601 string elsewhere, and a refused delivery starts nothing.
func TestUnreadFieldsNeverRefuseADelivery(t *testing.T) {
	t.Parallel()
	wantPush := one(t, "push", encode(t, pushBody(nil)))
	wantPR := one(t, "pull_request", encode(t, pullRequestBody("opened", nil, nil)))
	pushes := map[string]obj{
		"a pushed_at in words":                      {"repository": with(testRepo, obj{"pushed_at": "yesterday"})},
		"a created_at that is an object":            {"repository": with(testRepo, obj{"created_at": obj{}})},
		"a repository size sent as a string":        {"repository": with(testRepo, obj{"size": "12"})},
		"a repository id that is no integer":        {"repository": with(testRepo, obj{"id": 1.5})},
		"a private flag sent as a string":           {"repository": with(testRepo, obj{"private": "false"})},
		"topics that are a string":                  {"repository": with(testRepo, obj{"topics": "go"})},
		"an owner of another shape":                 {"repository": with(testRepo, obj{"owner": "octo-org"})},
		"a sender id sent as a string":              {"sender": obj{"login": "mona", "id": "1"}},
		"a sender site_admin flag that is a string": {"sender": obj{"login": "mona", "site_admin": "no"}},
		"a head commit timestamp in epoch seconds":  {"head_commit": with(pushCommit(sha3, "Fix the parser\n\nIt panicked.", nil, []string{"pkg/a.go"}, []string{"old.txt"}), obj{"timestamp": 1714557600})},
		"a commit whose distinct flag is a string": {"commits": []any{
			with(pushCommit(sha2, "Add the parser", []string{"pkg/a.go"}, []string{"README.md"}, nil), obj{"distinct": "true"}),
			with(pushCommit(sha3, "Fix the parser\n\nIt panicked.", nil, []string{"pkg/a.go"}, []string{"old.txt"}), obj{"timestamp": "not a time"}),
		}},
		"a base_ref that is an object": {"base_ref": obj{}},
		"a pusher whose email is null": {"pusher": obj{"name": "mona", "email": nil, "date": "x"}},
	}
	for name, over := range pushes {
		t.Run("push with "+name, func(t *testing.T) {
			t.Parallel()
			evs, err := Parse("push", "d-1", encode(t, pushBody(over)))
			require.NoError(t, err)
			require.Len(t, evs, 1)
			assert.Equal(t, wantPush, evs[0])
		})
	}
	prs := map[string]obj{
		"created_at and updated_at in words":         {"created_at": "yesterday", "updated_at": "today"},
		"a closed_at in epoch seconds":               {"closed_at": 1714557600},
		"a merged_at that is an object":              {"merged_at": obj{}},
		"additions and deletions sent as strings":    {"additions": "3", "deletions": "1", "changed_files": "2"},
		"labels that are an object":                  {"labels": obj{"name": "bug"}},
		"a milestone that is a string":               {"milestone": "v1"},
		"requested reviewers that are a string":      {"requested_reviewers": "mona"},
		"a mergeable flag sent as a string":          {"mergeable": "unknown"},
		"auto_merge of another shape":                {"auto_merge": "squash"},
		"an id that is no integer":                   {"id": 1.5},
		"a head repository whose pushed_at is words": {"head": obj{"label": "octo-org:feature", "ref": "feature", "sha": sha3, "repo": with(testRepo, obj{"pushed_at": "yesterday"})}},
	}
	for name, over := range prs {
		t.Run("pull request with "+name, func(t *testing.T) {
			t.Parallel()
			evs, err := Parse("pull_request", "d-1", encode(t, pullRequestBody("opened", over, nil)))
			require.NoError(t, err)
			require.Len(t, evs, 1)
			assert.Equal(t, wantPR, evs[0])
		})
	}
	t.Run("a ping whose hook's created_at is words", func(t *testing.T) {
		t.Parallel()
		body := encode(t, obj{"zen": "Keep it simple.", "hook_id": 1, "hook": obj{"id": 1, "created_at": "yesterday", "active": "yes"}, "repository": testRepo, "sender": testSender})
		evs, err := Parse("ping", "d-1", body)
		require.NoError(t, err)
		assert.Len(t, evs, 1)
	})
	t.Run("a create whose repository's pushed_at is words", func(t *testing.T) {
		t.Parallel()
		body := encode(t, obj{"ref": "v1", "ref_type": "tag", "master_branch": "main", "description": nil, "pusher_type": "user",
			"repository": with(testRepo, obj{"pushed_at": "yesterday", "size": "1"}), "sender": testSender})
		evs, err := Parse("create", "d-1", body)
		require.NoError(t, err)
		assert.Len(t, evs, 1)
	})
}
