package approval

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// FuzzParse throws methods, paths, queries and forms at the request parser, seeded from the
// sample events: it never panics, refuses with the documented statuses only, and what it
// accepts names a valid run and task, a known decision for a POST, and a comment within
// bounds.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../events/callback/*.json")
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var in events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &in); err != nil {
			f.Fatal(err)
		}
		f.Add(in.RequestContext.HTTP.Method, in.RawPath, in.PathParameters["run"], in.PathParameters["task"], in.RawQueryString,
			in.Headers["content-type"], in.Body, in.IsBase64Encoded)
	}
	f.Add("GET", "/approvals/api-7/Release.Approve.1", "", "", "key=abc&decision=approve", "", "", false)
	f.Add("POST", "/approvals/api-7/Release.Approve.1", "api-7", "Release.Approve.1", "", "application/x-www-form-urlencoded",
		"key=abc&decision=reject&comment=%FF%FE", false)
	f.Add("POST", "/a/approvals/x/y.z.1", "", "", "", "application/x-www-form-urlencoded; charset=utf-8", "a2V5PWFiYw==", true)
	f.Add("PUT", "//approvals//", "", "", "%zz", "text/plain", "%", false)
	allowed := map[int]bool{400: true, 404: true, 405: true, 413: true, 415: true}
	f.Fuzz(func(t *testing.T, method, rawPath, run, task, rawQuery, contentType, body string, b64 bool) {
		in := events.APIGatewayV2HTTPRequest{RawPath: rawPath, RawQueryString: rawQuery, Body: body, IsBase64Encoded: b64,
			Headers: map[string]string{"content-type": contentType}}
		if run != "" || task != "" {
			in.PathParameters = map[string]string{"run": run, "task": task}
		}
		in.RequestContext.HTTP.Method = method
		c, err := parse(in)
		if err != nil {
			p := asProblem(err)
			if p == nil || !allowed[p.status] {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		if !ValidRun(c.run) || !ValidTask(c.task) {
			t.Fatalf("accepted run %q task %q", c.run, c.task)
		}
		switch c.method {
		case http.MethodGet:
			if c.comment != "" || (c.decision != "" && c.decision != decisionApprove && c.decision != decisionReject) {
				t.Fatalf("a GET carries decision %q comment %q", c.decision, c.comment)
			}
		case http.MethodPost:
			if c.decision != decisionApprove && c.decision != decisionReject {
				t.Fatalf("a POST decides %q", c.decision)
			}
			if !utf8.ValidString(c.comment) || utf8.RuneCountInString(c.comment) > MaxComment || c.comment != strings.TrimSpace(c.comment) {
				t.Fatalf("comment %q", c.comment)
			}
		default:
			t.Fatalf("accepted method %q", c.method)
		}
	})
}

// FuzzHandle drives the whole handler over fakes with one open approval: whatever arrives, it
// answers a page with a documented status, and the token is answered only by a POST carrying
// the right key.
func FuzzHandle(f *testing.F) {
	f.Add("GET", testTask, "key="+testKey, "")
	f.Add("POST", testTask, "", "key="+testKey+"&decision=approve&comment=%3Cb%3E")
	f.Add("POST", testTask, "", "key=x&decision=reject")
	f.Add("POST", "Release.Approve.2", "", "key="+testKey+"&decision=approve")
	allowed := map[int]bool{200: true, 400: true, 404: true, 405: true, 410: true, 413: true, 415: true}
	f.Fuzz(func(t *testing.T, method, task, rawQuery, body string) {
		r := newRig(t)
		in := apiRequest(method, testRun, task)
		in.RawQueryString = rawQuery
		in.Headers["content-type"] = "application/x-www-form-urlencoded"
		in.Body = body
		res, err := r.h.HandleAPIGateway(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if !allowed[res.StatusCode] || res.Headers["Content-Type"] != "text/html; charset=utf-8" {
			t.Fatalf("status %d, headers %v", res.StatusCode, res.Headers)
		}
		if r.sfn.calls() > 0 {
			c, err := parse(in)
			if err != nil || c.method != http.MethodPost || c.key != r.req.Key || c.task != testTask {
				t.Fatalf("the token was answered for %+v (%v)", c, err)
			}
		}
	})
}

// FuzzParseRejection reads any cause: a Rejection's own cause reads back as it was written,
// and a cause that names nobody (the page's plain comment, an empty JSON object) is not one.
func FuzzParseRejection(f *testing.F) {
	f.Add("arn:aws:iam::123456789012:user/ana", "not on a Friday", "rejected on the approval page")
	f.Add("", "", `{"by":"","comment":"x"}`)
	f.Add("ana", "<script>", `{"by":"bo"}`)
	f.Fuzz(func(t *testing.T, by, comment, cause string) {
		if r, ok := ParseRejection(cause); ok && r.By == "" {
			t.Fatalf("%q read as a rejection by nobody", cause)
		}
		written := Rejection{By: by, Comment: comment}
		r, ok := ParseRejection(written.Cause())
		if ok != (by != "") {
			t.Fatalf("a rejection by %q reads back: %v", by, ok)
		}
		if ok && r != written && utf8.ValidString(by) && utf8.ValidString(comment) {
			t.Fatalf("read back %+v, wrote %+v", r, written)
		}
	})
}
