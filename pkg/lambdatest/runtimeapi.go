package lambdatest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// The Runtime API's headers, as AWS documents them for version 2018-06-01.
const (
	headerRequestID   = "Lambda-Runtime-Aws-Request-Id"
	headerDeadline    = "Lambda-Runtime-Deadline-Ms"
	headerFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID     = "Lambda-Runtime-Trace-Id"
	// headerErrorType is the optional category (Runtime.NoSuchHandler, …) of a posted error.
	headerErrorType = "Lambda-Runtime-Function-Error-Type"
	// trailerErrorBody carries, base64-encoded, the error document of a response whose body
	// failed midway; its type is in a trailer named like headerErrorType.
	trailerErrorBody = "Lambda-Runtime-Function-Error-Body"
)

// maxErrorBody bounds the error documents read from the runtime.
const maxErrorBody = 1 << 20

// errorDocument is the JSON body of an invocation or init error.
type errorDocument struct {
	ErrorMessage string          `json:"errorMessage"`
	ErrorType    string          `json:"errorType"`
	StackTrace   json.RawMessage `json:"stackTrace,omitempty"`
}

func (f *Function) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", f.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", f.response)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", f.invocationError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", f.initError)
	return mux
}

// next blocks until Invoke hands over an event, then sends it with the invocation's headers.
func (f *Function) next(w http.ResponseWriter, r *http.Request) {
	// Asking for the next event ends the current invocation; one that got no answer fails.
	f.mu.Lock()
	prev := f.inflight
	f.inflight = nil
	if f.ready == 0 {
		f.ready = time.Since(f.started)
	}
	f.mu.Unlock()
	if prev != nil {
		prev.done <- outcome{err: fmt.Errorf("lambdatest: %s asked for the next event without answering request %s", f.name, prev.id)}
	}

	var inv *invocation
	select {
	case inv = <-f.queue:
	case <-r.Context().Done():
		return
	case <-f.stopped:
		w.WriteHeader(http.StatusGone)
		return
	}
	now := time.Now()
	f.mu.Lock()
	inv.received = now
	f.inflight = inv
	f.delivered++
	f.mu.Unlock()

	h := w.Header()
	h.Set(headerRequestID, inv.id)
	h.Set(headerDeadline, strconv.FormatInt(now.Add(f.timeout).UnixMilli(), 10))
	h.Set(headerFunctionARN, f.arn)
	h.Set(headerTraceID, traceID(now))
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

// response takes a successful answer. A body that failed midway arrives with the error in
// trailers and is reported as a function error.
func (f *Function) response(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayload+1))
	if err != nil {
		reject(w, http.StatusBadRequest, "InvalidRequest", "cannot read the response: "+err.Error())
		return
	}
	res := Result{Payload: body}
	if len(body) > MaxPayload {
		_, _ = io.Copy(io.Discard, r.Body)
		res = Result{ErrorType: "Function.ResponseSizeTooLarge",
			ErrorMessage: fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxPayload)}
		res.Payload, _ = json.Marshal(errorDocument{ErrorMessage: res.ErrorMessage, ErrorType: res.ErrorType})
	} else if t := r.Trailer.Get(headerErrorType); t != "" {
		doc, _ := base64.StdEncoding.DecodeString(r.Trailer.Get(trailerErrorBody))
		res = errorResult(doc, t)
	}
	if !f.answer(r.PathValue("id"), res) {
		reject(w, http.StatusBadRequest, "InvalidRequestID", "no invocation in flight has request id "+r.PathValue("id"))
		return
	}
	if res.ErrorType == "Function.ResponseSizeTooLarge" {
		reject(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", res.ErrorMessage)
		return
	}
	accepted(w)
}

// invocationError takes a function error.
func (f *Function) invocationError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxErrorBody))
	if err != nil {
		reject(w, http.StatusBadRequest, "InvalidRequest", "cannot read the error: "+err.Error())
		return
	}
	if !f.answer(r.PathValue("id"), errorResult(body, r.Header.Get(headerErrorType))) {
		reject(w, http.StatusBadRequest, "InvalidRequestID", "no invocation in flight has request id "+r.PathValue("id"))
		return
	}
	accepted(w)
}

// initError takes the runtime's report that it cannot start; every Invoke then fails.
func (f *Function) initError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxErrorBody))
	if err != nil {
		reject(w, http.StatusBadRequest, "InvalidRequest", "cannot read the error: "+err.Error())
		return
	}
	res := errorResult(body, r.Header.Get(headerErrorType))
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.delivered > 0 || f.initErr != nil {
		reject(w, http.StatusForbidden, "InvalidStateTransition", "the runtime is past initialisation")
		return
	}
	f.initErr = &InitError{Type: res.ErrorType, Message: res.ErrorMessage}
	close(f.initFailed)
	accepted(w)
}

// answer completes the invocation in flight if it has request id; false when none has.
func (f *Function) answer(id string, res Result) bool {
	now := time.Now()
	f.mu.Lock()
	inv := f.inflight
	if inv == nil || inv.id != id {
		f.mu.Unlock()
		return false
	}
	f.inflight = nil
	if f.first == 0 {
		f.first = now.Sub(f.started)
	}
	f.mu.Unlock()
	res.Duration = now.Sub(inv.received)
	inv.done <- outcome{result: res}
	return true
}

// errorResult reads an error document. Its errorType is what callers see; the header's
// category stands in when the document has none, and Lambda's own "Unhandled" after that.
func errorResult(body []byte, headerType string) Result {
	var doc errorDocument
	_ = json.Unmarshal(body, &doc)
	res := Result{Payload: body, ErrorType: doc.ErrorType, ErrorMessage: doc.ErrorMessage}
	if res.ErrorType == "" {
		res.ErrorType = headerType
	}
	if res.ErrorType == "" {
		res.ErrorType = "Unhandled"
	}
	return res
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func reject(w http.ResponseWriter, status int, errorType, message string) {
	b, _ := json.Marshal(errorDocument{ErrorMessage: message, ErrorType: errorType})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// requestID returns a random UUID, the shape of Lambda's request ids.
func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// traceID returns an X-Ray trace header for an unsampled trace started at t.
func traceID(t time.Time) string {
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", t.Unix(), randomHex(12), randomHex(8))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
