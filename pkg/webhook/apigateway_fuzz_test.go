package webhook

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stepline/stepline/pkg/scm"
)

// FuzzHandleAPIGateway sends any body through the API Gateway adapter, base64-encoded as API
// Gateway does for binary content types (and sometimes corrupted), seeded with the sample
// requests in events/webhook: it never returns an error (API Gateway would answer 500 and the
// provider retry), answers only the documented statuses, and a well-encoded body gets the
// answer its decoded bytes get from the handler itself.
func FuzzHandleAPIGateway(f *testing.F) {
	files, _ := filepath.Glob("../../events/webhook/*.json")
	samples := map[string]events.APIGatewayV2HTTPRequest{}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var req events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			f.Fatal(err)
		}
		name := filepath.Base(file)
		samples[name] = req
		f.Add(name, []byte(req.Body), true, "")
		f.Add(name, []byte(req.Body), true, "!")
	}
	f.Add("github-push.json", []byte(`{}`), false, "==")
	allowed := map[int]bool{200: true, 202: true, 400: true, 401: true, 404: true, 413: true}
	f.Fuzz(func(t *testing.T, sample string, body []byte, sign bool, garble string) {
		req, ok := samples[sample]
		if !ok {
			return
		}
		req.Headers = maps.Clone(req.Headers)
		if hs, ok := scm.HeadersOf(req.PathParameters["provider"]); ok {
			for k := range req.Headers {
				if strings.EqualFold(k, hs.Signature) {
					delete(req.Headers, k)
				}
			}
			if sign {
				req.Headers[hs.Signature] = scm.Sign([]byte(testSecret), body)
			}
		}
		req.PathParameters = map[string]string{"provider": req.PathParameters["provider"], "hook": testHook}
		req.IsBase64Encoded = true
		req.Body = base64.StdEncoding.EncodeToString(body) + garble
		h := New(StaticSecrets{testHook: {WebhookSecrets: []string{testSecret}}}, &capture{}, WithMaxBody(1<<20))
		res, err := h.HandleAPIGateway(context.Background(), req)
		if err != nil {
			t.Fatalf("the adapter returned an error: %v", err)
		}
		if !allowed[res.StatusCode] {
			t.Fatalf("status %d: %s", res.StatusCode, res.Body)
		}
		// The garble may itself be base64 ("0000"): the handler then sees other bytes than body.
		decoded, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return
		}
		hd := http.Header{}
		for k, v := range req.Headers {
			hd.Set(k, v)
		}
		direct := h.Handle(context.Background(), Request{Method: req.RequestContext.HTTP.Method, Provider: req.PathParameters["provider"],
			Hook: testHook, Header: hd, Body: decoded})
		if direct.Status != res.StatusCode {
			t.Fatalf("base64 body answered %d, the same bytes %d", res.StatusCode, direct.Status)
		}
	})
}
