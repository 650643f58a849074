package waitstep

import "github.com/stepline/stepline/pkg/statemachine"

// ActionFailed is the one error Handle returns to the Wait state: the action cannot wait
// (a deploy that could not start, a provider this deployment does not serve, a malformed request, an approval that could not be
// set up). aws-lambda-go reports the Go type name, statemachine.ErrActionFailed, which the
// Wait state catches by name; it is therefore returned as it is, never wrapped.
type ActionFailed struct{ Msg string }

func (e *ActionFailed) Error() string { return e.Msg }

// ErrorNames lists the error types Handle returns, for the state machine's tests.
var ErrorNames = []string{statemachine.ErrActionFailed}
