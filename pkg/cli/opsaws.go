package cli

import (
	"context"
	"errors"
)

// awsOperator returns the Operator of the deployed stepline of stack.
func (g *globals) awsOperator(ctx context.Context, stack string) (operated, error) {
	return operated{}, exit(ExitUsage, errors.New("--aws: not wired yet"))
}
