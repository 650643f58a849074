package scm_test

import (
	"errors"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

// The ref checker is compared with git itself: every name below, and a few hundred random
// ones built from the characters git's rules are about, must be accepted or refused by
// CheckRef and CheckBranch exactly as `git check-ref-format` and `git check-ref-format
// --branch` accept or refuse them.

// trickyNames are names each of git's rules (https://git-scm.com/docs/git-check-ref-format)
// is about, on both sides of the line.
var trickyNames = []string{
	"main", "feature/x", "release/1.2", "v1.0.0", "a-b_c", "ünïcødé", "a@b", "@b", "b@", "a/@", "{", "}", "@}", "a{b}",
	"x.lo ck", "lock", "a.loc", "a.lockx", "-x", "--upload-pack=x", "HEAD", "HEAD~1", "main^", "main^{commit}",
	"", "@", "@@", "a@{1}", "@{-1}", "a..b", "..", ".", "a.", "a.b.", ".hidden", "a/.b", "a/b.", "a.lock", "a/b.lock",
	"a.lock/b", ".lock", "a/", "/a", "a//b", "a b", "a~1", "a:b", "a?", "a*", "a[b", "a]b", "a\\b", "a\tb", "a\nb",
	"a\x7fb", "a\x01", "envs/../x", "../x", "x/..", "a/./b", "refs/heads/main", "refs/heads/a..b", "refs/tags/v1",
	"refs/pull/7/head", "refs/pull-requests/7/from", "refs/heads/", "refs/heads//x", "refs/heads/@", "refs/@",
	"@/x", "refs/heads/HEAD", "refs/heads/-x", "refs/heads/.x", "refs/heads/x.lock", "refs", "refs/", "a/b/c/d",
	"a\xffb", "#{source.branch}", "$(id)", "`id`", "a;b", "a|b", "a&b", "a'b", "a\"b", "a<b>", "a=b", "a,b", "a%2e%2e",
}

// git runs `git check-ref-format args…` outside any repository and reports whether it
// accepted.
func git(t *testing.T, dir string, args ...string) bool {
	t.Helper()
	cmd := exec.Command("git", append([]string{"check-ref-format"}, args...)...) // it takes no "--"
	cmd.Dir = dir
	cmd.Env = []string{"GIT_CEILING_DIRECTORIES=" + dir, "HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1", "PATH=/usr/bin:/bin:/usr/local/bin"}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return false
	}
	require.NoError(t, err, "git check-ref-format %q: %s", args, out)
	return true
}

// needGit fails (never skips) when git is missing: the comparison is the point of the test.
func needGit(t *testing.T) string {
	t.Helper()
	_, err := exec.LookPath("git")
	require.NoError(t, err, "these tests compare with git's own check-ref-format: install git")
	return t.TempDir()
}

// compare checks CheckRef, CheckBranch and CheckTag against git for name. git reads a name
// that begins with "-" as an option (it takes no "--"), so those are tested apart.
func compare(t *testing.T, dir, name string) {
	t.Helper()
	if strings.HasPrefix(name, "-") {
		return
	}
	assert.Equal(t, git(t, dir, name), scm.CheckRef(name) == nil, "CheckRef(%q) against `git check-ref-format %q`: %v", name, name, scm.CheckRef(name))
	if name != "" {
		assert.Equal(t, git(t, dir, "--branch", name), scm.CheckBranch(name) == nil,
			"CheckBranch(%q) against `git check-ref-format --branch %q`: %v", name, name, scm.CheckBranch(name))
	}
	tag := "refs/tags/" + name
	if name != "" {
		assert.Equal(t, git(t, dir, tag), scm.CheckTag(name) == nil, "CheckTag(%q) against `git check-ref-format %q`", name, tag)
	}
}

func TestTheRefCheckerAgreesWithGitOnTrickyNames(t *testing.T) {
	t.Parallel()
	dir := needGit(t)
	for _, name := range trickyNames {
		compare(t, dir, name)
	}
}

func TestTheRefCheckerAgreesWithGitOnRandomNames(t *testing.T) {
	t.Parallel()
	dir := needGit(t)
	// Ordinary pieces, drawn most often, and one of the pieces git's rules are about now and
	// then, so that many names sit near a line rather than far on the refused side.
	plain := []string{"a", "b", "x", "/", "/", "-", "_", "1", "é", "refs/", "heads/", "HEAD"}
	special := []string{".", ".", "..", "@", "@{", "{", "}", "~", "^", ":", "?", "*", "[", "\\", " ", "\t", "\x7f", ".lock", "//"}
	rng := rand.New(rand.NewPCG(11, 6))
	names := make(chan string)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for name := range names {
				compare(t, dir, name)
			}
		})
	}
	for range 400 {
		var b strings.Builder
		for range 1 + rng.IntN(8) {
			if rng.IntN(5) == 0 {
				b.WriteString(special[rng.IntN(len(special))])
			} else {
				b.WriteString(plain[rng.IntN(len(plain))])
			}
		}
		names <- b.String()
	}
	close(names)
	wg.Wait()
}

// FuzzCheckRefMatchesGit compares CheckRef and CheckBranch with git for any name (make fuzz).
func FuzzCheckRefMatchesGit(f *testing.F) {
	for _, name := range trickyNames {
		f.Add(name)
	}
	dir := f.TempDir()
	if _, err := exec.LookPath("git"); err != nil {
		f.Fatal("FuzzCheckRefMatchesGit compares with git's own check-ref-format: install git")
	}
	f.Fuzz(func(t *testing.T, name string) {
		if strings.IndexByte(name, 0) >= 0 {
			// No command line can carry a NUL to git; CheckRef refuses it (tested apart).
			require.Error(t, scm.CheckRef(name))
			return
		}
		compare(t, dir, name)
	})
}

func TestNamesGitCannotBeGivenOrReadsAsOptionsAreRefused(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		check func(string) error
		value string
	}{
		{"a NUL byte in a ref", scm.CheckRef, "refs/heads/a\x00b"},
		{"a branch that begins with a dash", scm.CheckBranch, "-x"},
		{"a branch that is an option of git", scm.CheckBranch, "--upload-pack=touch /tmp/x"},
		{"a tag that begins with a dash", scm.CheckTag, "-v1"},
		{"an empty branch", scm.CheckBranch, ""},
		{"an empty tag", scm.CheckTag, ""},
		{"the branch HEAD", scm.CheckBranch, "HEAD"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.check(c.value)
			var refErr *scm.RefError
			require.ErrorAs(t, err, &refErr)
			assert.Equal(t, c.value, refErr.Value)
		})
	}
}

func TestRefErrorsSayWhichRuleTheNameBreaks(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"a..b":      `branch "a..b" is not a valid git ref name: it contains ".."`,
		"a.lock":    `branch "a.lock" is not a valid git ref name: a component ends with ".lock"`,
		"x/.y":      `branch "x/.y" is not a valid git ref name: a component begins with "."`,
		"a b":       `branch "a b" is not a valid git ref name: it contains ' '`,
		"a@{1}":     `branch "a@{1}" is not a valid git ref name: it contains "@{"`,
		"a*":        `branch "a*" is not a valid git ref name: it contains the pattern character '*'`,
		"a.":        `branch "a." is not a valid git ref name: it ends with "."`,
		"a//b":      `branch "a//b" is not a valid git ref name: it begins or ends with "/" or contains "//"`,
		"--help":    `branch "--help" is not a valid git ref name: it begins with "-"`,
		"a\\b":      `branch "a\\b" is not a valid git ref name: it contains "\"`,
		"x\x1b[31m": `branch "x\x1b[31m" is not a valid git ref name: it contains a control character`,
	} {
		assert.EqualError(t, scm.CheckBranch(name), want)
	}
	long := strings.Repeat("a", 300) + ".."
	assert.Len(t, scm.CheckBranch(long).Error(), len(`branch "`)+100+len(`"… is not a valid git ref name: it contains ".."`))
}

func TestCommitsAreFullLowercaseHexObjectIDs(t *testing.T) {
	t.Parallel()
	sha1, sha256 := strings.Repeat("0123456789abcdef", 3)[:40], strings.Repeat("0123456789abcdef", 4)
	for _, ok := range []string{sha1, sha256, scm.ZeroSHA, strings.Repeat("0", 64)} {
		assert.NoError(t, scm.CheckCommit(ok), ok)
	}
	for _, bad := range []string{
		"", "HEAD", "HEAD~1", "main", "main^", "--upload-pack=x", "-" + sha1[1:], sha1[:7], sha1[:39], sha1 + "0",
		strings.ToUpper(sha1), sha1[:39] + "g", sha1[:39] + " ", " " + sha1[1:], sha256[:63], sha256 + "0",
		sha1[:20] + "\x00" + sha1[21:], "refs/heads/main",
	} {
		err := scm.CheckCommit(bad)
		var refErr *scm.RefError
		require.ErrorAs(t, err, &refErr, "%q", bad)
		assert.Equal(t, "commit", refErr.What)
		assert.Contains(t, err.Error(), "is not a full commit id")
	}
}

func TestAnEventIsCheckedInEveryRefAndCommitItCarries(t *testing.T) {
	t.Parallel()
	full := strings.Repeat("ab", 20)
	push := scm.Event{Provider: scm.GitHub, Kind: scm.KindPush, Ref: "refs/heads/main", Branch: "main", Before: scm.ZeroSHA, After: full,
		Repository: scm.Repository{FullName: "o/r", DefaultBranch: "main"}}
	pr := scm.Event{Provider: scm.GitHub, Kind: scm.KindPullRequest, Ref: "refs/pull/7/head", After: full,
		PullRequest: &scm.PullRequest{Number: 7, SourceBranch: "feature", TargetBranch: "main", HeadSHA: full, BaseSHA: full}}
	bitbucketPR := pr
	bitbucketPR.Provider, bitbucketPR.Ref, bitbucketPR.After = scm.Bitbucket, "refs/heads/feature", "9e8d7c6b5a43"
	bbPR := *pr.PullRequest
	bbPR.HeadSHA, bbPR.BaseSHA = "9e8d7c6b5a43", "c3b1e5d7f9a2"
	bitbucketPR.PullRequest = &bbPR

	require.NoError(t, push.Check())
	require.NoError(t, pr.Check())
	require.NoError(t, bitbucketPR.Check(), "Bitbucket Cloud's pull requests carry short hashes")
	require.NoError(t, scm.Event{Provider: scm.ECR, Kind: scm.KindImage}.Check(), "an event without refs or commits")

	for name, c := range map[string]struct {
		edit func(e *scm.Event)
		want string
	}{
		"a ref that is not a full name":           {func(e *scm.Event) { e.Ref = "main" }, `ref "main" is not a valid git ref name: it does not begin with "refs/"`},
		"a ref that reads as an option":           {func(e *scm.Event) { e.Ref = "--upload-pack=x/y" }, `does not begin with "refs/"`},
		"a ref git forbids":                       {func(e *scm.Event) { e.Ref = "refs/heads/a b" }, `ref "refs/heads/a b"`},
		"a branch git forbids":                    {func(e *scm.Event) { e.Branch = "x/../y" }, `branch "x/../y"`},
		"a default branch git forbids":            {func(e *scm.Event) { e.Repository.DefaultBranch = "ma..in" }, `branch "ma..in"`},
		"a tag git forbids":                       {func(e *scm.Event) { e.Tag = "v1^" }, `tag "v1^"`},
		"an after that is a revision":             {func(e *scm.Event) { e.After = "HEAD~1" }, `commit "HEAD~1"`},
		"a before that is short":                  {func(e *scm.Event) { e.Before = full[:12] }, `commit "` + full[:12] + `"`},
		"a head commit that is an option":         {func(e *scm.Event) { e.HeadCommit = "--upload-pack=x" }, `commit "--upload-pack=x"`},
		"a pull request from a bad branch":        {func(e *scm.Event) { e.PullRequest = &scm.PullRequest{SourceBranch: "a..b"} }, `branch "a..b"`},
		"a pull request into a bad branch":        {func(e *scm.Event) { e.PullRequest = &scm.PullRequest{TargetBranch: "-x"} }, `branch "-x"`},
		"a GitHub pull request with a short head": {func(e *scm.Event) { e.PullRequest = &scm.PullRequest{HeadSHA: full[:12]} }, `commit "` + full[:12] + `"`},
		"a Bitbucket push with a short after":     {func(e *scm.Event) { e.Provider, e.After = scm.Bitbucket, full[:12] }, `commit "` + full[:12] + `"`},
	} {
		e := push
		c.edit(&e)
		err := e.Check()
		var refErr *scm.RefError
		require.ErrorAs(t, err, &refErr, name)
		assert.Contains(t, err.Error(), c.want, name)
	}
	for _, bad := range []string{"HEAD~1", "9e8d7c", "--upload-pack"} {
		e := bitbucketPR
		pr := *e.PullRequest
		pr.HeadSHA = bad
		e.PullRequest = &pr
		assert.Error(t, e.Check(), "a Bitbucket pull request's head %q: short ids are hex of at least 7 digits", bad)
	}
}
