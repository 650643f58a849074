package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stepline/stepline/pkg/local"
	"github.com/stepline/stepline/pkg/runops"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

// awsOperator returns the Operator of the deployed stepline of stack, with the default AWS
// configuration: the stack's outputs name its table and state machine. The IAM actions each
// command needs are listed in docs/operations.md.
func (g *globals) awsOperator(ctx context.Context, t target) (operated, error) {
	stack := t.stack
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
	if t.repository != "" {
		provider, repo, ok := strings.Cut(t.repository, ":")
		if !ok || provider == "" || repo == "" {
			return operated{}, exit(ExitUsage, fmt.Errorf("--repository %q: give provider:owner/name, e.g. github:octo/api", t.repository))
		}
		op.WithRepository(provider, repo, db, gitRevisions{dir: t.repo})
	}
	return operated{Operator: op, find: db, where: fmt.Sprintf("stack %s (table %s)", stack, s.Table)}, nil
}

// gitRevisions reads the revisions of `stepline start --aws` from the user's clone: what was
// pushed is there, and the stack's source step fetches the same commit from the provider.
type gitRevisions struct{ dir string }

func (r gitRevisions) checkout(ctx context.Context, branch, commit string) (local.Checkout, error) {
	dir := r.dir
	if dir == "" {
		dir = "."
	}
	if commit != "" {
		return local.InspectRev(ctx, dir, "", commit)
	}
	co, err := local.InspectRev(ctx, dir, "", "refs/heads/"+branch)
	if err != nil {
		// A branch only pushed from elsewhere: its remote-tracking head.
		co, err = local.InspectRev(ctx, dir, "", "refs/remotes/origin/"+branch)
	}
	return co, err
}

// Resolve implements runops.Revisions.
func (r gitRevisions) Resolve(ctx context.Context, branch, commit string) (string, string, string, error) {
	co, err := r.checkout(ctx, branch, commit)
	if err != nil {
		return "", "", "", err
	}
	return co.Commit, co.Message, co.Author, nil
}

// File implements runops.Revisions.
func (r gitRevisions) File(ctx context.Context, commit, path string) ([]byte, error) {
	co, err := r.checkout(ctx, "", commit)
	if err != nil {
		return nil, err
	}
	return co.File(ctx, path)
}
