package bitbucket

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

// TestUnreadFieldsNeverRefuseAPush pins the rule that a field stepline does not read is never
// decoded, whatever its type: a provider that changes one must not cost a build.
func TestUnreadFieldsNeverRefuseAPush(t *testing.T) {
	t.Parallel()
	head := commitJSON(sha2, "Fix the export", obj{"raw": "Ana Ruiz <ana@example.com>", "type": "author"})
	want := branchEvent("main", sha1, sha2, func(e *scm.Event) {
		e.Commits = []scm.Commit{{ID: sha2, Message: "Fix the export", Author: "Ana Ruiz"}}
	})
	unread := map[string]obj{
		"a commit date that is no RFC 3339 time": with(head, "date", "yesterday"),
		"a commit date in epoch milliseconds":    with(head, "date", 1772357834000),
		"a commit whose parents are not a list":  with(head, "parents", "none"),
		"a commit whose summary is a string":     with(head, "summary", "Fix the export"),
		"a commit whose links are a list":        with(head, "links", []any{1}),
	}
	for name, c := range unread {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body := pushBody(t, nil, change(side("branch", "main", sha1), side("branch", "main", sha2), "commits", []any{c}))
			got, err := Parse("repo:push", delivery, body)
			require.NoError(t, err)
			assert.Equal(t, []scm.Event{want}, got)
		})
	}
	for name, kv := range map[string][]any{
		"a repository whose is_private is a string": {"repository", with(widgets, "is_private", "false")},
		"a repository whose uuid is a number":       {"repository", with(widgets, "uuid", 42)},
		"a repository whose project is a string":    {"repository", with(widgets, "project", "ACME")},
		"a repository whose website is an object":   {"repository", with(widgets, "website", obj{})},
		"an actor whose uuid is a number":           {"actor", with(ana, "uuid", 42)},
		"an actor whose links are a list":           {"actor", with(ana, "links", []any{})},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body := pushBody(t, kv, change(side("branch", "main", sha1), side("branch", "main", sha2)))
			got, err := Parse("repo:push", delivery, body)
			require.NoError(t, err)
			assert.Equal(t, []scm.Event{branchEvent("main", sha1, sha2)}, got)
		})
	}
	t.Run("a head commit whose date is no time", func(t *testing.T) {
		t.Parallel()
		target := obj{"type": "commit", "hash": sha2, "date": "yesterday", "message": "m", "author": obj{"raw": "Ana <a@x>"}}
		body := pushBody(t, nil, change(nil, obj{"type": "branch", "name": "main", "target": target}))
		got, err := Parse("repo:push", delivery, body)
		require.NoError(t, err)
		assert.Equal(t, []scm.Event{branchEvent("main", "", sha2, func(e *scm.Event) {
			e.Created, e.Commits = true, []scm.Commit{{ID: sha2, Message: "m", Author: "Ana"}}
		})}, got)
	})
	t.Run("a change whose links and truncated flag are of other types", func(t *testing.T) {
		t.Parallel()
		body := pushBody(t, nil, change(side("branch", "main", sha1), with(side("branch", "main", sha2), "links", "x", "default_merge_strategy", 3), "truncated", "no", "links", []any{}))
		got, err := Parse("repo:push", delivery, body)
		require.NoError(t, err)
		assert.Equal(t, []scm.Event{branchEvent("main", sha1, sha2)}, got)
	})
}

func TestUnreadFieldsNeverRefuseAPullRequest(t *testing.T) {
	t.Parallel()
	for name, pr := range map[string]obj{
		"created_on and updated_on that are no RFC 3339 times": prObject("created_on", "2026-03-01 09:37", "updated_on", 1772357834),
		"close_source_branch sent as a string":                 prObject("close_source_branch", "true"),
		"comment_count and task_count sent as strings":         prObject("comment_count", "3", "task_count", "0"),
		"a reason that is an object":                           prObject("reason", obj{}),
		"reviewers and participants that are objects":          prObject("reviewers", obj{}, "participants", obj{"x": 1}),
		"a merge commit that is a string":                      prObject("merge_commit", "abc"),
		"a closed_by that is a string":                         prObject("closed_by", "aruiz"),
		"a summary that is a string":                           prObject("summary", "text"),
		"an author whose uuid is a number":                     prObject("author", with(ana, "uuid", 5)),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse("pullrequest:created", delivery, prBody(t, pr))
			require.NoError(t, err)
			assert.Equal(t, []scm.Event{prEvent(scm.PROpened)}, got)
		})
	}
}
