package approval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store"
)

// Tokens is what the page needs of the token store (store/dynamo in AWS): read the token and
// request of an approval, forget the token once decided. Token fails with store.ErrNotFound
// when there is none.
type Tokens interface {
	Token(ctx context.Context, run, task string) (string, error)
	DeleteToken(ctx context.Context, run, task string) error
}

// taskSender answers the waiting Wait state.
type taskSender interface {
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
	SendTaskFailure(ctx context.Context, in *sfn.SendTaskFailureInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error)
}

var _ taskSender = (*sfn.Client)(nil)

// Output is what an approved task returns to the state machine ($.output); functions/advance
// reads any output of a wait task as success.
type Output struct {
	Approved bool   `json:"approved"`
	Comment  string `json:"comment,omitempty"`
	// Time is when it was approved, RFC 3339.
	Time string `json:"time"`
	// By is who approved when known: the caller's IAM identity for `stepline approve --aws`
	// (pkg/runops); the page's links carry no identity.
	By string `json:"by,omitempty"`
}

// Rejection is the cause `stepline reject --aws` sends with ActionRejected: who rejected, and
// their comment, as JSON so functions/advance can record both (a cause from the page is the
// bare comment).
type Rejection struct {
	By      string `json:"by"`
	Comment string `json:"comment,omitempty"`
}

// Cause encodes the rejection as SendTaskFailure's cause.
func (r Rejection) Cause() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// ParseRejection reads a cause Rejection.Cause wrote; false for any other cause.
func ParseRejection(cause string) (Rejection, bool) {
	var r Rejection
	if json.Unmarshal([]byte(cause), &r) != nil || r.By == "" {
		return Rejection{}, false
	}
	return r, true
}

// Handler is functions/callback's handler. Build it with New.
type Handler struct {
	tokens Tokens
	sfn    taskSender
	events EventPutter
	bus    string
	now    func() time.Time
	log    *slog.Logger
}

// Option configures a Handler.
type Option func(*Handler)

// WithClock sets the clock deadlines are compared with (tests).
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// New returns the handler of the approval routes, announcing decisions on bus.
func New(tokens Tokens, tasks taskSender, eb EventPutter, bus string, opts ...Option) *Handler {
	h := &Handler{tokens: tokens, sfn: tasks, events: eb, bus: bus, now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(h)
	}
	return h
}

// HandleAPIGateway serves GET and POST /approvals/{run}/{task} (API Gateway HTTP API,
// payload format 2.0). It never returns an error: every outcome is a page, since an error
// would make API Gateway answer a bare 500.
func (h *Handler) HandleAPIGateway(ctx context.Context, in events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	c, err := parse(in)
	if err != nil {
		p := asProblem(err)
		h.log.InfoContext(ctx, "approval: request refused", "status", p.status, "reason", p.msg, "method", in.RequestContext.HTTP.Method)
		return render(problemPage(p)), nil
	}
	log := h.log.With("run", c.run, "task", c.task, "method", c.method, "source_ip", in.RequestContext.HTTP.SourceIP)
	req, token, refused := h.open(ctx, log, c)
	if refused != nil {
		return render(*refused), nil
	}
	if c.method == http.MethodGet {
		log.InfoContext(ctx, "approval: page shown")
		return render(reviewPage(req, c)), nil
	}
	return render(h.decide(ctx, log, c, req, token)), nil
}

// open finds the approval c names and checks its key, then its state. Until the key matches
// the kept request's, every refusal is the same 404 (no request kept, one that cannot be
// read, a wrong or missing key), so a caller without the key learns nothing of the approval,
// not even that it exists. The key's holder is told that an approval whose token is gone was
// decided or expired, and that one past its deadline whose expiry has not run yet expired
// (410). Only the logs say which check failed.
func (h *Handler) open(ctx context.Context, log *slog.Logger, c call) (Request, string, *page) {
	raw, err := h.tokens.Token(ctx, c.run, RequestKey(c.task))
	if err != nil {
		return Request{}, "", h.lookupFailed(ctx, log, err, "no such approval", &notFoundPage)
	}
	var req Request
	if err := json.Unmarshal([]byte(raw), &req); err != nil {
		log.ErrorContext(ctx, "approval: the kept request cannot be read", "error", err)
		return Request{}, "", &notFoundPage
	}
	if !req.Admits(c.key) {
		log.WarnContext(ctx, "approval: wrong key", "kept_key", req.Key != "")
		return Request{}, "", &notFoundPage
	}
	token, err := h.tokens.Token(ctx, c.run, c.task)
	if err != nil {
		return Request{}, "", h.lookupFailed(ctx, log, err, "already decided or expired", &gonePage)
	}
	if !h.now().Before(req.Expires) {
		log.InfoContext(ctx, "approval: past its deadline", "expires", req.Expires)
		return Request{}, "", &gonePage
	}
	return req, token, nil
}

// lookupFailed answers a failed read: missing is the page for a missing item, why says
// what a missing item means.
func (h *Handler) lookupFailed(ctx context.Context, log *slog.Logger, err error, why string, missing *page) *page {
	if errors.Is(err, store.ErrNotFound) {
		log.InfoContext(ctx, "approval: "+why)
		return missing
	}
	log.ErrorContext(ctx, "approval: the token store failed", "error", err)
	return &unavailablePage
}

// decide answers the Wait state's token, forgets the token and announces the decision. Step
// Functions settles races: of two decisions posted at once, the second finds the task closed.
func (h *Handler) decide(ctx context.Context, log *slog.Logger, c call, req Request, token string) page {
	now := h.now()
	decision := Approved
	var err error
	if c.decision == decisionApprove {
		out, _ := json.Marshal(Output{Approved: true, Comment: c.comment, Time: now.UTC().Format(time.RFC3339)})
		_, err = h.sfn.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(string(out))})
	} else {
		decision = Rejected
		cause := c.comment
		if cause == "" {
			cause = "rejected on the approval page"
		}
		_, err = h.sfn.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(token),
			Error: aws.String(statemachine.ErrActionRejected), Cause: aws.String(cause)})
	}
	switch {
	case TaskClosed(err):
		log.InfoContext(ctx, "approval: the task was already closed", "error", err)
		h.forget(ctx, log, c)
		return gonePage
	case err != nil:
		log.ErrorContext(ctx, "approval: Step Functions did not take the decision", "decision", decision, "error", err)
		return unavailablePage
	}
	log.InfoContext(ctx, "approval: decided", "decision", decision, "comment_chars", len(c.comment))
	h.forget(ctx, log, c)
	if err := Publish(ctx, h.events, h.bus, DetailDecided, Decided(req, decision, c.comment, now), now); err != nil {
		log.WarnContext(ctx, "approval: the decision was taken but not announced", "error", err)
	}
	title, next := "Approved", "the run goes on"
	if decision == Rejected {
		title, next = "Rejected", "the action fails, and the stage with it"
	}
	r := req
	return page{Status: http.StatusOK, Title: title, Request: &r,
		Text: fmt.Sprintf("%s/%s of %s was %s: %s. You can close this page.", req.Stage, req.Action, req.Run, decision, next)}
}

// forget deletes the token, so the link answers 410 from now on. The request stays until it
// expires: it holds the key, which is what lets the page tell the key's holder that the link
// was used.
func (h *Handler) forget(ctx context.Context, log *slog.Logger, c call) {
	if err := h.tokens.DeleteToken(ctx, c.run, c.task); err != nil {
		// Step Functions refuses a second answer anyway.
		log.WarnContext(ctx, "approval: the token could not be deleted", "error", err)
	}
}

// TaskClosed reports whether Step Functions refused an answer because the task is over: it
// was answered already, timed out, or its execution ended.
func TaskClosed(err error) bool {
	var timedOut *sfntypes.TaskTimedOut
	var missing *sfntypes.TaskDoesNotExist
	var invalid *sfntypes.InvalidToken
	return errors.As(err, &timedOut) || errors.As(err, &missing) || errors.As(err, &invalid)
}
