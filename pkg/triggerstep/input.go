package triggerstep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stepline/stepline/pkg/scm"
)

// Shape is the kind of input the trigger function handles: the body of one trigger queue
// message.
type Shape int

// The shapes Invoke accepts.
const (
	// ShapeEventBridge is an EventBridge event, as a rule sends it to the trigger queue: a
	// stepline source event from the webhook or an AWS event such as an ECR image action.
	ShapeEventBridge Shape = iota + 1
	// ShapeSchedule is the input one of the trigger's EventBridge Scheduler schedules sends
	// to the trigger queue.
	ShapeSchedule
)

// Input is one input, decoded according to its shape.
type Input struct {
	Shape    Shape
	Event    events.CloudWatchEvent
	Schedule ScheduleInput
}

// ParseInput tells the inputs the trigger function receives apart by their top-level keys:
// {"stepline-schedule": …} from a schedule, or an EventBridge event (detail-type, source and
// detail). Anything else (a batch of records, a test event, a payload with both shapes) is
// an error that names the keys it found, never their values.
func ParseInput(raw []byte) (Input, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return Input{}, fmt.Errorf("the payload is not a JSON object (%d bytes)", len(raw))
	}
	_, isSchedule := top[ScheduleKey]
	_, hasDetailType := top["detail-type"]
	_, hasSource := top["source"]
	_, hasDetail := top["detail"]
	isEvent := hasDetailType && hasSource && hasDetail
	switch {
	case isSchedule && (hasDetailType || hasSource || hasDetail):
		return Input{}, fmt.Errorf("the payload mixes a schedule's input and an EventBridge event (keys %s)", keys(top))
	case isSchedule:
		var in ScheduleInput
		dec := json.NewDecoder(bytes.NewReader(top[ScheduleKey]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return Input{}, fmt.Errorf("%s is not a schedule input: %w", ScheduleKey, err)
		}
		if err := in.check(); err != nil {
			return Input{}, err
		}
		return Input{Shape: ShapeSchedule, Schedule: in}, nil
	case isEvent:
		var e events.CloudWatchEvent
		if err := json.Unmarshal(raw, &e); err != nil {
			return Input{}, fmt.Errorf("the payload has an EventBridge event's keys but not its shape: %w", err)
		}
		if e.Source == "" || e.DetailType == "" {
			return Input{}, errors.New("the EventBridge event has an empty source or detail-type")
		}
		return Input{Shape: ShapeEventBridge, Event: e}, nil
	}
	return Input{}, fmt.Errorf("unknown payload shape: neither an EventBridge event nor a %s input (keys %s)", ScheduleKey, keys(top))
}

func (in ScheduleInput) check() error {
	var missing []string
	for _, f := range []struct{ name, v string }{{"provider", in.Provider}, {"repository", in.Repository},
		{"pipeline", in.Pipeline}, {"branch", in.Branch}, {"time", in.Time}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s lacks %s", ScheduleKey, strings.Join(missing, ", "))
	}
	if in.Trigger < 0 {
		return fmt.Errorf("%s: trigger %d is not an index", ScheduleKey, in.Trigger)
	}
	if err := scm.CheckBranch(in.Branch); err != nil {
		return fmt.Errorf("%s: %w", ScheduleKey, err)
	}
	return nil
}

// keys lists an object's keys for a log line: sorted, quoted, at most ten.
func keys(m map[string]json.RawMessage) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, fmt.Sprintf("%q", clip(k)))
	}
	slices.Sort(ks)
	if len(ks) > 10 {
		ks = append(ks[:10], fmt.Sprintf("… %d more", len(m)-10))
	}
	return "[" + strings.Join(ks, ", ") + "]"
}

// Invoke handles one input, the body of one trigger queue message: it tells the shape apart
// (ParseInput) and hands it to Handle or to the schedule path. It returns an error only for a
// failure worth a retry. An input of no known shape is logged as an error and acknowledged:
// retrying it cannot give it a shape, and an error would send the same message round the
// queue's receives into the dead-letter queue.
func (h *Handler) Invoke(ctx context.Context, raw json.RawMessage) error {
	in, err := ParseInput(raw)
	if err != nil {
		return h.acknowledge(ctx, "", permanent("unrecognised input: %v", err))
	}
	switch in.Shape {
	case ShapeSchedule:
		s := in.Schedule
		return h.acknowledge(ctx, ScheduleName(s.Provider, s.Repository, s.Pipeline, s.Trigger)+"@"+s.Time, h.fire(ctx, s))
	default:
		return h.Handle(ctx, in.Event)
	}
}
