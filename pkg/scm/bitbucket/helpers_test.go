package bitbucket

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

// Builders of small payloads in Bitbucket Cloud's shape, for the table tests. The fixtures in
// testdata/extra carry the full shape; these carry what a rule needs.

type obj = map[string]any

const (
	sha1 = "1111111111111111111111111111111111111111"
	sha2 = "2222222222222222222222222222222222222222"
	sha3 = "3333333333333333333333333333333333333333"
)

var (
	ana      = obj{"nickname": "aruiz", "display_name": "Ana Ruiz", "account_id": "557058:ana", "type": "user"}
	widgets  = obj{"full_name": "acme/widgets", "type": "repository", "links": obj{"html": obj{"href": "https://bitbucket.org/acme/widgets"}}}
	widgetsR = scm.Repository{FullName: "acme/widgets", CloneURL: "https://bitbucket.org/acme/widgets.git"}
)

// with returns a copy of o with the given keys set.
func with(o obj, kv ...any) obj {
	out := maps.Clone(o)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func side(typ, name, hash string) obj {
	return obj{"type": typ, "name": name, "target": obj{"type": "commit", "hash": hash}}
}

// change builds one push.changes entry; a nil side is sent as null.
func change(old, new obj, kv ...any) obj {
	c := obj{"old": old, "new": new, "created": old == nil, "closed": new == nil, "forced": false, "truncated": false}
	if old == nil {
		c["old"] = nil
	}
	if new == nil {
		c["new"] = nil
	}
	return with(c, kv...)
}

func commitJSON(hash, msg string, author obj) obj {
	return obj{"hash": hash, "type": "commit", "message": msg, "author": author}
}

func pushBody(t *testing.T, kv []any, changes ...obj) []byte {
	t.Helper()
	list := make([]any, len(changes))
	for i, c := range changes {
		list[i] = c
	}
	return mustJSON(t, with(obj{"actor": ana, "repository": widgets, "push": obj{"changes": list}}, kv...))
}

func prObject(kv ...any) obj {
	return with(obj{
		"id": 7, "title": "Stream the export", "type": "pullrequest", "state": "OPEN",
		"source":      obj{"branch": obj{"name": "feature/x"}, "commit": obj{"hash": "9e8d7c6b5a43"}, "repository": widgets},
		"destination": obj{"branch": obj{"name": "main"}, "commit": obj{"hash": "c3b1e5d7f9a2"}, "repository": widgets},
	}, kv...)
}

func prBody(t *testing.T, pr obj, kv ...any) []byte {
	t.Helper()
	return mustJSON(t, with(obj{"actor": ana, "repository": widgets, "pullrequest": pr}, kv...))
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
