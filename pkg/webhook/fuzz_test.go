package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stepline/stepline/pkg/scm"
)

// FuzzHandle throws signed and unsigned bodies of every provider at the handler: it never
// panics, answers only the documented statuses, and publishes only what carries a valid
// signature.
func FuzzHandle(f *testing.F) {
	files, _ := filepath.Glob("../../events/webhook/*.json")
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var req events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			f.Fatal(err)
		}
		event := req.Headers["x-github-event"] + req.Headers["x-event-key"]
		f.Add(req.PathParameters["provider"], event, []byte(req.Body), true)
	}
	f.Add("github", "push", []byte(`{}`), true)
	f.Add("bitbucket", "repo:push", []byte(`{"push":{"changes":[{}]}}`), false)
	allowed := map[int]bool{200: true, 202: true, 400: true, 401: true, 404: true, 413: true}
	f.Fuzz(func(t *testing.T, provider, event string, body []byte, sign bool) {
		pub := &capture{}
		h := New(StaticSecrets{testHook: {WebhookSecrets: []string{testSecret}}}, pub, WithMaxBody(1<<20))
		hd := http.Header{}
		if hs, ok := scm.HeadersOf(provider); ok {
			hd.Set(hs.Event, event)
			hd.Set(hs.Delivery, "fuzz")
			if sign {
				hd.Set(hs.Signature, scm.Sign([]byte(testSecret), body))
			}
		}
		res := h.Handle(context.Background(), Request{Provider: provider, Hook: testHook, Header: hd, Body: body})
		if !allowed[res.Status] {
			t.Fatalf("status %d (%s)", res.Status, res.Body.Message)
		}
		if !sign && res.Status != 404 && res.Status != 413 && res.Status != 401 {
			t.Fatalf("an unsigned delivery got %d", res.Status)
		}
		if res.Status != 202 && len(pub.events) > 0 {
			t.Fatal("published without accepting")
		}
	})
}
