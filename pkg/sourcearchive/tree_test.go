package sourcearchive

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/codecommit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/codecommit/cctest"
)

const ccRepo = "MyDemoRepo"

// codeCommitTree is sourceTree as CodeCommit holds it (git keeps no empty directory, and
// modes are NORMAL, EXECUTABLE or SYMLINK), and the tree its zip must unpack to: git
// archive's modes, as GitHub and Bitbucket serve them.
func codeCommitTree() (map[string]cctest.Entry, map[string]node) {
	src := sourceTree()
	delete(src, "empty")
	entries, want := map[string]cctest.Entry{}, map[string]node{}
	for p, n := range src {
		switch {
		case n.Mode.IsDir():
			want[p] = node{fs.ModeDir | 0o775, ""}
		case n.Mode&fs.ModeSymlink != 0:
			entries[p] = cctest.Entry{Mode: cctest.Symlink, Content: n.Body}
			want[p] = n
		case n.Mode&0o111 != 0:
			entries[p] = cctest.Entry{Mode: cctest.Executable, Content: n.Body}
			want[p] = node{0o775, n.Body}
		default:
			entries[p] = cctest.Entry{Mode: cctest.Normal, Content: n.Body}
			want[p] = node{0o664, n.Body}
		}
	}
	return entries, want
}

func codeCommitServer(t *testing.T) *cctest.Server {
	t.Helper()
	s := cctest.New(t)
	entries, _ := codeCommitTree()
	s.Repos[ccRepo] = &cctest.Repo{DefaultBranch: "main", Branches: map[string]string{"main": commit},
		Commits: map[string]map[string]cctest.Entry{commit: entries}}
	return s
}

// TestACodeCommitCommitIsStreamedIntoS3AsTheSameZip walks a CodeCommit commit (nested
// directories, an executable, links to a file and to a directory, an incompressible file)
// through the real SDK client and a CodeCommit stand-in, uploads it to gofakes3, and unzips it
// with pkg/artifact: the tree comes back with its modes and links.
func TestACodeCommitCommitIsStreamedIntoS3AsTheSameZip(t *testing.T) {
	t.Parallel()
	srv := codeCommitServer(t)
	client, bucket := fakeS3(t)
	fn, rec := asSourceFunction(t, client, bucket)
	s, err := New(fn, WithPartSize(MinPartSize))
	require.NoError(t, err)
	cc := srv.Client(func(o *codecommit.Options) { o.APIOptions = append(o.APIOptions, rec.Add) })
	res, err := s.StreamTree(t.Context(), NewCodeCommit(cc), ccRepo, commit, Location{Bucket: bucket, Key: "runs/r-1/source.zip"})
	require.NoError(t, err)

	data := object(t, client, bucket, "runs/r-1/source.zip")
	assert.Equal(t, int64(len(data)), res.Size)
	_, want := codeCommitTree()
	assert.Equal(t, want, extracted(t, data))
	assert.Equal(t, len(want), res.Entries, "one entry per file, link and directory")

	zf := entries(t, data)
	assert.Equal(t, fs.FileMode(0o775), zf["bin/build.sh"].Mode().Perm(), "the executable bit survives")
	assert.Equal(t, fs.ModeSymlink, zf["src/current"].Mode().Type(), "a link is stored as a link")
	assert.Equal(t, uint16(0), zf["assets/logo.png"].Method, "incompressible content is stored")
	assert.Equal(t, uint16(8), zf["src/app/internal/deep/main.go"].Method, "text is deflated")
	assert.True(t, zf["src/"].Mode().IsDir())

	calls := srv.Calls()
	var folders, blobs int
	for _, c := range calls {
		switch {
		case strings.HasPrefix(c, "GetFolder "):
			folders++
		case strings.HasPrefix(c, "GetBlob "):
			blobs++
		}
	}
	assert.Equal(t, 9, folders, "one GetFolder per directory: /, assets, bin, docs, src, src/app, src/app/internal, src/app/internal/deep, with space")
	assert.Equal(t, 9, blobs, "one GetBlob per file and link")
}

func TestCodeCommitFailuresKeepTheirMeaningAndLeaveNoUpload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		repo      string
		exception string
		status    int
		op        string
		is        error
	}{
		{name: "a missing repository is not found", repo: "NoSuchRepo", is: scm.ErrNotFound},
		{name: "a missing commit is not found", op: "GetFolder", status: http.StatusBadRequest, exception: "CommitDoesNotExistException", is: scm.ErrNotFound},
		{name: "a refused role is unauthorized", op: "GetBlob", status: http.StatusBadRequest, exception: "AccessDeniedException", is: scm.ErrUnauthorized},
		{name: "a refused KMS key is unauthorized", op: "GetBlob", status: http.StatusBadRequest, exception: "EncryptionKeyAccessDeniedException", is: scm.ErrUnauthorized},
		{name: "throttling is a rate limit", op: "GetBlob", status: http.StatusBadRequest, exception: "ThrottlingException", is: ErrRateLimited},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := codeCommitServer(t)
			if tc.op != "" {
				var n atomic.Int32
				srv.Fail = func(op string, _ map[string]any) (int, string) {
					// Fails a read half-way, once the upload has started.
					if op == tc.op && (op == "GetFolder" || n.Add(1) == 5) {
						return tc.status, tc.exception
					}
					return 0, ""
				}
			}
			client, bucket := fakeS3(t)
			s, err := New(client, WithPartSize(MinPartSize))
			require.NoError(t, err)
			repo := ccRepo
			if tc.repo != "" {
				repo = tc.repo
			}
			_, err = s.StreamTree(t.Context(), NewCodeCommit(srv.Client()), repo, commit, Location{Bucket: bucket, Key: "runs/x.zip"})
			require.ErrorIs(t, err, tc.is)
			assert.Zero(t, pendingUploads(t, client, bucket), "no parts left behind")
		})
	}
}

func TestATreeWalkRefusesBadNamesBeforeAnyCall(t *testing.T) {
	t.Parallel()
	srv := codeCommitServer(t)
	cc := NewCodeCommit(srv.Client())
	_, err := cc.Folder(t.Context(), "../etc", commit, "")
	assert.Error(t, err)
	_, err = cc.Folder(t.Context(), ccRepo, "main", "")
	assert.Error(t, err, "a branch name is not a commit id")
	assert.Empty(t, srv.Calls())
	assert.True(t, ValidCodeCommitRepository("My.Demo-Repo_2"))
	assert.False(t, ValidCodeCommitRepository("owner/repo"))
}

// memTree is a Tree in memory whose blob reads can be held back, to watch the walk's bounds.
type memTree struct {
	folders map[string]Folder
	blobs   map[string]string
	hold    chan struct{} // when set, a read of blob "b0" waits for it
	mu      sync.Mutex
	started []string
	active  atomic.Int32
	peak    atomic.Int32
}

func (m *memTree) Folder(_ context.Context, _, _, dir string) (Folder, error) {
	f, ok := m.folders[dir]
	if !ok {
		return Folder{}, &scm.APIError{Provider: "test", StatusCode: http.StatusNotFound}
	}
	return f, nil
}

func (m *memTree) Blob(ctx context.Context, _, id string) ([]byte, error) {
	m.mu.Lock()
	m.started = append(m.started, id)
	m.mu.Unlock()
	n := m.active.Add(1)
	defer m.active.Add(-1)
	for {
		p := m.peak.Load()
		if n <= p || m.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if id == "b0" && m.hold != nil {
		select {
		case <-m.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	time.Sleep(time.Millisecond)
	return []byte(m.blobs[id]), nil
}

func flatTree(n int) *memTree {
	m := &memTree{folders: map[string]Folder{}, blobs: map[string]string{}}
	var root Folder
	for i := range n {
		id := fmt.Sprintf("b%d", i)
		root.Files = append(root.Files, TreeFile{Path: fmt.Sprintf("f%03d.txt", i), BlobID: id, Mode: 0o644})
		m.blobs[id] = strings.Repeat(id, 100)
	}
	m.folders[""] = root
	return m
}

func TestATreeWalkHoldsAtMostItsConcurrencyOfBlobs(t *testing.T) {
	t.Parallel()
	m := flatTree(40)
	m.hold = make(chan struct{})
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		_, err := zipTree(t.Context(), &out, m, "r", commit, 4)
		done <- err
	}()
	// The first blob is held: the zip cannot move past it, so no more than four blobs may be
	// read or waiting, however many the tree has.
	require.Eventually(t, func() bool { m.mu.Lock(); defer m.mu.Unlock(); return len(m.started) == 4 }, 5*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	m.mu.Lock()
	assert.Len(t, m.started, 4, "a fifth read would hold a fifth blob")
	m.mu.Unlock()
	close(m.hold)
	require.NoError(t, <-done)
	assert.LessOrEqual(t, m.peak.Load(), int32(4))

	zf := entries(t, out.Bytes())
	require.Len(t, zf, 40)
	r, err := zf["f017.txt"].Open()
	require.NoError(t, err)
	b, _ := io.ReadAll(r)
	assert.Equal(t, strings.Repeat("b17", 100), string(b), "each file gets its own blob, whatever order they arrive in")
}

func TestATreeWalkStopsAtTheFirstFailure(t *testing.T) {
	t.Parallel()
	m := flatTree(3)
	m.folders[""] = Folder{Files: append(m.folders[""].Files, TreeFile{Path: "../escape", BlobID: "b0", Mode: 0o644})}
	_, err := zipTree(t.Context(), io.Discard, m, "r", commit, 2)
	require.ErrorIs(t, err, ErrInvalidArchive)

	m = flatTree(3)
	m.folders[""] = Folder{Folders: []string{"gone"}}
	_, err = zipTree(t.Context(), io.Discard, m, "r", commit, 2)
	require.ErrorIs(t, err, scm.ErrNotFound, "a folder that cannot be listed")

	m = flatTree(3)
	m.folders[""] = Folder{Files: []TreeFile{{Path: "link", BlobID: "missing", Mode: fs.ModeSymlink | 0o777}}}
	_, err = zipTree(t.Context(), io.Discard, m, "r", commit, 2)
	require.ErrorIs(t, err, ErrInvalidArchive, "a link without a target")
}
