package approval

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/statemachine"
)

func formBody(key, decision, comment string) string {
	v := url.Values{}
	v.Set("key", key)
	v.Set("decision", decision)
	if comment != "" {
		v.Set("comment", comment)
	}
	return v.Encode()
}

func TestTheLinkShowsTheRequestAndDecidesNothing(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	res := r.serve(t, get(testRun, testTask, "key="+testKey+"&decision=reject"))

	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", res.Headers["Content-Type"])
	assert.Equal(t, "no-store", res.Headers["Cache-Control"])
	assert.Equal(t, "no-referrer", res.Headers["Referrer-Policy"], "the key must not leak to the review URL through a Referer")
	for _, want := range []string{"api", testRun, "Release / Approve", "Ship 4f2c1ab to production?",
		`href="https://github.com/octo/api/compare/v1.4.0...4f2c1ab"`, `method="post"`, `action="./Release.Approve.1"`,
		`name="key" value="` + testKey + `"`, `value="approve"`, `value="reject"`} {
		assert.Contains(t, res.Body, want)
	}
	assert.Regexp(t, `class="reject chosen"[^>]*autofocus`, res.Body, "the link's decision only preselects its button")
	assert.Zero(t, r.sfn.calls(), "a GET (a mail scanner's prefetch) must never decide")
	assert.True(t, r.tokens.has(testRun, testTask))
	assert.Empty(t, r.bus.decided(t))
}

func TestThePageEscapesWhatThePipelineFileSays(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	req := r.req
	req.Action, req.Message, req.URL = "Evil", `<script>alert("x")</script> & "quotes"`, `javascript:alert(1)`
	r.keep(t, req, "token-2")
	res := r.serve(t, get(testRun, req.Task(), "key="+testKey))
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.NotContains(t, res.Body, "<script>alert")
	assert.Contains(t, res.Body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;quotes&#34;")
	assert.NotContains(t, res.Body, `href="javascript:`)
	assert.Contains(t, res.Body, "#ZgotmplZ", "html/template defuses a javascript: URL")
}

func TestApprovingAnswersTheTokenWithAnOutputTheEngineReadsAsSuccess(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	res := r.serve(t, post(testRun, testTask, formBody(testKey, "approve", "  looks good <b>  ")))

	require.Equal(t, http.StatusOK, res.StatusCode, res.Body)
	assert.Contains(t, res.Body, "Approved")
	require.Len(t, r.sfn.successes, 1)
	assert.Empty(t, r.sfn.failures)
	assert.Equal(t, testToken, aws.ToString(r.sfn.successes[0].TaskToken))
	var out Output
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(r.sfn.successes[0].Output)), &out))
	assert.Equal(t, Output{Approved: true, Comment: "looks good <b>", Time: "2026-12-02T09:00:00Z"}, out)
	// functions/advance reads a wait task's output for outputs and variables; an approval
	// has none, and any output is success.
	var shape map[string]any
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(r.sfn.successes[0].Output)), &shape))
	assert.NotContains(t, shape, "outputs")

	assert.False(t, r.tokens.has(testRun, testTask), "the token is forgotten once used")
	assert.True(t, r.tokens.has(testRun, RequestKey(testTask)), "the request stays, so the link answers 410")
	assert.Equal(t, []DecidedDetail{{Pipeline: "api", Run: testRun, Stage: "Release", Action: "Approve", Attempt: 1,
		Decision: Approved, Comment: "looks good <b>", Time: "2026-12-02T09:00:00Z"}}, r.bus.decided(t))
	assert.NotContains(t, res.Body, "<b>")
}

func TestRejectingFailsTheTaskAsActionRejectedWithTheCommentAsCause(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, comment, cause string }{
		{"a comment is the cause", "not on a Friday", "not on a Friday"},
		{"no comment gives a plain cause", "", "rejected on the approval page"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			res := r.serve(t, post(testRun, testTask, formBody(testKey, "reject", c.comment)))
			require.Equal(t, http.StatusOK, res.StatusCode, res.Body)
			assert.Contains(t, res.Body, "Rejected")
			require.Len(t, r.sfn.failures, 1)
			assert.Empty(t, r.sfn.successes)
			f := r.sfn.failures[0]
			assert.Equal(t, testToken, aws.ToString(f.TaskToken))
			assert.Equal(t, statemachine.ErrActionRejected, aws.ToString(f.Error))
			assert.Equal(t, c.cause, aws.ToString(f.Cause))
			assert.False(t, r.tokens.has(testRun, testTask))
			d := r.bus.decided(t)
			require.Len(t, d, 1)
			assert.Equal(t, Rejected, d[0].Decision)
		})
	}
}

func TestARefusedRequestDecidesNothing(t *testing.T) {
	t.Parallel()
	good := testKey
	// off is the key with its last character changed.
	off := good[:len(good)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(good, "A")]
	cases := []struct {
		name   string
		setup  func(t *testing.T, r *rig)
		req    func() (method, run, task, body string)
		status int
	}{
		{"a wrong key on the page is not found", nil, func() (string, string, string, string) {
			return "GET", testRun, testTask, "key=" + NewKey()
		}, http.StatusNotFound},
		{"no key on the page is not found", nil, func() (string, string, string, string) { return "GET", testRun, testTask, "" }, http.StatusNotFound},
		{"a wrong key in the form is not found", nil, func() (string, string, string, string) {
			return "POST", testRun, testTask, formBody(off, "approve", "")
		}, http.StatusNotFound},
		{"an unknown run is not found", nil, func() (string, string, string, string) { return "GET", "api-8", testTask, "key=" + good }, http.StatusNotFound},
		{"an unknown attempt is not found", nil, func() (string, string, string, string) {
			return "POST", testRun, "Release.Approve.2", formBody(good, "approve", "")
		}, http.StatusNotFound},
		{"a task that is no task key is not found", nil, func() (string, string, string, string) {
			return "GET", testRun, "Release", "key=" + good
		}, http.StatusNotFound},
		{"a used link is gone", func(t *testing.T, r *rig) {
			require.Equal(t, http.StatusOK, r.serve(t, post(testRun, testTask, formBody(good, "approve", ""))).StatusCode)
		}, func() (string, string, string, string) {
			return "POST", testRun, testTask, formBody(good, "reject", "")
		}, http.StatusGone},
		{"a link past its deadline is gone even before the expiry ran", func(_ *testing.T, r *rig) { r.now = r.req.Expires }, func() (string, string, string, string) {
			return "POST", testRun, testTask, formBody(good, "approve", "")
		}, http.StatusGone},
		{"a form without a decision is a bad request", nil, func() (string, string, string, string) {
			return "POST", testRun, testTask, "key=" + good
		}, http.StatusBadRequest},
		{"a form with another decision is a bad request", nil, func() (string, string, string, string) {
			return "POST", testRun, testTask, formBody(good, "approve!", "")
		}, http.StatusBadRequest},
		{"a comment over the limit is a bad request", nil, func() (string, string, string, string) {
			return "POST", testRun, testTask, formBody(good, "approve", strings.Repeat("é", MaxComment+1))
		}, http.StatusBadRequest},
		{"another method is not allowed", nil, func() (string, string, string, string) { return "DELETE", testRun, testTask, "" }, http.StatusMethodNotAllowed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			if c.setup != nil {
				c.setup(t, r)
			}
			before := r.sfn.calls()
			method, run, task, rest := c.req()
			var in = get(run, task, rest)
			if method != "GET" {
				in = post(run, task, rest)
				in.RequestContext.HTTP.Method = method
			}
			res := r.serve(t, in)
			assert.Equal(t, c.status, res.StatusCode, res.Body)
			assert.Equal(t, before, r.sfn.calls(), "a refused request never answers the token")
			assert.NotContains(t, strings.ToLower(res.Body), "key", "the page does not say which part of the link was wrong")
			assert.Equal(t, "text/html; charset=utf-8", res.Headers["Content-Type"])
			if c.status == http.StatusMethodNotAllowed {
				assert.Equal(t, "GET, POST", res.Headers["Allow"])
			}
		})
	}
}

func TestAnswersStepFunctionsRefusesBecauseTheTaskIsOverAreGone(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		err  error
	}{
		{"timed out or answered before", &sfntypes.TaskTimedOut{Message: aws.String("Task Timed Out")}},
		{"execution ended", &sfntypes.TaskDoesNotExist{Message: aws.String("Task does not exist")}},
		{"token invalid", &sfntypes.InvalidToken{Message: aws.String("Invalid Token")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			r.sfn.fail = func(string) error { return c.err }
			res := r.serve(t, post(testRun, testTask, formBody(testKey, "approve", "")))
			assert.Equal(t, http.StatusGone, res.StatusCode)
			assert.False(t, r.tokens.has(testRun, testTask), "a closed task's token is forgotten")
			assert.Empty(t, r.bus.decided(t), "nothing was decided here")
		})
	}
}

func TestAFailureOfStepFunctionsOrTheStoreAsksToTryAgainAndKeepsTheToken(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.sfn.fail = func(string) error { return errors.New("api error InternalFailure: try again") }
	res := r.serve(t, post(testRun, testTask, formBody(testKey, "reject", "")))
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	assert.True(t, r.tokens.has(testRun, testTask), "the link still works once Step Functions is back")
	assert.Empty(t, r.bus.decided(t))

	r = newRig(t)
	r.tokens.fail = func(op string) error {
		if op == "Token" {
			return errors.New("ProvisionedThroughputExceededException")
		}
		return nil
	}
	res = r.serve(t, get(testRun, testTask, "key="+testKey))
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	assert.Zero(t, r.sfn.calls())
}

func TestADecisionStandsWhenItsAnnouncementOrTheTokenDeletionFails(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.bus.fail = errors.New("eventbridge down")
	r.tokens.fail = func(op string) error {
		if op == "DeleteToken" {
			return errors.New("dynamodb down")
		}
		return nil
	}
	res := r.serve(t, post(testRun, testTask, formBody(testKey, "approve", "")))
	assert.Equal(t, http.StatusOK, res.StatusCode, "Step Functions has the decision; a second answer would be refused")
	assert.Len(t, r.sfn.successes, 1)
}

func TestAFormSentBase64EncodedAsAPIGatewayMayDoIsRead(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	in := post(testRun, testTask, base64.StdEncoding.EncodeToString([]byte(formBody(testKey, "approve", "ok"))))
	in.IsBase64Encoded = true
	in.Headers = map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}
	res := r.serve(t, in)
	assert.Equal(t, http.StatusOK, res.StatusCode, res.Body)
	assert.Len(t, r.sfn.successes, 1)
}

func TestAFormOfAnotherTypeOrSizeIsRefused(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	in := post(testRun, testTask, `{"key":"`+testKey+`","decision":"approve"}`)
	in.Headers["content-type"] = "application/json"
	assert.Equal(t, http.StatusUnsupportedMediaType, r.serve(t, in).StatusCode)
	in = post(testRun, testTask, formBody(testKey, "approve", "")+"&pad="+strings.Repeat("x", MaxBody))
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.serve(t, in).StatusCode)
	in = post(testRun, testTask, "not base64!")
	in.IsBase64Encoded = true
	assert.Equal(t, http.StatusBadRequest, r.serve(t, in).StatusCode)
	assert.Zero(t, r.sfn.calls())
}

func TestTheRouteIsReadFromTheRawPathWhenThereAreNoPathParameters(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	in := get(testRun, testTask, "key="+testKey)
	in.PathParameters = nil
	in.RawPath = "/prod/approvals/" + testRun + "/" + testTask
	assert.Equal(t, http.StatusOK, r.serve(t, in).StatusCode)
}

func TestAQueryWithoutARawStringFallsBackToTheParameters(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	in := get(testRun, testTask, "")
	in.QueryStringParameters = map[string]string{"key": testKey}
	assert.Equal(t, http.StatusOK, r.serve(t, in).StatusCode)
}

func TestTheDeadlineIsShownAndHonouredToTheSecond(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.now = r.req.Expires.Add(-time.Second)
	res := r.serve(t, get(testRun, testTask, "key="+testKey))
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, res.Body, "Thu, 03 Dec 2026 09:00:00 UTC")
}

// tokenDigest is the key the links used to carry: base64url of the first 24 bytes of the
// token's SHA-256. The token is in the execution history, which read-only users may read.
func tokenDigest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:24])
}

func TestAKeyComputedFromTheTaskTokenOpensNothing(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	forged := tokenDigest(testToken)
	assert.Equal(t, http.StatusNotFound, r.serve(t, get(testRun, testTask, "key="+forged)).StatusCode)
	res := r.serve(t, post(testRun, testTask, formBody(forged, "approve", "")))
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Zero(t, r.sfn.calls(), "whoever can read the execution history cannot approve")
	assert.True(t, r.tokens.has(testRun, testTask))

	// A request kept before keys were random has no key: its old links open nothing either.
	legacy := r.req
	legacy.Action, legacy.Key = "Legacy", ""
	r.keep(t, legacy, "token-of-a-legacy-approval")
	for _, key := range []string{tokenDigest("token-of-a-legacy-approval"), ""} {
		res = r.serve(t, post(testRun, legacy.Task(), formBody(key, "approve", "")))
		assert.Equal(t, http.StatusNotFound, res.StatusCode)
	}
	assert.Zero(t, r.sfn.calls())
}

func TestWithoutTheKeyEveryRefusalIsTheSameNotFoundPage(t *testing.T) {
	t.Parallel()
	// Each setup leaves the approval of testTask in one state; a caller without its key must
	// not be able to tell the states apart.
	states := map[string]func(t *testing.T, r *rig){
		"open": func(*testing.T, *rig) {},
		"decided": func(t *testing.T, r *rig) {
			require.Equal(t, http.StatusOK, r.serve(t, post(testRun, testTask, formBody(testKey, "approve", ""))).StatusCode)
		},
		"past its deadline": func(_ *testing.T, r *rig) { r.now = r.req.Expires.Add(time.Minute) },
		"expired and forgotten": func(t *testing.T, r *rig) {
			require.NoError(t, r.tokens.DeleteToken(context.Background(), testRun, testTask))
		},
		"a token without a request": func(t *testing.T, r *rig) {
			require.NoError(t, r.tokens.DeleteToken(context.Background(), testRun, RequestKey(testTask)))
		},
		"a request that cannot be read": func(t *testing.T, r *rig) {
			require.NoError(t, r.tokens.PutToken(context.Background(), testRun, RequestKey(testTask), "{not json", r.req.Expires.Add(time.Hour)))
		},
		"never requested": func(t *testing.T, r *rig) {
			require.NoError(t, r.tokens.DeleteToken(context.Background(), testRun, testTask))
			require.NoError(t, r.tokens.DeleteToken(context.Background(), testRun, RequestKey(testTask)))
		},
	}
	unknownRun := newRig(t)
	want := unknownRun.serve(t, get("api-8", testTask, "key="+testKey))
	require.Equal(t, http.StatusNotFound, want.StatusCode)
	for name, setup := range states {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, key := range []string{NewKey(), "", tokenDigest(testToken)} {
				r := newRig(t)
				setup(t, r)
				before := r.sfn.calls()
				for _, in := range []events.APIGatewayV2HTTPRequest{
					get(testRun, testTask, "key="+key),
					post(testRun, testTask, formBody(key, "approve", "")),
					post(testRun, testTask, formBody(key, "reject", "")),
				} {
					res := r.serve(t, in)
					assert.Equal(t, want.StatusCode, res.StatusCode, "%s, key %q", in.RequestContext.HTTP.Method, key)
					assert.Equal(t, want.Body, res.Body, "the page is the one of an unknown run")
					assert.Equal(t, want.Headers, res.Headers)
				}
				assert.Equal(t, before, r.sfn.calls())
			}
		})
	}
}

func TestOnlyTheKeysHolderLearnsThatAnApprovalIsClosed(t *testing.T) {
	t.Parallel()
	for name, setup := range map[string]func(t *testing.T, r *rig){
		"decided": func(t *testing.T, r *rig) {
			require.Equal(t, http.StatusOK, r.serve(t, post(testRun, testTask, formBody(testKey, "reject", ""))).StatusCode)
		},
		"past its deadline": func(_ *testing.T, r *rig) { r.now = r.req.Expires },
		"expired and forgotten": func(t *testing.T, r *rig) {
			require.NoError(t, r.tokens.DeleteToken(context.Background(), testRun, testTask))
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			setup(t, r)
			assert.Equal(t, http.StatusGone, r.serve(t, get(testRun, testTask, "key="+testKey)).StatusCode)
			assert.Equal(t, http.StatusGone, r.serve(t, post(testRun, testTask, formBody(testKey, "approve", ""))).StatusCode)
			assert.Equal(t, http.StatusNotFound, r.serve(t, get(testRun, testTask, "key="+NewKey())).StatusCode)
		})
	}
}
