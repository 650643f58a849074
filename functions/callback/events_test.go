package main

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/waitstep"
)

var update = flag.Bool("update", false, "regenerate events/callback")

func samplePath(dir, name string) string { return filepath.Join("..", "..", "events", dir, name) }

// sampleKey stands for the key the wait function drew for the approval of
// events/wait/approval.json (32 random bytes, base64url): the callback samples carry it, and
// the bootstrap test keeps it with that approval's request, so the two sets describe one
// approval.
const sampleKey = "c2FtcGxlLWFwcHJvdmFsLWtleS1ub3QtYS1zZWNyZXQ"

// waitSample is the Wait state's payload of events/wait/approval.json.
func waitSample(t *testing.T) waitstep.Input {
	t.Helper()
	raw, err := os.ReadFile(samplePath("wait", "approval.json"))
	require.NoError(t, err)
	var in waitstep.Input
	require.NoError(t, json.Unmarshal(raw, &in))
	return in
}

// request is an API Gateway HTTP API (payload 2.0) event of the approval routes, as API
// Gateway delivers it on the $default stage.
func request(method, rawQuery, body string, b64 bool, requestID string) events.APIGatewayV2HTTPRequest {
	const path = "/approvals/api-7/Release.Approve.1"
	in := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: method + " /approvals/{run}/{task}", RawPath: path, RawQueryString: rawQuery,
		Headers: map[string]string{
			"accept":            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
			"accept-encoding":   "gzip, deflate, br",
			"accept-language":   "en-GB,en;q=0.9",
			"host":              "abc123.execute-api.us-east-1.amazonaws.com",
			"user-agent":        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
			"x-amzn-trace-id":   "Root=1-6b0fdf3c-0a1b2c3d4e5f60718293a4b5",
			"x-forwarded-for":   "192.0.2.44",
			"x-forwarded-port":  "443",
			"x-forwarded-proto": "https",
		},
		PathParameters: map[string]string{"run": "api-7", "task": "Release.Approve.1"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: method + " /approvals/{run}/{task}", AccountID: "123456789012", Stage: "$default", RequestID: requestID,
			APIID: "abc123", DomainName: "abc123.execute-api.us-east-1.amazonaws.com", DomainPrefix: "abc123",
			Time: "02/Dec/2026:09:05:00 +0000", TimeEpoch: 1796202300000,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, Protocol: "HTTP/1.1",
				SourceIP: "192.0.2.44", UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"},
		},
		Body: body, IsBase64Encoded: b64,
	}
	if rawQuery != "" {
		q, _ := url.ParseQuery(rawQuery)
		in.QueryStringParameters = map[string]string{}
		for k := range q {
			in.QueryStringParameters[k] = q.Get(k)
		}
	}
	if method == "POST" {
		in.Headers["content-type"] = "application/x-www-form-urlencoded"
		in.Headers["origin"] = "https://abc123.execute-api.us-east-1.amazonaws.com"
		in.Headers["content-length"] = "0"
	}
	return in
}

// samples are the callback's sample events and the status each gets, in order, for one
// approval kept as events/wait/approval.json leaves it: the page, an approval, and a
// rejection that comes too late.
type sample struct {
	file   string
	event  events.APIGatewayV2HTTPRequest
	status int
}

func samples(t *testing.T) []sample {
	key := sampleKey
	approve := url.Values{"key": {key}, "decision": {"approve"}, "comment": {"Checked on staging."}}.Encode()
	reject := url.Values{"key": {key}, "decision": {"reject"}, "comment": {""}}.Encode()
	// HTTP APIs hand a form body to Lambda base64-encoded.
	post := func(form, id string) events.APIGatewayV2HTTPRequest {
		in := request("POST", "", base64.StdEncoding.EncodeToString([]byte(form)), true, id)
		in.Headers["content-length"] = itoa(len(form))
		return in
	}
	return []sample{
		{"get.json", request("GET", "key="+key+"&decision=approve", "", false, "sample-approval-get"), 200},
		{"post-approve.json", post(approve, "sample-approval-approve"), 200},
		{"post-reject.json", post(reject, "sample-approval-reject"), 410},
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestTheSampleEventsRoundTrip decodes each sample with aws-lambda-go's type and encodes it
// again unchanged, and checks it carries the sample approval's key; with -update it writes
// them.
func TestTheSampleEventsRoundTrip(t *testing.T) {
	key := sampleKey
	require.True(t, approval.Request{Key: sampleKey}.Admits(key))
	raw, err := base64.RawURLEncoding.DecodeString(key)
	require.NoError(t, err)
	require.Len(t, raw, 32, "the shape of approval.NewKey")
	for _, s := range samples(t) {
		want, err := json.MarshalIndent(s.event, "", "  ")
		require.NoError(t, err)
		if *update {
			require.NoError(t, os.WriteFile(samplePath("callback", s.file), append(want, '\n'), 0o644))
		}
		raw, err := os.ReadFile(samplePath("callback", s.file))
		require.NoError(t, err, "run go test ./functions/callback -run TestTheSampleEventsRoundTrip -update")
		var got events.APIGatewayV2HTTPRequest
		require.NoError(t, json.Unmarshal(raw, &got), s.file)
		again, err := json.Marshal(got)
		require.NoError(t, err)
		assert.JSONEq(t, string(raw), string(again), s.file)
		assert.JSONEq(t, string(want), string(raw), "%s is what samples() describes", s.file)

		switch got.RequestContext.HTTP.Method {
		case "GET":
			assert.Equal(t, key, got.QueryStringParameters["key"], s.file)
		case "POST":
			body, err := base64.StdEncoding.DecodeString(got.Body)
			require.NoError(t, err)
			form, err := url.ParseQuery(string(body))
			require.NoError(t, err)
			assert.Equal(t, key, form.Get("key"), s.file)
		}
	}
}

func TestAMalformedSampleIsRefusedByTheDecoder(t *testing.T) {
	for name, in := range map[string]string{
		"a truncated request":        `{"version":"2.0","rawPath":"/approvals/`,
		"headers that are a list":    `{"version":"2.0","headers":["content-type"]}`,
		"a base64 flag that is text": `{"version":"2.0","isBase64Encoded":"yes"}`,
		"path parameters of numbers": `{"version":"2.0","pathParameters":{"run":7}}`,
	} {
		var got events.APIGatewayV2HTTPRequest
		assert.Error(t, json.Unmarshal([]byte(in), &got), name)
	}
}
