package codecommit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/codecommit"
	"github.com/aws/smithy-go"

	"github.com/stepline/stepline/pkg/scm"
)

// API is the part of the CodeCommit client the trigger uses, with the SDK's signatures;
// *codecommit.Client is one.
type API interface {
	GetFile(ctx context.Context, in *codecommit.GetFileInput, optFns ...func(*codecommit.Options)) (*codecommit.GetFileOutput, error)
	GetDifferences(ctx context.Context, in *codecommit.GetDifferencesInput, optFns ...func(*codecommit.Options)) (*codecommit.GetDifferencesOutput, error)
	GetBranch(ctx context.Context, in *codecommit.GetBranchInput, optFns ...func(*codecommit.Options)) (*codecommit.GetBranchOutput, error)
	GetRepository(ctx context.Context, in *codecommit.GetRepositoryInput, optFns ...func(*codecommit.Options)) (*codecommit.GetRepositoryOutput, error)
}

var _ API = (*codecommit.Client)(nil)

// Client reads CodeCommit repositories of the function's account and region. Repositories are
// named by their repository name alone (no owner).
type Client struct {
	api API
}

// NewClient returns a Client calling api.
func NewClient(api API) *Client { return &Client{api: api} }

var _ scm.FileLister = (*Client)(nil)

// ReadFile returns path of repo at commit (GetFile). A missing repository, commit or file is
// an *scm.APIError that scm.ErrNotFound matches.
func (c *Client) ReadFile(ctx context.Context, repo, commit, path string) ([]byte, error) {
	out, err := c.api.GetFile(ctx, &codecommit.GetFileInput{RepositoryName: aws.String(repo), CommitSpecifier: aws.String(commit), FilePath: aws.String(path)})
	if err != nil {
		return nil, fmt.Errorf("read %s of %s at %.12s: %w", path, repo, commit, APIError(err))
	}
	return out.FileContent, nil
}

// Head returns the commit branch of repo points at (GetBranch).
func (c *Client) Head(ctx context.Context, repo, branch string) (string, error) {
	out, err := c.api.GetBranch(ctx, &codecommit.GetBranchInput{RepositoryName: aws.String(repo), BranchName: aws.String(branch)})
	if err != nil {
		return "", fmt.Errorf("head of %s in %s: %w", branch, repo, APIError(err))
	}
	if out.Branch == nil || aws.ToString(out.Branch.CommitId) == "" {
		return "", fmt.Errorf("head of %s in %s: codecommit answered no commit id", branch, repo)
	}
	return aws.ToString(out.Branch.CommitId), nil
}

// DefaultBranch returns repo's default branch (GetRepository); "" for an empty repository,
// which has none yet.
func (c *Client) DefaultBranch(ctx context.Context, repo string) (string, error) {
	out, err := c.api.GetRepository(ctx, &codecommit.GetRepositoryInput{RepositoryName: aws.String(repo)})
	if err != nil {
		return "", fmt.Errorf("default branch of %s: %w", repo, APIError(err))
	}
	if out.RepositoryMetadata == nil {
		return "", nil
	}
	return aws.ToString(out.RepositoryMetadata.DefaultBranch), nil
}

// ChangedFiles lists the paths that differ between base and head (GetDifferences, every
// page): both sides of a rename, each path once, sorted. CodeCommit compares the two trees,
// not a merge base, so the list is complete even for a forced push. An empty base lists every
// file of head, as GetDifferences does without a before commit.
func (c *Client) ChangedFiles(ctx context.Context, repo, base, head string) ([]string, bool, error) {
	in := &codecommit.GetDifferencesInput{RepositoryName: aws.String(repo), AfterCommitSpecifier: aws.String(head)}
	if base != "" && !scm.IsZero(base) {
		in.BeforeCommitSpecifier = aws.String(base)
	}
	var files []string
	for page := 1; ; page++ {
		out, err := c.api.GetDifferences(ctx, in)
		if err != nil {
			return nil, false, fmt.Errorf("differences of %s between %.12s and %.12s (page %d): %w", repo, base, head, page, APIError(err))
		}
		for _, d := range out.Differences {
			if d.BeforeBlob != nil {
				files = append(files, aws.ToString(d.BeforeBlob.Path))
			}
			if d.AfterBlob != nil {
				files = append(files, aws.ToString(d.AfterBlob.Path))
			}
		}
		next := aws.ToString(out.NextToken)
		if next == "" {
			break
		}
		if in.NextToken != nil && *in.NextToken == next {
			return nil, false, fmt.Errorf("differences of %s: codecommit answered the same page token twice", repo)
		}
		in.NextToken = aws.String(next)
	}
	return scm.Files(files), true, nil
}

// APIError turns a CodeCommit failure into an *scm.APIError, so callers sort it as they sort
// the other providers' answers: a missing repository, commit, branch, file or folder is a
// 404 (scm.ErrNotFound); a refusal (IAM, KMS, credentials) a 403 (scm.ErrUnauthorized);
// throttling a 429; otherwise the answer's own HTTP status. An error without an answer (a
// network failure, a canceled context) is returned as it is.
func APIError(err error) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return err
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	code := ae.ErrorCode()
	switch {
	case strings.HasSuffix(code, "DoesNotExistException"):
		status = http.StatusNotFound
	case strings.HasSuffix(code, "AccessDeniedException"), strings.Contains(code, "EncryptionKey"),
		code == "UnrecognizedClientException", code == "InvalidSignatureException", code == "ExpiredTokenException",
		code == "InvalidClientTokenId", code == "MissingAuthenticationToken":
		status = http.StatusForbidden
	case code == "ThrottlingException", code == "TooManyRequestsException", code == "RequestLimitExceeded":
		status = http.StatusTooManyRequests
	case status == 0:
		status = http.StatusBadRequest
	}
	msg := strings.Join(strings.Fields(code+": "+ae.ErrorMessage()), " ")
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return &scm.APIError{Provider: "codecommit", StatusCode: status, Message: msg, Err: err}
}
