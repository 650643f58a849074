package github

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

// Commit ids of the small payloads the table tests build.
const (
	sha1 = "1111111111111111111111111111111111111111"
	sha2 = "2222222222222222222222222222222222222222"
	sha3 = "3333333333333333333333333333333333333333"
)

// obj is a JSON object a test builds a payload from.
type obj = map[string]any

// with returns a copy of base with the keys of over set; a nil value deletes the key.
func with(base obj, over obj) obj {
	out := maps.Clone(base)
	for k, v := range over {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

func encode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

var testRepo = obj{
	"full_name":      "octo-org/app",
	"clone_url":      "https://github.com/octo-org/app.git",
	"default_branch": "main",
}

var testSender = obj{"login": "mona"}

// pushCommit is one entry of a push payload's commits, shaped as GitHub sends it.
func pushCommit(id, message string, added, modified, removed []string) obj {
	return obj{
		"id":        id,
		"tree_id":   strings.Repeat("f", 40),
		"distinct":  true,
		"message":   message,
		"timestamp": "2024-05-01T10:00:00+02:00",
		"url":       "https://github.com/octo-org/app/commit/" + id,
		"author":    obj{"name": "Mona Lisa", "email": "mona@example.com", "username": "mona"},
		"committer": obj{"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
		"added":     orEmpty(added),
		"modified":  orEmpty(modified),
		"removed":   orEmpty(removed),
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// pushBody is a plain push of two commits onto main, over which each case changes keys.
func pushBody(over obj) obj {
	c2 := pushCommit(sha2, "Add the parser", []string{"pkg/a.go"}, []string{"README.md"}, nil)
	c3 := pushCommit(sha3, "Fix the parser\n\nIt panicked.", nil, []string{"pkg/a.go"}, []string{"old.txt"})
	return with(obj{
		"ref":         "refs/heads/main",
		"before":      sha1,
		"after":       sha3,
		"created":     false,
		"deleted":     false,
		"forced":      false,
		"base_ref":    nil,
		"compare":     "https://github.com/octo-org/app/compare/111111111111...333333333333",
		"commits":     []any{c2, c3},
		"head_commit": c3,
		"repository":  with(testRepo, obj{"created_at": 1714550400, "pushed_at": 1714557600}),
		"pusher":      obj{"name": "mona", "email": "mona@example.com"},
		"sender":      testSender,
	}, over)
}

// manyCommits returns n commits, each adding one file, the last with id last.
func manyCommits(n int, last string) []any {
	out := make([]any, n)
	for i := range n {
		id := fmt.Sprintf("%040x", i+1)
		if i == n-1 {
			id = last
		}
		out[i] = pushCommit(id, "commit", []string{fmt.Sprintf("f/%d.txt", i)}, nil, nil)
	}
	return out
}

// pullRequestBody is a pull request from feature into main, over which each case changes
// keys of the delivery (top) or of its pull_request object (pr).
func pullRequestBody(action string, pr obj, top obj) obj {
	p := with(obj{
		"number":   7,
		"state":    "open",
		"title":    "Parse GitHub deliveries",
		"draft":    false,
		"merged":   false,
		"user":     testSender,
		"head":     obj{"label": "octo-org:feature", "ref": "feature", "sha": sha3, "repo": testRepo},
		"base":     obj{"label": "octo-org:main", "ref": "main", "sha": sha1, "repo": testRepo},
		"html_url": "https://github.com/octo-org/app/pull/7",
	}, pr)
	return with(obj{
		"action":       action,
		"number":       7,
		"pull_request": p,
		"repository":   testRepo,
		"sender":       testSender,
	}, top)
}

// one parses a delivery that must yield exactly one event.
func one(t *testing.T, event string, body []byte) scm.Event {
	t.Helper()
	evs, err := Parse(event, "d-1", body)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, scm.GitHub, evs[0].Provider)
	require.Equal(t, "d-1", evs[0].Delivery)
	return evs[0]
}
