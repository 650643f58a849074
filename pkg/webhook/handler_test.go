package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
)

const (
	testHook   = "hook-0123456789abcdef"
	testSecret = "s3cr3t-value-never-logged"
)

// capture is a Publisher keeping what it is given; err makes it fail.
type capture struct {
	events []Accepted
	err    error
}

func (c *capture) Publish(_ context.Context, evs []Accepted) error {
	if c.err != nil {
		return c.err
	}
	c.events = append(c.events, evs...)
	return nil
}

// countingSecrets counts lookups and can fail.
type countingSecrets struct {
	StaticSecrets
	calls int
	err   error
}

func (c *countingSecrets) Get(ctx context.Context, hook string) (reposecret.Secret, error) {
	c.calls++
	if c.err != nil {
		return reposecret.Secret{}, c.err
	}
	return c.StaticSecrets.Get(ctx, hook)
}

// sampleBody reads the body and event name of a sample event in events/webhook.
func sampleBody(t *testing.T, name string) (body []byte, event string) {
	t.Helper()
	raw, err := os.ReadFile("../../events/webhook/" + name)
	require.NoError(t, err)
	var req events.APIGatewayV2HTTPRequest
	require.NoError(t, json.Unmarshal(raw, &req))
	for k, v := range req.Headers {
		if k == "x-github-event" || k == "x-event-key" {
			event = v
		}
	}
	return []byte(req.Body), event
}

func signed(provider, event, delivery string, body []byte, secret string) http.Header {
	h, _ := scm.HeadersOf(provider)
	hd := http.Header{}
	hd.Set(h.Event, event)
	hd.Set(h.Delivery, delivery)
	hd.Set(h.Signature, scm.Sign([]byte(secret), body))
	return hd
}

func TestHandle(t *testing.T) {
	t.Parallel()
	push, _ := sampleBody(t, "github-push.json")
	ping, _ := sampleBody(t, "github-ping.json")
	bbPush, _ := sampleBody(t, "bitbucket-repo-push.json")
	var pushRepo struct {
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	require.NoError(t, json.Unmarshal(push, &pushRepo))
	gh := reposecret.Secret{Provider: scm.GitHub, Repository: pushRepo.Repository.FullName, WebhookSecrets: []string{"old", testSecret}}
	// The sample push, signed, with its branch or commit made one git refuses: the body is
	// genuine, so the answer is a 400 (never retried), not a 500.
	var fields map[string]any
	require.NoError(t, json.Unmarshal(push, &fields))
	hostile := func(key, value string) []byte {
		fields := maps.Clone(fields)
		fields[key] = value
		b, err := json.Marshal(fields)
		require.NoError(t, err)
		return b
	}
	dotdot, upload, revision := hostile("ref", "refs/heads/envs/../../../etc"), hostile("ref", "refs/heads/--upload-pack=x"), hostile("after", "HEAD~1")

	cases := []struct {
		name      string
		req       Request
		secret    reposecret.Secret
		secretErr error
		pubErr    error
		allowed   Allowed
		status    int
		published int
		lookups   int
		message   string
	}{
		{name: "a signed push is accepted and published",
			req:    Request{Provider: "github", Hook: testHook, Body: push, Header: signed("github", "push", "d-1", push, testSecret)},
			secret: gh, status: 202, published: 1, lookups: 1, message: "accepted 1 event"},
		{name: "a push signed with the old secret of a rotation is accepted",
			req:    Request{Provider: "github", Hook: testHook, Body: push, Header: signed("github", "push", "d-1", push, "old")},
			secret: gh, status: 202, published: 1, lookups: 1},
		{name: "a wrong signature is refused and nothing is published",
			req:    Request{Provider: "github", Hook: testHook, Body: push, Header: signed("github", "push", "d-1", push, "guess")},
			secret: gh, status: 401, lookups: 1, message: "does not match"},
		{name: "a missing signature is refused",
			req:    Request{Provider: "github", Hook: testHook, Body: push, Header: http.Header{"X-Github-Event": {"push"}}},
			secret: gh, status: 401, lookups: 1, message: "not signed"},
		{name: "a body over the cap is refused before the secret is looked up",
			req:    Request{Provider: "github", Hook: testHook, Body: bytes.Repeat([]byte("x"), DefaultMaxBody+1)},
			secret: gh, status: 413, lookups: 0},
		{name: "an unknown provider is not found",
			req:    Request{Provider: "gitlab", Hook: testHook, Body: push},
			secret: gh, status: 404, lookups: 0},
		{name: "an unknown hook is not found",
			req:    Request{Provider: "github", Hook: "hook-somebody-elses-xx", Body: push, Header: signed("github", "push", "d-1", push, testSecret)},
			secret: gh, status: 404, lookups: 1, message: "unknown webhook"},
		{name: "a hook registered for another provider is not found",
			req:    Request{Provider: "bitbucket", Hook: testHook, Body: bbPush, Header: signed("bitbucket", "repo:push", "d-1", bbPush, testSecret)},
			secret: gh, status: 404, lookups: 1},
		{name: "a ping is answered 200 and publishes nothing",
			req:    Request{Provider: "github", Hook: testHook, Body: ping, Header: signed("github", "ping", "d-2", ping, testSecret)},
			secret: reposecret.Secret{Provider: "github", Repository: "any/any", WebhookSecrets: []string{testSecret}}, status: 200, lookups: 1, message: "pong"},
		{name: "an event stepline does not use is acknowledged with the reason",
			req:    Request{Provider: "github", Hook: testHook, Body: []byte(`{"action":"created"}`), Header: signed("github", "star", "d-3", []byte(`{"action":"created"}`), testSecret)},
			secret: gh, status: 200, lookups: 1, message: "ignored"},
		{name: "a signed but malformed body is a bad request",
			req:    Request{Provider: "github", Hook: testHook, Body: []byte(`{"ref": 7`), Header: signed("github", "push", "d-4", []byte(`{"ref": 7`), testSecret)},
			secret: gh, status: 400, lookups: 1},
		{name: "a signed push to a branch git forbids is a bad request and publishes nothing",
			req:    Request{Provider: "github", Hook: testHook, Body: dotdot, Header: signed("github", "push", "d-12", dotdot, testSecret)},
			secret: gh, status: 400, lookups: 1, message: `ref "refs/heads/envs/../../../etc" is not a valid git ref name: it contains ".."`},
		{name: "a signed push to a branch that reads as a git option is a bad request",
			req:    Request{Provider: "github", Hook: testHook, Body: upload, Header: signed("github", "push", "d-13", upload, testSecret)},
			secret: gh, status: 400, lookups: 1, message: `"--upload-pack=x"`},
		{name: "a signed push whose after is no commit id is a bad request",
			req:    Request{Provider: "github", Hook: testHook, Body: revision, Header: signed("github", "push", "d-14", revision, testSecret)},
			secret: gh, status: 400, lookups: 1, message: `commit "HEAD~1" is not a full commit id`},
		{name: "a delivery without its event header is a bad request",
			req:    Request{Provider: "github", Hook: testHook, Body: push, Header: http.Header{"X-Hub-Signature-256": {scm.Sign([]byte(testSecret), push)}, "X-Github-Delivery": {"d"}}},
			secret: gh, status: 400, lookups: 1, message: "X-GitHub-Event"},
		{name: "a delivery for another repository is refused",
			req:    Request{Provider: "github", Hook: testHook, Body: push, Header: signed("github", "push", "d-5", push, testSecret)},
			secret: reposecret.Secret{Provider: "github", Repository: "someone/else", WebhookSecrets: []string{testSecret}}, status: 400, lookups: 1, message: "registered for someone/else"},
		{name: "a failing secret store asks the provider to retry",
			req:       Request{Provider: "github", Hook: testHook, Body: push, Header: signed("github", "push", "d-6", push, testSecret)},
			secretErr: errors.New("ThrottlingException"), status: 500, lookups: 1},
		{name: "a failing publisher asks the provider to retry",
			req:    Request{Provider: "github", Hook: testHook, Body: push, Header: signed("github", "push", "d-7", push, testSecret)},
			secret: gh, pubErr: errors.New("EventBridge unavailable"), status: 500, lookups: 1},
		{name: "a push from an allowed repository is accepted",
			req:     Request{Provider: "github", Hook: testHook, Body: push, Header: signed("github", "push", "d-8", push, testSecret)},
			allowed: Allowed{"bitbucket:*/*", "github:" + pushRepo.Repository.FullName}, secret: gh, status: 202, published: 1, lookups: 1},
		{name: "a push from a repository the stack does not allow is forbidden and publishes nothing",
			req:     Request{Provider: "github", Hook: testHook, Body: push, Header: signed("github", "push", "d-9", push, testSecret)},
			allowed: Allowed{"github:other-org/*"}, secret: gh, status: 403, lookups: 1, message: "not among this stepline's allowed repositories"},
		{name: "an unregistered repository on an open hook is checked against the list by the event's name",
			req:     Request{Provider: "github", Hook: testHook, Body: push, Header: signed("github", "push", "d-10", push, testSecret)},
			allowed: Allowed{"github:other-org/*"}, secret: reposecret.Secret{WebhookSecrets: []string{testSecret}}, status: 403, lookups: 1},
		{name: "a wrong signature is refused before the list is consulted",
			req:     Request{Provider: "github", Hook: testHook, Body: push, Header: signed("github", "push", "d-11", push, "guess")},
			allowed: Allowed{"github:other-org/*"}, secret: gh, status: 401, lookups: 1},
		{name: "a GET is not allowed",
			req:    Request{Method: "GET", Provider: "github", Hook: testHook},
			secret: gh, status: 405},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			secrets := &countingSecrets{StaticSecrets: StaticSecrets{testHook: c.secret}, err: c.secretErr}
			pub := &capture{err: c.pubErr}
			var logs bytes.Buffer
			h := New(secrets, pub, WithAllowed(c.allowed), WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
			res := h.Handle(context.Background(), c.req)
			assert.Equal(t, c.status, res.Status, res.Body.Message)
			assert.Len(t, pub.events, c.published)
			assert.Equal(t, c.lookups, secrets.calls)
			if c.message != "" {
				assert.Contains(t, res.Body.Message, c.message)
			}
			assert.NotContains(t, res.Body.Message, "\n")
			for _, secret := range []string{testSecret, "old"} {
				assert.NotContains(t, res.Body.Message, secret)
			}
			assert.NotContains(t, logs.String(), testSecret, "no secret in the logs")
			assert.NotContains(t, logs.String(), testHook, "logs keep only a prefix of the hook id")
		})
	}
}

func TestAnAcceptedPushCarriesItsKeyAndDeliveryId(t *testing.T) {
	t.Parallel()
	push, _ := sampleBody(t, "github-push.json")
	pub := &capture{}
	h := New(StaticSecrets{testHook: {Provider: "github", WebhookSecrets: []string{testSecret}}}, pub)
	res := h.Handle(context.Background(), Request{Provider: "github", Hook: testHook, Body: push, Header: signed("github", "push", "abc-123", push, testSecret)})
	require.Equal(t, 202, res.Status)
	assert.Equal(t, "abc-123", res.Body.Delivery)
	key := scm.Key("github", push, 0, 1)
	assert.Equal(t, []string{key}, res.Body.Keys)
	assert.Equal(t, key, pub.events[0].Key)
	assert.Equal(t, "abc-123", pub.events[0].Event.Delivery)
	assert.Equal(t, testHook, pub.events[0].Hook, "the trigger step finds the repository's token by it")
}

func TestAReplayUnderANewDeliveryIdKeepsItsKey(t *testing.T) {
	t.Parallel()
	push, _ := sampleBody(t, "github-push.json")
	pub := &capture{}
	h := New(StaticSecrets{testHook: {Provider: "github", WebhookSecrets: []string{testSecret}}}, pub)
	first := h.Handle(context.Background(), Request{Provider: "github", Hook: testHook, Body: push, Header: signed("github", "push", "orig", push, testSecret)})
	replay := h.Handle(context.Background(), Request{Provider: "github", Hook: testHook, Body: push, Header: signed("github", "push", "replay-1", push, testSecret)})
	require.Equal(t, 202, first.Status)
	require.Equal(t, 202, replay.Status)
	assert.Equal(t, first.Body.Keys, replay.Body.Keys, "the signed body, not the unsigned delivery header, makes the key")
	assert.Regexp(t, `^github-[0-9a-f]{40}$`, first.Body.Keys[0], "a key is a valid Step Functions execution name")
}

func TestADeliveryIdThatIsNotOneIsRefused(t *testing.T) {
	t.Parallel()
	push, _ := sampleBody(t, "github-push.json")
	pub := &capture{}
	h := New(StaticSecrets{testHook: {Provider: "github", WebhookSecrets: []string{testSecret}}}, pub)
	for _, id := range []string{"a:b/../../c", "x y", strings.Repeat("a", 129), "new\nline"} {
		res := h.Handle(context.Background(), Request{Provider: "github", Hook: testHook, Body: push, Header: signed("github", "push", id, push, testSecret)})
		assert.Equal(t, 400, res.Status, id)
	}
	assert.Empty(t, pub.events)
}

func TestAMultiRefDeliveryGivesEachRefItsOwnKey(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("../scm/bitbucket/testdata/extra/repo-push-three-refs.json")
	require.NoError(t, err)
	pub := &capture{}
	h := New(StaticSecrets{testHook: {Provider: "bitbucket", WebhookSecrets: []string{testSecret}}}, pub)
	res := h.Handle(context.Background(), Request{Provider: "bitbucket", Hook: testHook, Body: body, Header: signed("bitbucket", "repo:push", "uuid-1", body, testSecret)})
	require.Equal(t, 202, res.Status, res.Body.Message)
	require.Len(t, res.Body.Keys, 3)
	seen := map[string]bool{}
	for i, k := range res.Body.Keys {
		assert.Equal(t, scm.Key("bitbucket", body, i, 3), k)
		assert.Regexp(t, `^bitbucket-[0-9a-f]{40}-[123]$`, k)
		seen[k] = true
	}
	assert.Len(t, seen, 3, "the keys differ")
}

func TestHeaderNamesMatchInAnyCase(t *testing.T) {
	t.Parallel()
	push, _ := sampleBody(t, "github-push.json")
	pub := &capture{}
	h := New(StaticSecrets{testHook: {Provider: "github", WebhookSecrets: []string{testSecret}}}, pub)
	hd := http.Header{}
	for k, v := range signed("github", "push", "d", push, testSecret) {
		hd[strings.ToLower(k)] = v // as API Gateway passes them, not canonicalised
	}
	res := h.Handle(context.Background(), Request{Provider: "github", Hook: testHook, Body: push, Header: hd})
	assert.Equal(t, 202, res.Status, res.Body.Message)
}

// TestDataCenter10DeliveriesAreNeverRefused: Data Center does not retry a delivery it was
// refused, so a field stepline does not read (10.x's ISO-8601 pull request dates) must not
// cost a build, and a push that changes nothing is answered as ignored, not as an error.
func TestDataCenter10DeliveriesAreNeverRefused(t *testing.T) {
	t.Parallel()
	const provider = "bitbucket-server"
	cases := []struct {
		file, event string
		status      int
		ignored     bool
	}{
		{"dc10-pr-opened.json", "pr:opened", 202, false},
		{"dc10-pr-merged.json", "pr:merged", 202, false},
		{"dc10-repo-refs-changed-skip-ci.json", "repo:refs_changed", 202, false},
		{"dc10-repo-refs-changed-no-changes.json", "repo:refs_changed", 200, true},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile("../scm/bitbucketserver/testdata/extra/" + c.file)
			require.NoError(t, err)
			pub := &capture{}
			h := New(StaticSecrets{testHook: {Provider: provider, WebhookSecrets: []string{testSecret}}}, pub)
			res := h.Handle(context.Background(), Request{Provider: provider, Hook: testHook, Body: body,
				Header: signed(provider, c.event, "0f8b2c1e-3d4a-4b5c-9e6f-7a8b9c0d1e2f", body, testSecret)})
			require.Equal(t, c.status, res.Status, res.Body.Message)
			assert.Equal(t, c.ignored, res.Body.Ignored != "", res.Body.Message)
			assert.Len(t, pub.events, map[bool]int{true: 0, false: 1}[c.ignored])
		})
	}
}
