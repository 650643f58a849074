package repoadd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
)

// stackDescriber is the one CloudFormation call Outputs makes.
type stackDescriber interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

var _ stackDescriber = (*cloudformation.Client)(nil)

// Stack is what registering a repository needs from the deployed stack's outputs.
type Stack struct {
	// WebhookURL is the WebhookUrl output: https://<api>.execute-api.<region>.amazonaws.com/webhooks.
	WebhookURL string
	// SecretPrefix is the SecretPrefix output: <Name>/repos/.
	SecretPrefix string
}

// ErrNoStack means CloudFormation knows no stack of that name in the account and region.
var ErrNoStack = errors.New("no such stack")

// Output names of the stepline stack (docs/stack.md).
const (
	outputWebhookURL   = "WebhookUrl"
	outputSecretPrefix = "SecretPrefix"
)

// Outputs reads the WebhookUrl and SecretPrefix outputs of the stack called name. A missing
// stack is ErrNoStack; a stack without the outputs (still being created, or not a stepline
// stack) is an error naming the missing output and the stack's status.
func Outputs(ctx context.Context, cf stackDescriber, name string) (Stack, error) {
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		// CloudFormation answers an unknown stack with a ValidationError, like any bad input;
		// only the message tells them apart.
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "does not exist") {
			return Stack{}, fmt.Errorf("read the outputs of stack %s: %w", name, ErrNoStack)
		}
		return Stack{}, fmt.Errorf("read the outputs of stack %s: %w", name, err)
	}
	if len(out.Stacks) == 0 {
		return Stack{}, fmt.Errorf("read the outputs of stack %s: %w", name, ErrNoStack)
	}
	st := out.Stacks[0]
	var s Stack
	for _, o := range st.Outputs {
		switch aws.ToString(o.OutputKey) {
		case outputWebhookURL:
			s.WebhookURL = aws.ToString(o.OutputValue)
		case outputSecretPrefix:
			s.SecretPrefix = aws.ToString(o.OutputValue)
		}
	}
	for _, o := range []struct{ key, v string }{{outputWebhookURL, s.WebhookURL}, {outputSecretPrefix, s.SecretPrefix}} {
		if o.v == "" {
			return Stack{}, fmt.Errorf("stack %s (%s) has no %s output: is it a stepline stack, and fully deployed?",
				name, statusOf(st), o.key)
		}
	}
	return s, nil
}

func statusOf(st cftypes.Stack) string {
	if st.StackStatus == "" {
		return "status unknown"
	}
	return string(st.StackStatus)
}
