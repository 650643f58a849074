package cli

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stepline/stepline/pkg/runops"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

// awsOperator returns the Operator of the deployed stepline of stack, with the default AWS
// configuration: the stack's outputs name its table and state machine. The IAM actions each
// command needs are listed in docs/operations.md.
func (g *globals) awsOperator(ctx context.Context, stack string) (operated, error) {
	cfg, err := awsConfig(ctx)
	if err != nil {
		return operated{}, exit(ExitUsage, err)
	}
	s, err := runops.ReadStack(ctx, cloudformation.NewFromConfig(cfg), stack)
	if err != nil {
		return operated{}, exit(ExitUsage, err)
	}
	db := dynamo.New(dynamodb.NewFromConfig(cfg), s.Table)
	op := runops.NewAWS(db, sfn.NewFromConfig(cfg), sts.NewFromConfig(cfg), s.StateMachine)
	return operated{Operator: op, find: db, where: fmt.Sprintf("stack %s (table %s)", stack, s.Table)}, nil
}
