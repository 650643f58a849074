package lambdatest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run real aws-lambda-go programs (testdata/) under the harness.

func TestAnAwsLambdaGoProgramAnswersThroughTheRuntimeAPI(t *testing.T) {
	bin := Build(t, "testdata/echo")
	f := Start(t, bin, map[string]string{"ECHO_EXTRA": "from the test"}, WithTimeout(10*time.Second))
	ctx := context.Background()

	t.Run("the event comes back with the request id, deadline, ARN and trace it was sent with", func(t *testing.T) {
		before := time.Now()
		res, err := f.Invoke(ctx, []byte(`{"hello":"world"}`))
		require.NoError(t, err)
		require.False(t, res.Failed(), "%s", res.Payload)
		var got struct {
			Event                                                   json.RawMessage
			RequestID, ARN, TraceID, Function, Handler, Extra, Home string
			DeadlineMs                                              int64
		}
		require.NoError(t, json.Unmarshal(res.Payload, &got))
		assert.JSONEq(t, `{"hello":"world"}`, string(got.Event))
		assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, got.RequestID)
		assert.Equal(t, "arn:aws:lambda:us-east-1:123456789012:function:echo", got.ARN)
		assert.Regexp(t, `^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$`, got.TraceID)
		assert.Equal(t, "echo", got.Function, "a bootstrap is named after its directory")
		assert.Equal(t, "bootstrap", got.Handler)
		assert.Equal(t, "from the test", got.Extra)
		assert.Empty(t, got.Home, "the host environment is not inherited")
		deadline := time.UnixMilli(got.DeadlineMs)
		assert.WithinRange(t, deadline, before.Add(10*time.Second-time.Second), time.Now().Add(10*time.Second))
		assert.Positive(t, res.Duration)
		assert.Positive(t, f.InitDuration())
		assert.Greater(t, f.FirstResponse(), f.InitDuration(), "the first answer comes after initialisation")
	})

	t.Run("concurrent invocations are served one after another by the same process", func(t *testing.T) {
		first := f.FirstResponse()
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Go(func() {
				res, err := f.Invoke(ctx, fmt.Appendf(nil, `{"n":%d}`, i))
				if assert.NoError(t, err) {
					assert.Contains(t, string(res.Payload), fmt.Sprintf(`"event":{"n":%d}`, i))
				}
			})
		}
		wg.Wait()
		assert.Equal(t, first, f.FirstResponse(), "the first response is measured once")
	})

	t.Run("after Stop an invocation fails at once", func(t *testing.T) {
		f.Stop()
		_, err := f.Invoke(ctx, []byte(`{}`))
		assert.ErrorIs(t, err, ErrStopped)
	})
}

func TestEveryWayAFunctionFailsIsReported(t *testing.T) {
	bin := Build(t, "testdata/fail")
	ctx := context.Background()

	t.Run("a returned error arrives with its Go type name as errorType", func(t *testing.T) {
		f := Start(t, bin, nil)
		res, err := f.Invoke(ctx, []byte(`{"build":"7"}`))
		require.NoError(t, err)
		assert.True(t, res.Failed())
		assert.Equal(t, "BuildFailed", res.ErrorType)
		assert.Equal(t, "build 7 failed", res.ErrorMessage)
		assert.JSONEq(t, `{"errorMessage":"build 7 failed","errorType":"BuildFailed"}`, string(res.Payload))

		res, err = f.Invoke(ctx, []byte(`{"build":"8"}`))
		require.NoError(t, err, "the process keeps serving after a function error")
		assert.Equal(t, "build 8 failed", res.ErrorMessage)
	})

	t.Run("a process that exits before answering fails the invocation with its output", func(t *testing.T) {
		f := Start(t, bin, nil)
		_, err := f.Invoke(ctx, []byte(`{"do":"exit"}`))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "exited before answering (exit status 3)")
		assert.Contains(t, err.Error(), "fail: exiting without an answer")
		_, err = f.Invoke(ctx, []byte(`{}`))
		assert.ErrorContains(t, err, "exited before answering")
	})

	t.Run("an invocation running past the timeout fails and the process is stopped", func(t *testing.T) {
		f := Start(t, bin, nil, WithTimeout(300*time.Millisecond))
		start := time.Now()
		_, err := f.Invoke(ctx, []byte(`{"do":"hang"}`))
		assert.ErrorContains(t, err, "within its 300ms timeout")
		assert.Less(t, time.Since(start), 5*time.Second)
		_, err = f.Invoke(ctx, []byte(`{}`))
		assert.ErrorIs(t, err, ErrStopped)
	})

	t.Run("an init error posted by the runtime fails every invocation", func(t *testing.T) {
		f := Start(t, bin, map[string]string{"FAIL_INIT": "STEPLINE_BUCKET is not set"})
		_, err := f.Invoke(ctx, []byte(`{}`))
		var ie *InitError
		require.ErrorAs(t, err, &ie)
		assert.Equal(t, "ConfigError", ie.Type)
		assert.Equal(t, "STEPLINE_BUCKET is not set", ie.Message)
	})

	t.Run("a context that ends first ends the wait", func(t *testing.T) {
		f := Start(t, bin, nil)
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err := f.Invoke(cctx, []byte(`{"do":"hang"}`))
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("an event over Lambda's payload limit is refused before it is sent", func(t *testing.T) {
		f := Start(t, bin, nil)
		_, err := f.Invoke(ctx, make([]byte, MaxPayload+1))
		assert.ErrorContains(t, err, "over Lambda's")
	})
}

func TestAMissingBinaryFailsTheTest(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(ft, t.TempDir()+"/missing/bootstrap", nil)
	}()
	<-done
	assert.Contains(t, ft.msg, "start")
	assert.Contains(t, ft.msg, "missing/bootstrap")
}

// fatalRecorder records Fatalf and ends the goroutine, as testing.T does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *fatalRecorder) Helper() {}

// The remaining tests play the runtime's side of the protocol by hand, for what aws-lambda-go
// rarely or never does.

// fakeRuntime returns a Function with no process and the base URL of its Runtime API.
func fakeRuntime(t *testing.T, timeout time.Duration) (*Function, string) {
	t.Helper()
	f := &Function{name: "fake", arn: "arn:aws:lambda:us-east-1:123456789012:function:fake", timeout: timeout,
		queue: make(chan *invocation), exited: make(chan struct{}), stopped: make(chan struct{}),
		initFailed: make(chan struct{}), started: time.Now()}
	f.srv = httptest.NewServer(f.routes())
	t.Cleanup(func() { close(f.stopped); f.srv.Close() })
	return f, f.srv.URL + "/2018-06-01/runtime/"
}

// invokeAsync runs Invoke in the background.
func invokeAsync(f *Function, payload string) chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		res, err := f.Invoke(context.Background(), []byte(payload))
		ch <- outcome{res, err}
	}()
	return ch
}

// next gets the next event as the runtime does and returns its request id.
func next(t *testing.T, api string) (string, http.Header, string) {
	t.Helper()
	resp, err := http.Get(api + "invocation/next")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b := new(strings.Builder)
	_, err = io.Copy(b, resp.Body)
	require.NoError(t, err)
	return resp.Header.Get(headerRequestID), resp.Header, b.String()
}

func post(t *testing.T, url, body string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b := new(strings.Builder)
	_, _ = io.Copy(b, resp.Body)
	return resp.StatusCode, b.String()
}

func TestTheRuntimeAPIFollowsTheDocumentedProtocol(t *testing.T) {
	t.Run("next carries the documented headers and the event as JSON", func(t *testing.T) {
		f, api := fakeRuntime(t, time.Minute)
		got := invokeAsync(f, `{"a":1}`)
		id, h, body := next(t, api)
		assert.Equal(t, `{"a":1}`, body)
		assert.Equal(t, "application/json", h.Get("Content-Type"))
		assert.Equal(t, f.arn, h.Get(headerFunctionARN))
		assert.Regexp(t, regexp.MustCompile(`^\d{13}$`), h.Get(headerDeadline))
		assert.NotEmpty(t, h.Get(headerTraceID))
		status, reply := post(t, api+"invocation/"+id+"/response", `"ok"`, nil)
		assert.Equal(t, http.StatusAccepted, status, reply)
		o := <-got
		require.NoError(t, o.err)
		assert.Equal(t, `"ok"`, string(o.result.Payload))
	})

	t.Run("an answer for a request id not in flight is refused, and a second answer too", func(t *testing.T) {
		f, api := fakeRuntime(t, time.Minute)
		status, reply := post(t, api+"invocation/nobody/response", `{}`, nil)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Contains(t, reply, `"errorType":"InvalidRequestID"`)

		got := invokeAsync(f, `{}`)
		id, _, _ := next(t, api)
		status, _ = post(t, api+"invocation/"+id+"/error", `{"errorMessage":"m","errorType":"T"}`, nil)
		assert.Equal(t, http.StatusAccepted, status)
		status, _ = post(t, api+"invocation/"+id+"/response", `{}`, nil)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, "T", (<-got).result.ErrorType)
	})

	t.Run("an error without errorType takes the header's category, then Unhandled", func(t *testing.T) {
		cases := []struct{ name, body, header, want string }{
			{"the document's errorType wins", `{"errorMessage":"m","errorType":"Named"}`, "Runtime.Unknown", "Named"},
			{"the header stands in for a document without one", `{"errorMessage":"m"}`, "Runtime.Unknown", "Runtime.Unknown"},
			{"a body that is not JSON is still a failure", `oops`, "", "Unhandled"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				f, api := fakeRuntime(t, time.Minute)
				got := invokeAsync(f, `{}`)
				id, _, _ := next(t, api)
				h := http.Header{}
				if c.header != "" {
					h.Set(headerErrorType, c.header)
				}
				status, _ := post(t, api+"invocation/"+id+"/error", c.body, h)
				assert.Equal(t, http.StatusAccepted, status)
				o := <-got
				assert.Equal(t, c.want, o.result.ErrorType)
				assert.Equal(t, c.body, string(o.result.Payload))
			})
		}
	})

	t.Run("a response whose body failed midway is reported from its trailers", func(t *testing.T) {
		f, api := fakeRuntime(t, time.Minute)
		got := invokeAsync(f, `{}`)
		id, _, _ := next(t, api)
		req, err := http.NewRequest(http.MethodPost, api+"invocation/"+id+"/response", io.MultiReader(strings.NewReader(`{"partial`)))
		require.NoError(t, err)
		req.Trailer = http.Header{}
		req.Trailer.Set(headerErrorType, "ReadError")
		req.Trailer.Set(trailerErrorBody, base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"disk gone","errorType":"ReadError"}`)))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		o := <-got
		assert.Equal(t, "ReadError", o.result.ErrorType)
		assert.Equal(t, "disk gone", o.result.ErrorMessage)
	})

	t.Run("a response over the payload limit is refused with 413 and fails the invocation", func(t *testing.T) {
		f, api := fakeRuntime(t, time.Minute)
		got := invokeAsync(f, `{}`)
		id, _, _ := next(t, api)
		status, _ := post(t, api+"invocation/"+id+"/response", strings.Repeat("x", MaxPayload+1), nil)
		assert.Equal(t, http.StatusRequestEntityTooLarge, status)
		assert.Equal(t, "Function.ResponseSizeTooLarge", (<-got).result.ErrorType)
	})

	t.Run("asking for the next event without answering fails the unanswered invocation", func(t *testing.T) {
		f, api := fakeRuntime(t, time.Minute)
		got := invokeAsync(f, `{}`)
		id, _, _ := next(t, api)
		go func() { _, _ = http.Get(api + "invocation/next") }()
		o := <-got
		assert.ErrorContains(t, o.err, "without answering request "+id)
	})

	t.Run("an init error after the first event is refused as a state transition", func(t *testing.T) {
		f, api := fakeRuntime(t, time.Minute)
		got := invokeAsync(f, `{}`)
		id, _, _ := next(t, api)
		status, reply := post(t, api+"init/error", `{"errorMessage":"late","errorType":"Late"}`, nil)
		assert.Equal(t, http.StatusForbidden, status)
		assert.Contains(t, reply, "InvalidStateTransition")
		post(t, api+"invocation/"+id+"/response", `1`, nil)
		require.NoError(t, (<-got).err)
	})
}
