package sourcearchive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codecommit"
	cctypes "github.com/aws/aws-sdk-go-v2/service/codecommit/types"

	"github.com/stepline/stepline/pkg/scm"
	sccodecommit "github.com/stepline/stepline/pkg/scm/codecommit"
)

// codeCommitAPI is the part of the CodeCommit client a tree walk uses, with the SDK's
// signatures.
type codeCommitAPI interface {
	GetFolder(ctx context.Context, in *codecommit.GetFolderInput, optFns ...func(*codecommit.Options)) (*codecommit.GetFolderOutput, error)
	GetBlob(ctx context.Context, in *codecommit.GetBlobInput, optFns ...func(*codecommit.Options)) (*codecommit.GetBlobOutput, error)
}

var _ codeCommitAPI = (*codecommit.Client)(nil)

// CodeCommit is the Tree of CodeCommit repositories of the caller's account and region, read
// with the caller's IAM credentials (codecommit:GetFolder, codecommit:GetBlob): CodeCommit has
// no archive API. Repositories are named by their name alone.
type CodeCommit struct {
	api codeCommitAPI
}

// NewCodeCommit returns the Tree reading through api (a *codecommit.Client).
func NewCodeCommit(api codeCommitAPI) *CodeCommit { return &CodeCommit{api: api} }

var _ Tree = (*CodeCommit)(nil)

// codeCommitName is CodeCommit's repository naming rule.
var codeCommitName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)

// ValidCodeCommitRepository reports whether name can be a CodeCommit repository's name:
// letters, digits, . _ -, at most 100, and not "." or "..".
func ValidCodeCommitRepository(name string) bool {
	return codeCommitName.MatchString(name) && name != "." && name != ".."
}

// Folder implements Tree with GetFolder. Entries are named by their relativePath under dir,
// so the layout never depends on how the service spells absolute paths.
func (c *CodeCommit) Folder(ctx context.Context, repo, commit, dir string) (Folder, error) {
	if !ValidCodeCommitRepository(repo) {
		return Folder{}, fmt.Errorf("codecommit: %q is not a repository name", clip(repo))
	}
	if err := checkCommit("codecommit", commit); err != nil {
		return Folder{}, err
	}
	dir = cleanDir(dir)
	out, err := c.api.GetFolder(ctx, &codecommit.GetFolderInput{RepositoryName: aws.String(repo),
		CommitSpecifier: aws.String(commit), FolderPath: aws.String("/" + dir)})
	if err != nil {
		return Folder{}, codeCommitError(fmt.Sprintf("folder /%s of %s at %.12s", dir, repo, commit), err)
	}
	if got := aws.ToString(out.CommitId); got != "" && got != commit {
		return Folder{}, fmt.Errorf("folder /%s of %s: codecommit answered commit %.12s for %.12s", dir, repo, got, commit)
	}
	var f Folder
	name := func(rel *string) (string, error) {
		r := aws.ToString(rel)
		if r == "" || strings.Contains(r, "/") || r == "." || r == ".." {
			return "", fmt.Errorf("%w: folder /%s lists the entry %q", ErrInvalidArchive, dir, clip(r))
		}
		return path.Join(dir, r), nil
	}
	for _, file := range out.Files {
		p, err := name(file.RelativePath)
		if err != nil {
			return Folder{}, err
		}
		// git archive's modes (umask 002), so a CodeCommit zip is the zip GitHub's or
		// Bitbucket's archive of the same commit becomes.
		mode := fs.FileMode(0o664)
		switch file.FileMode {
		case cctypes.FileModeTypeEnumExecutable:
			mode = 0o775
		case cctypes.FileModeTypeEnumSymlink:
			mode = fs.ModeSymlink | 0o777
		}
		f.Files = append(f.Files, TreeFile{Path: p, BlobID: aws.ToString(file.BlobId), Mode: mode})
	}
	for _, link := range out.SymbolicLinks {
		p, err := name(link.RelativePath)
		if err != nil {
			return Folder{}, err
		}
		f.Files = append(f.Files, TreeFile{Path: p, BlobID: aws.ToString(link.BlobId), Mode: fs.ModeSymlink | 0o777})
	}
	for _, sub := range out.SubFolders {
		p, err := name(sub.RelativePath)
		if err != nil {
			return Folder{}, err
		}
		f.Folders = append(f.Folders, p)
	}
	for _, m := range out.SubModules {
		p, err := name(m.RelativePath)
		if err != nil {
			return Folder{}, err
		}
		f.Modules = append(f.Modules, p)
	}
	return f, nil
}

// Blob implements Tree with GetBlob, which answers blobs of up to 6 MB whole; a larger one is
// refused by the service (FileTooLargeException) and fails the archive.
func (c *CodeCommit) Blob(ctx context.Context, repo, id string) ([]byte, error) {
	out, err := c.api.GetBlob(ctx, &codecommit.GetBlobInput{RepositoryName: aws.String(repo), BlobId: aws.String(id)})
	if err != nil {
		return nil, codeCommitError(fmt.Sprintf("blob %.12s of %s", id, repo), err)
	}
	return out.Content, nil
}

// codeCommitError sorts a CodeCommit failure as the archive providers' are sorted: an
// *scm.APIError (404 not found, 403 refused), marked ErrRateLimited when throttled.
func codeCommitError(what string, err error) error {
	err = sccodecommit.APIError(err)
	var api *scm.APIError
	if errors.As(err, &api) && api.StatusCode == http.StatusTooManyRequests {
		return fmt.Errorf("%s: %w (%w)", what, err, ErrRateLimited)
	}
	return fmt.Errorf("%s: %w", what, err)
}
