package approval

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// Source is the EventBridge source of approval events, as of every stepline event.
const Source = "stepline"

// Detail types. The stack's NotificationRule sends DetailRequested to the notify function, which
// publishes its links to the topic and the webhooks the pipeline's notifications: rules name.
const (
	DetailRequested = "stepline Approval Requested"
	DetailDecided   = "stepline Approval Decided"
)

// Decisions in a DecidedDetail.
const (
	Approved = "approved"
	Rejected = "rejected"
	Expired  = "expired"
)

// RequestedDetail announces an open approval with its links. Whoever reads it can decide, so
// the bus and the topic are as private as the approvals are.
type RequestedDetail struct {
	Pipeline string `json:"pipeline"`
	Run      string `json:"run"`
	Stage    string `json:"stage"`
	Action   string `json:"action"`
	Attempt  int    `json:"attempt"`
	Message  string `json:"message,omitempty"`
	URL      string `json:"url,omitempty"`
	Links
	// Expires is the deadline, RFC 3339.
	Expires string `json:"expires"`
}

// DecidedDetail announces the end of an approval: approved, rejected or expired.
type DecidedDetail struct {
	Pipeline string `json:"pipeline"`
	Run      string `json:"run"`
	Stage    string `json:"stage"`
	Action   string `json:"action"`
	Attempt  int    `json:"attempt"`
	Decision string `json:"decision"`
	Comment  string `json:"comment,omitempty"`
	// Time is when it was decided, RFC 3339.
	Time string `json:"time"`
}

// Requested returns the detail announcing r with its links.
func Requested(r Request, links Links) RequestedDetail {
	return RequestedDetail{Pipeline: r.Pipeline, Run: r.Run, Stage: r.Stage, Action: r.Action, Attempt: r.Attempt,
		Message: r.Message, URL: r.URL, Links: links, Expires: r.Expires.UTC().Format(time.RFC3339)}
}

// Decided returns the detail announcing the decision on r.
func Decided(r Request, decision, comment string, at time.Time) DecidedDetail {
	return DecidedDetail{Pipeline: r.Pipeline, Run: r.Run, Stage: r.Stage, Action: r.Action, Attempt: r.Attempt,
		Decision: decision, Comment: comment, Time: at.UTC().Format(time.RFC3339)}
}

// EventPutter is the EventBridge call the publishers need.
type EventPutter interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

var _ EventPutter = (*eventbridge.Client)(nil)

// Publish puts one approval event on bus; a refused entry is an error.
func Publish(ctx context.Context, eb EventPutter, bus, detailType string, detail any, at time.Time, resources ...string) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("encode %s: %w", detailType, err)
	}
	if resources == nil {
		resources = []string{}
	}
	out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		EventBusName: aws.String(bus), Source: aws.String(Source), DetailType: aws.String(detailType),
		Detail: aws.String(string(b)), Time: aws.Time(at), Resources: resources,
	}}})
	if err != nil {
		return fmt.Errorf("put %s on %s: %w", detailType, bus, err)
	}
	if out.FailedEntryCount > 0 {
		code := ""
		if len(out.Entries) > 0 {
			code = aws.ToString(out.Entries[0].ErrorCode) + ": " + aws.ToString(out.Entries[0].ErrorMessage)
		}
		return fmt.Errorf("put %s on %s: refused (%s)", detailType, bus, code)
	}
	return nil
}
