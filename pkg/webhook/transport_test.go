package webhook

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServeHTTPAnswersTheSameAsTheLambda(t *testing.T) {
	t.Parallel()
	push, _ := sampleBody(t, "github-push.json")
	pub := &capture{}
	h := New(StaticSecrets{testHook: {Provider: "github", WebhookSecrets: []string{testSecret}}}, pub, WithMaxBody(len(push)))
	srv := httptest.NewServer(h.Mux())
	defer srv.Close()

	post := func(path string, body []byte, hd http.Header) (int, Answer) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
		for k, v := range hd {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		var a Answer
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
		return resp.StatusCode, a
	}
	status, a := post("/webhooks/github/"+testHook, push, signed("github", "push", "d-1", push, testSecret))
	assert.Equal(t, http.StatusAccepted, status, a.Message)
	assert.Len(t, pub.events, 1)

	big := append(append([]byte(nil), push...), bytes.Repeat([]byte(" "), 10_000)...)
	status, a = post("/webhooks/github/"+testHook, big, signed("github", "push", "d-2", big, testSecret))
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Contains(t, a.Message, fmt.Sprintf("the body is %d bytes", len(push)+1), "the body is read up to the cap plus one byte, never whole")

	resp, err := http.Get(srv.URL + "/webhooks/github/" + testHook)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestTheLambdaDecodesBase64BodiesAndRefusesHugeOnesBeforeDecoding(t *testing.T) {
	t.Parallel()
	push, _ := sampleBody(t, "github-push.json")
	pub := &capture{}
	h := New(StaticSecrets{testHook: {Provider: "github", WebhookSecrets: []string{testSecret}}}, pub, WithMaxBody(len(push)))
	headers := map[string]string{}
	for k, v := range signed("github", "push", "d-1", push, testSecret) {
		headers[k] = v[0]
	}
	req := events.APIGatewayV2HTTPRequest{
		PathParameters:  map[string]string{"provider": "github", "hook": testHook},
		Headers:         headers,
		Body:            base64.StdEncoding.EncodeToString(push),
		IsBase64Encoded: true,
	}
	req.RequestContext.HTTP.Method = "POST"
	res, err := h.HandleAPIGateway(t.Context(), req)
	require.NoError(t, err)
	assert.Equal(t, http.StatusAccepted, res.StatusCode, res.Body)

	req.Body = base64.StdEncoding.EncodeToString(append(push, bytes.Repeat([]byte(" "), 10)...))
	res, _ = h.HandleAPIGateway(t.Context(), req)
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	assert.Contains(t, res.Body, "the encoded body is over the size limit", "refused before decoding")
}
