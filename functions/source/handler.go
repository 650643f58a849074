package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/sourcearchive"
	"github.com/stepline/stepline/pkg/statemachine"
)

// Input is what the state machine sends for one source action.
type Input struct {
	// Run names the pipeline run, for the logs.
	Run string `json:"run"`
	// Task names the action ("Source/Source#1"); it comes back in the Output.
	Task string `json:"task"`
	// Provider is github, bitbucket, bitbucket-server or codecommit.
	Provider string `json:"provider"`
	// Repository is the repository's full name: owner/repo, workspace/repo, PROJECT/repo,
	// or a CodeCommit repository's name.
	Repository string `json:"repository"`
	// Commit is the full commit id to archive.
	Commit string `json:"commit"`
	// Hook is the repository's webhook id, which names its secret; empty for CodeCommit,
	// which the function reads with its own role.
	Hook string `json:"hook"`
	// Bucket and Key are where the zip goes.
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
}

// inputFields is Input without its JSON method.
type inputFields Input

// UnmarshalJSON decodes Input and turns a value of the wrong type into SourceInvalidInput,
// so the state machine catches it by name like any other bad input. It reads both the flat
// form and the state machine's document, {run, task: statemachine.Item}, which the Source
// state passes as it is (it has no Parameters, see pipeline.asl.json).
func (in *Input) UnmarshalJSON(b []byte) error {
	var doc struct {
		Run  string          `json:"run"`
		Task json.RawMessage `json:"task"`
	}
	if err := json.Unmarshal(b, &doc); err == nil && len(doc.Task) > 0 && doc.Task[0] == '{' {
		var it statemachine.Item
		if err := json.Unmarshal(doc.Task, &it); err != nil || it.Source == nil {
			return &SourceInvalidInput{failure{msg: "source input: the task has no source settings"}}
		}
		*in = Input{Run: doc.Run, Task: it.ID, Provider: it.Source.Provider, Repository: it.Source.Repository,
			Commit: it.Source.Commit, Hook: it.Source.Hook, Bucket: it.Source.Bucket, Key: it.Source.Key}
		return nil
	}
	var f inputFields
	if err := json.Unmarshal(b, &f); err != nil {
		return &SourceInvalidInput{failure{msg: "source input: " + err.Error(), cause: err}}
	}
	*in = Input(f)
	return nil
}

// Output is the action's result: the artifact the next actions read.
type Output struct {
	Task     string   `json:"task"`
	Artifact Artifact `json:"artifact"`
}

// Artifact is an uploaded source zip.
type Artifact struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	// ChecksumCRC32 is the zip's full-object CRC32, base64, as S3 answered the upload
	// (sourcearchive.Result.Checksum): what `aws s3api head-object --checksum-mode ENABLED`
	// shows as ChecksumCRC32. Empty when the store answered none.
	ChecksumCRC32 string `json:"checksum_crc32"`
}

// secretSource reads repository secrets (reposecret.Store).
type secretSource interface {
	Get(ctx context.Context, hook string) (reposecret.Secret, error)
}

var _ secretSource = (*reposecret.Store)(nil)

// archivers builds a provider's Archiver from a repository secret (sourcearchive.Providers).
type archivers interface {
	For(s reposecret.Secret) (sourcearchive.Archiver, error)
}

var _ archivers = sourcearchive.Providers{}

// streamer streams an archive or a tree walk into S3 (*sourcearchive.Streamer).
type streamer interface {
	Stream(ctx context.Context, src sourcearchive.Archiver, repo, commit string, dst sourcearchive.Location) (sourcearchive.Result, error)
	StreamTree(ctx context.Context, src sourcearchive.Tree, repo, commit string, dst sourcearchive.Location) (sourcearchive.Result, error)
}

var _ streamer = (*sourcearchive.Streamer)(nil)

// Handler archives one commit into S3 for a source action.
type Handler struct {
	// Secrets holds each repository's provider token.
	Secrets secretSource
	// Archivers builds the provider's downloader.
	Archivers archivers
	// Streamer converts and uploads.
	Streamer streamer
	// CodeCommit reads CodeCommit commits with the function's role (sourcearchive.CodeCommit);
	// nil refuses CodeCommit sources.
	CodeCommit sourcearchive.Tree
	// Log receives one line per invocation, never a token; nil discards.
	Log *slog.Logger
}

func (h *Handler) log() *slog.Logger {
	if h.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Log
}

// Handle archives in.Commit of in.Repository to s3://in.Bucket/in.Key. Its errors are the
// named types of errors.go, returned unwrapped so the state machine catches them by name.
func (h *Handler) Handle(ctx context.Context, in Input) (Output, error) {
	start := time.Now()
	out, err := h.handle(ctx, in)
	attrs := []any{slog.String("run", in.Run), slog.String("task", in.Task), slog.String("provider", in.Provider),
		slog.String("repository", in.Repository), slog.String("commit", in.Commit), slog.Duration("took", time.Since(start))}
	if err != nil {
		h.log().ErrorContext(ctx, "source not archived", append(attrs, slog.String("error_type", errorType(err)), slog.String("error", err.Error()))...)
		return Output{}, err
	}
	h.log().InfoContext(ctx, "source archived", append(attrs, slog.String("bucket", out.Artifact.Bucket), slog.String("key", out.Artifact.Key),
		slog.Int64("size", out.Artifact.Size), slog.String("checksum_crc32", out.Artifact.ChecksumCRC32))...)
	return out, nil
}

func (h *Handler) handle(ctx context.Context, in Input) (Output, error) {
	if err := in.validate(); err != nil {
		return Output{}, err
	}
	dst := sourcearchive.Location{Bucket: in.Bucket, Key: in.Key}
	if in.Provider == scm.CodeCommit {
		// No secret: the function's role may read the account's repositories.
		if h.CodeCommit == nil {
			return Output{}, &SourceInvalidInput{failure{msg: "source input: provider codecommit: no CodeCommit client is configured"}}
		}
		res, err := h.Streamer.StreamTree(ctx, h.CodeCommit, in.Repository, in.Commit, dst)
		if err != nil {
			return Output{}, classify(err)
		}
		return output(in, res), nil
	}
	secret, err := h.Secrets.Get(ctx, in.Hook)
	if err != nil {
		return Output{}, classify(fmt.Errorf("hook %s: %w", hookPrefix(in.Hook), err))
	}
	if secret.Provider != in.Provider || !strings.EqualFold(secret.Repository, in.Repository) {
		// The token is for the repository the hook was registered for, and no other.
		return Output{}, &SourceUnauthorized{failure{msg: fmt.Sprintf("hook %s is registered for %s %s, not %s %s",
			hookPrefix(in.Hook), secret.Provider, secret.Repository, in.Provider, in.Repository)}}
	}
	arc, err := h.Archivers.For(secret)
	if err != nil {
		return Output{}, &SourceInvalidInput{failure{msg: err.Error(), cause: err}}
	}
	res, err := h.Streamer.Stream(ctx, arc, in.Repository, in.Commit, dst)
	if err != nil {
		return Output{}, classify(err)
	}
	return output(in, res), nil
}

func output(in Input, res sourcearchive.Result) Output {
	return Output{Task: in.Task, Artifact: Artifact{Bucket: res.Bucket, Key: res.Key, Size: res.Size, ChecksumCRC32: res.Checksum}}
}

// validate checks the input before any call, naming every problem at once.
func (in Input) validate() error {
	var problems []string
	codecommit := in.Provider == scm.CodeCommit
	for _, f := range []struct{ name, value string }{
		{"task", in.Task}, {"provider", in.Provider}, {"repository", in.Repository}, {"commit", in.Commit},
		{"hook", in.Hook}, {"bucket", in.Bucket}, {"key", in.Key},
	} {
		// CodeCommit repositories have no hook: no secret names their credentials.
		if f.value == "" && !(codecommit && f.name == "hook") {
			problems = append(problems, f.name+" is missing")
		}
	}
	switch in.Provider {
	case "", scm.GitHub, scm.Bitbucket, scm.BitbucketServer, scm.CodeCommit:
	default:
		problems = append(problems, fmt.Sprintf("provider %q is not github, bitbucket, bitbucket-server or codecommit", clip(in.Provider)))
	}
	if in.Commit != "" && !sourcearchive.ValidCommit(in.Commit) {
		problems = append(problems, fmt.Sprintf("commit %q is not a full commit id", clip(in.Commit)))
	}
	switch {
	case in.Repository == "":
	case codecommit && !sourcearchive.ValidCodeCommitRepository(in.Repository):
		problems = append(problems, fmt.Sprintf("repository %q is not a CodeCommit repository name", clip(in.Repository)))
	case !codecommit && !sourcearchive.ValidRepository(in.Repository):
		problems = append(problems, fmt.Sprintf("repository %q is not owner/name", clip(in.Repository)))
	}
	if in.Hook != "" && !reposecret.ValidHook(in.Hook) {
		problems = append(problems, "hook is not a hook id")
	}
	if len(in.Key) > 1024 {
		problems = append(problems, "key is longer than S3's 1024 bytes")
	}
	if problems == nil {
		return nil
	}
	return &SourceInvalidInput{failure{msg: "source input: " + strings.Join(problems, "; ")}}
}

// hookPrefix shows the start of a hook id: enough to tell hooks apart in a log, too little
// to deliver to it.
func hookPrefix(hook string) string {
	if len(hook) > 6 {
		return hook[:6] + "…"
	}
	return hook
}

// clip shortens an untrusted value for a message.
func clip(s string) string {
	if r := []rune(s); len(r) > 80 {
		return string(r[:80]) + "…"
	}
	return s
}
