package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stepline/stepline/pkg/store"
)

// The AWS runtime's own items, beside the runs: task tokens and the pipeline registry.

// PutToken records the Step Functions task token of a waiting action, task of run (such as
// "Deploy/Service#2": stage, action and attempt), so whatever ends the wait (an approval
// link, an ECS or CloudFormation event) can hand the result back with SendTaskSuccess. A
// token already recorded for the same task is replaced. expires is when the state machine
// gives up waiting; from then on Token reports the token as not found and DynamoDB's time to
// live deletes it. A zero expires keeps the token until DeleteToken.
func (s *Store) PutToken(ctx context.Context, run, task, token string, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkToken(run, task); err != nil {
		return err
	}
	if token == "" {
		return fmt.Errorf("put task token of %s/%s: the token is empty", run, task)
	}
	item := key(tokenPK(run), taskSK(task))
	item[attrType] = str(typeToken)
	item[attrRun] = str(run)
	item[attrTask] = str(task)
	item[attrToken] = str(token)
	if !expires.IsZero() {
		// Rounded up, so the item never expires before the time asked for.
		item[TTLAttribute] = num(expires.Add(time.Second - 1).Unix())
	}
	if err := s.put(ctx, item, "", nil, nil); err != nil {
		return fmt.Errorf("put task token of %s/%s: %w", run, task, err)
	}
	return nil
}

// Token returns the task token PutToken recorded for task of run. It fails with
// store.ErrNotFound when there is none or it has expired, even before DynamoDB has deleted
// it: time to live deletes within days, not at the second.
func (s *Store) Token(ctx context.Context, run, task string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := checkToken(run, task); err != nil {
		return "", err
	}
	item, err := s.get(ctx, tokenPK(run), taskSK(task))
	if err != nil {
		return "", fmt.Errorf("task token of %s/%s: %w", run, task, err)
	}
	if item == nil {
		return "", fmt.Errorf("task token of %s/%s: %w", run, task, store.ErrNotFound)
	}
	expires, ok, err := getN(item, TTLAttribute)
	if err != nil {
		return "", fmt.Errorf("task token of %s/%s: %w", run, task, err)
	}
	if ok && !s.now().Before(time.Unix(expires, 0)) {
		return "", fmt.Errorf("task token of %s/%s expired at %s: %w",
			run, task, time.Unix(expires, 0).UTC().Format(time.RFC3339), store.ErrNotFound)
	}
	return getS(item, attrToken), nil
}

// DeleteToken forgets the task token of task of run once its wait has ended, so a second
// event for the same action cannot complete the task again. Deleting a token that is not
// there is not an error.
func (s *Store) DeleteToken(ctx context.Context, run, task string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkToken(run, task); err != nil {
		return err
	}
	_, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table),
		Key:       key(tokenPK(run), taskSK(task)),
	})
	if err != nil {
		return fmt.Errorf("delete task token of %s/%s: %w", run, task, err)
	}
	return nil
}

// PutPipelineFile records file, the pipeline file of branch of repo (a full name such as
// "owner/repo") at commit, replacing the one recorded before. Triggers that carry no commit
// to read the file at (an ECR push, a schedule) read the default branch's copy from here.
// The last write wins: callers record the file of each push in the order pushes arrive.
func (s *Store) PutPipelineFile(ctx context.Context, repo, branch string, file []byte, commit string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkFile(repo, branch); err != nil {
		return err
	}
	body := compress(file)
	item := key(repoPK(repo), branchSK(branch))
	item[attrType] = str(typePipelineFile)
	item[attrRepo] = str(repo)
	item[attrBranch] = str(branch)
	item[attrFile] = bin(body)
	if commit != "" {
		item[attrCommit] = str(commit)
	}
	if err := s.put(ctx, item, "", nil, nil); err != nil {
		if errors.Is(err, ErrTooLarge) {
			err = fmt.Errorf("file is %d bytes and %d gzipped: %w", len(file), len(body), err)
		}
		return fmt.Errorf("put pipeline file of %s@%s: %w", repo, branch, err)
	}
	return nil
}

// PipelineFile returns the pipeline file PutPipelineFile last recorded for branch of repo and
// the commit it was read at. It fails with store.ErrNotFound when none was recorded.
func (s *Store) PipelineFile(ctx context.Context, repo, branch string) ([]byte, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	if err := checkFile(repo, branch); err != nil {
		return nil, "", err
	}
	item, err := s.get(ctx, repoPK(repo), branchSK(branch))
	if err != nil {
		return nil, "", fmt.Errorf("pipeline file of %s@%s: %w", repo, branch, err)
	}
	if item == nil {
		return nil, "", fmt.Errorf("pipeline file of %s@%s: %w", repo, branch, store.ErrNotFound)
	}
	body, err := getB(item, attrFile)
	if err == nil {
		body, err = decompress(body)
	}
	if err != nil {
		return nil, "", fmt.Errorf("pipeline file of %s@%s: %w", repo, branch, err)
	}
	return body, getS(item, attrCommit), nil
}

func tokenPK(run string) string     { return "TOKEN#" + run }
func taskSK(task string) string     { return "TASK#" + task }
func repoPK(repo string) string     { return "REPO#" + repo }
func branchSK(branch string) string { return "BRANCH#" + branch }

func checkToken(run, task string) error {
	if run == "" || task == "" || !utf8.ValidString(run) || !utf8.ValidString(task) {
		return fmt.Errorf("task token of %q/%q: run and task are required, in UTF-8", run, task)
	}
	return nil
}

func checkFile(repo, branch string) error {
	if repo == "" || branch == "" || !utf8.ValidString(repo) || !utf8.ValidString(branch) {
		return fmt.Errorf("pipeline file of %q@%q: repository and branch are required, in UTF-8", repo, branch)
	}
	return nil
}
