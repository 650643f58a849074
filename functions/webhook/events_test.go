package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/scmtest"
	"github.com/stepline/stepline/pkg/webhook"
)

var update = flag.Bool("update", false, "regenerate events/webhook from the real payloads")

// The documented test secret and hook id of the sample events (events/README.md).
const (
	sampleSecret = "stepline-sample-secret"
	sampleHook   = "sample-hook-0123456789"
)

// sample is one sample event: a real payload body from a provider's published examples,
// wrapped in the API Gateway request that delivers it.
type sample struct {
	file, provider, event string
	// source returns the body; status is the handler's answer to the sample.
	source func(t *testing.T) []byte
	status int
	// base64 sends the body base64-encoded, as API Gateway does for non-text content types.
	base64 bool
	// badSignature signs with another secret.
	badSignature bool
}

func samples() []sample {
	return []sample{
		{file: "github-push.json", provider: scm.GitHub, event: "push", source: octokit("push", 0), status: 202},
		{file: "github-pull-request-opened.json", provider: scm.GitHub, event: "pull_request", source: octokitAction("pull_request", "opened"), status: 202},
		{file: "github-ping.json", provider: scm.GitHub, event: "ping", source: octokit("ping", 0), status: 200},
		{file: "github-push-bad-signature.json", provider: scm.GitHub, event: "push", source: octokit("push", 0), status: 401, badSignature: true},
		{file: "bitbucket-repo-push.json", provider: scm.Bitbucket, event: "repo:push", source: playground("bitbucket/repo-push.json"), status: 202},
		{file: "bitbucket-pullrequest-created.json", provider: scm.Bitbucket, event: "pullrequest:created", source: file("../../pkg/scm/bitbucket/testdata/extra/pull-request-created-open.json"), status: 202, base64: true},
		{file: "bitbucket-server-repo-refs-changed.json", provider: scm.BitbucketServer, event: "repo:refs_changed", source: playground("bitbucket-server/repo-refs-changed.json"), status: 202},
		{file: "bitbucket-server-pr-opened.json", provider: scm.BitbucketServer, event: "pr:opened", source: playground("bitbucket-server/pr-opened.json"), status: 202},
		{file: "bitbucket-server-diagnostics-ping.json", provider: scm.BitbucketServer, event: "diagnostics:ping", source: file("../../pkg/scm/bitbucketserver/testdata/extra/diagnostics-ping.json"), status: 200},
	}
}

func TestSampleEventsAnswerAsDocumented(t *testing.T) {
	if *update {
		for _, s := range samples() {
			writeSample(t, s)
		}
	}
	files, err := filepath.Glob("../../events/webhook/*.json")
	require.NoError(t, err)
	assert.Len(t, files, len(samples()), "every file in events/webhook is a sample of this test, and every sample has a file")

	for _, s := range samples() {
		t.Run(s.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("../../events/webhook", s.file))
			require.NoError(t, err, "run go test ./functions/webhook -update")
			var req events.APIGatewayV2HTTPRequest
			require.NoError(t, json.Unmarshal(raw, &req))

			// Round trip: the file is exactly what aws-lambda-go decodes and encodes.
			again, err := json.Marshal(req)
			require.NoError(t, err)
			assert.JSONEq(t, string(raw), string(again))

			pub := &capture{}
			h := webhook.New(webhook.StaticSecrets{sampleHook: {WebhookSecrets: []string{sampleSecret}}}, pub)
			res, err := h.HandleAPIGateway(context.Background(), req)
			require.NoError(t, err)
			assert.Equal(t, s.status, res.StatusCode, res.Body)
			if s.status == http.StatusAccepted {
				require.NotEmpty(t, pub.events)
				assert.Equal(t, s.provider, pub.events[0].Event.Provider)
			} else {
				assert.Empty(t, pub.events)
			}
		})
	}
}

func TestMalformedSampleEventsAreRefusedNotPanicked(t *testing.T) {
	raw, err := os.ReadFile("../../events/webhook/github-push.json")
	require.NoError(t, err)
	var req events.APIGatewayV2HTTPRequest
	require.Error(t, json.Unmarshal(raw[:len(raw)/2], &req), "a truncated event does not decode")

	require.NoError(t, json.Unmarshal(raw, &req))
	h := webhook.New(webhook.StaticSecrets{sampleHook: {WebhookSecrets: []string{sampleSecret}}}, &capture{})

	cut := req
	cut.Body = req.Body[:len(req.Body)/2]
	cut.Headers = map[string]string{}
	for k, v := range req.Headers {
		cut.Headers[k] = v
	}
	cut.Headers["x-hub-signature-256"] = scm.Sign([]byte(sampleSecret), []byte(cut.Body))
	res, _ := h.HandleAPIGateway(context.Background(), cut)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, "a signed but truncated body is malformed")
	assert.NotContains(t, res.Body, "\n")

	notB64 := req
	notB64.IsBase64Encoded = true
	notB64.Body = "%%%not base64%%%"
	res, _ = h.HandleAPIGateway(context.Background(), notB64)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)

	noHook := req
	noHook.PathParameters = map[string]string{"provider": "github"}
	res, _ = h.HandleAPIGateway(context.Background(), noHook)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
}

type capture struct{ events []webhook.Accepted }

func (c *capture) Publish(_ context.Context, evs []webhook.Accepted) error {
	c.events = append(c.events, evs...)
	return nil
}

func writeSample(t *testing.T, s sample) {
	t.Helper()
	body := s.source(t)
	h, _ := scm.HeadersOf(s.provider)
	secret := sampleSecret
	if s.badSignature {
		secret = "not-the-secret"
	}
	// API Gateway lower-cases header names in payload format 2.0.
	headers := map[string]string{
		"content-type":               "application/json",
		"user-agent":                 userAgent(s.provider),
		strings.ToLower(h.Event):     s.event,
		strings.ToLower(h.Delivery):  deliveryID(s.file),
		strings.ToLower(h.Signature): scm.Sign([]byte(secret), body),
	}
	path := "/webhooks/" + s.provider + "/" + sampleHook
	req := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "POST /webhooks/{provider}/{hook}",
		RawPath:        path,
		Headers:        headers,
		PathParameters: map[string]string{"provider": s.provider, "hook": sampleHook},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: "POST /webhooks/{provider}/{hook}", AccountID: "123456789012", Stage: "$default",
			RequestID: "sample-" + strings.TrimSuffix(s.file, ".json"), APIID: "abcdef1234",
			DomainName: "abcdef1234.execute-api.us-east-1.amazonaws.com", DomainPrefix: "abcdef1234",
			Time: "22/Nov/2026:05:00:00 +0000", TimeEpoch: 1795237200000,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: path, Protocol: "HTTP/1.1",
				SourceIP: "192.0.2.10", UserAgent: userAgent(s.provider)},
		},
		Body: string(body),
	}
	if s.base64 {
		req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	out, err := json.MarshalIndent(req, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join("../../events/webhook", s.file), append(out, '\n'), 0o644))
}

func userAgent(provider string) string {
	switch provider {
	case scm.GitHub:
		return "GitHub-Hookshot/044aadd"
	case scm.Bitbucket:
		return "Bitbucket-Webhooks/2.0"
	default:
		return "Atlassian HttpClient 3.0.4 / Bitbucket-8.19.1 (8019001) / Default"
	}
}

func deliveryID(file string) string {
	sum := 0
	for _, c := range file {
		sum = sum*31 + int(c)
	}
	return fmt.Sprintf("72d3162e-cc78-11e3-81ab-%012x", uint64(sum)&0xffffffffffff)
}

// octokit returns the i-th example of event from @octokit/webhooks-examples.
func octokit(event string, i int) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		ex := scmtest.OctokitExamples(t, event)
		require.Greater(t, len(ex), i)
		return ex[i]
	}
}

// octokitAction returns the first example of event with the given action.
func octokitAction(event, action string) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		for _, ex := range scmtest.OctokitExamples(t, event) {
			var a struct{ Action string }
			require.NoError(t, json.Unmarshal(ex, &a))
			if a.Action == action {
				return ex
			}
		}
		t.Fatalf("no %s example with action %s", event, action)
		return nil
	}
}

// playground returns a testdata file of the go-playground/webhooks module.
func playground(name string) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		return file(filepath.Join(scmtest.PlaygroundDir(t), "testdata", name))(t)
	}
}

func file(path string) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		return b
	}
}
