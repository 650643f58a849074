// Package cctest is a CodeCommit stand-in for tests: an httptest server speaking CodeCommit's
// JSON 1.1 protocol (POST /, X-Amz-Target CodeCommit_20150413.<Operation>) over repositories
// held in memory, answering the response and error shapes of the real service (the SDK's own
// response snapshots). It serves GetFile, GetDifferences, GetBranch, GetRepository, GetFolder
// and GetBlob. It is imported by tests only.
package cctest

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codecommit"
)

// File modes, as CodeCommit names them.
const (
	Normal     = "NORMAL"
	Executable = "EXECUTABLE"
	Symlink    = "SYMLINK"
)

// Entry is one file of a commit's tree: its mode and content (a symlink's content is its
// target).
type Entry struct {
	Mode    string
	Content string
}

// Repo is a repository: commits by id (each a whole tree, path → entry), branches, and the
// default branch.
type Repo struct {
	DefaultBranch string
	Branches      map[string]string
	Commits       map[string]map[string]Entry
}

// Server is the stand-in. Set Repos before the first request, or guard changes with Lock.
type Server struct {
	*httptest.Server
	sync.Mutex
	Repos map[string]*Repo
	// PageSize bounds GetDifferences pages (default 100, the service's default).
	PageSize int
	// Fail, when set, may answer an operation with an error instead: a status and an
	// exception name; status 0 lets the operation run.
	Fail  func(op string, in map[string]any) (status int, exception string)
	calls []string
	blobs map[string]string
}

// New starts a server, closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{Repos: map[string]*Repo{}, blobs: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Client returns a real CodeCommit client pointed at the server, with optFns applied (a
// recorder's middleware, say).
func (s *Server) Client(optFns ...func(*codecommit.Options)) *codecommit.Client {
	return codecommit.New(codecommit.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL),
		Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1}, optFns...)
}

// Calls returns the operations asked so far, in order, each with its main argument
// ("GetFile .stepline.yml@c1").
func (s *Server) Calls() []string {
	s.Lock()
	defer s.Unlock()
	return slices.Clone(s.calls)
}

// BlobID is the id GetFolder gives content: git's blob id.
func BlobID(content string) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00%s", len(content), content)
	return hex.EncodeToString(h.Sum(nil))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "CodeCommit_20150413.")
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if r.Method != http.MethodPost || !ok || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.1") {
		fail(w, http.StatusBadRequest, "UnknownOperationException", "unknown operation "+target)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		fail(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	str := func(k string) string { v, _ := in[k].(string); return v }
	s.Lock()
	defer s.Unlock()
	s.calls = append(s.calls, strings.TrimSpace(op+" "+callArg(op, str)))
	if s.Fail != nil {
		if status, exc := s.Fail(op, in); status != 0 {
			fail(w, status, exc, exc+" (injected)")
			return
		}
	}
	repo, ok := s.Repos[str("repositoryName")]
	if !ok {
		fail(w, http.StatusBadRequest, "RepositoryDoesNotExistException", str("repositoryName")+" does not exist")
		return
	}
	switch op {
	case "GetRepository":
		answer(w, map[string]any{"repositoryMetadata": map[string]any{"accountId": "123456789012", "repositoryId": "12345678-1234-5678-abcd-12345678abcd",
			"repositoryName": str("repositoryName"), "defaultBranch": repo.DefaultBranch,
			"Arn":          "arn:aws:codecommit:us-east-1:123456789012:" + str("repositoryName"),
			"cloneUrlHttp": "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/" + str("repositoryName")}})
	case "GetBranch":
		c, ok := repo.Branches[str("branchName")]
		if !ok {
			fail(w, http.StatusBadRequest, "BranchDoesNotExistException", "Branch '"+str("branchName")+"' does not exist")
			return
		}
		answer(w, map[string]any{"branch": map[string]any{"branchName": str("branchName"), "commitId": c}})
	case "GetFile":
		tree, id, ok := repo.resolve(str("commitSpecifier"))
		if !ok {
			fail(w, http.StatusBadRequest, "CommitDoesNotExistException", "Could not find commit "+str("commitSpecifier"))
			return
		}
		e, ok := tree[strings.TrimPrefix(str("filePath"), "/")]
		if !ok {
			fail(w, http.StatusBadRequest, "FileDoesNotExistException", "Could not find path "+str("filePath"))
			return
		}
		answer(w, map[string]any{"blobId": BlobID(e.Content), "commitId": id, "fileContent": base64.StdEncoding.EncodeToString([]byte(e.Content)),
			"fileMode": e.Mode, "filePath": str("filePath"), "fileSize": len(e.Content)})
	case "GetDifferences":
		s.differences(w, repo, in, str)
	case "GetFolder":
		s.folder(w, repo, str)
	case "GetBlob":
		content, ok := s.blobs[str("blobId")]
		if !ok {
			fail(w, http.StatusBadRequest, "BlobIdDoesNotExistException", "Blob "+str("blobId")+" does not exist")
			return
		}
		answer(w, map[string]any{"content": base64.StdEncoding.EncodeToString([]byte(content))})
	default:
		fail(w, http.StatusBadRequest, "UnknownOperationException", "unknown operation "+op)
	}
}

func callArg(op string, str func(string) string) string {
	switch op {
	case "GetFile":
		return str("filePath") + "@" + str("commitSpecifier")
	case "GetBranch":
		return str("branchName")
	case "GetDifferences":
		return str("beforeCommitSpecifier") + ".." + str("afterCommitSpecifier") + " " + str("NextToken")
	case "GetFolder":
		return str("folderPath") + "@" + str("commitSpecifier")
	case "GetBlob":
		return str("blobId")
	}
	return str("repositoryName")
}

// resolve finds a commit by id or branch name.
func (r *Repo) resolve(spec string) (map[string]Entry, string, bool) {
	if c, ok := r.Branches[spec]; ok {
		spec = c
	}
	tree, ok := r.Commits[spec]
	return tree, spec, ok
}

func (s *Server) differences(w http.ResponseWriter, repo *Repo, in map[string]any, str func(string) string) {
	after, _, ok := repo.resolve(str("afterCommitSpecifier"))
	if !ok {
		fail(w, http.StatusBadRequest, "CommitDoesNotExistException", "Could not find commit "+str("afterCommitSpecifier"))
		return
	}
	before := map[string]Entry{}
	if b := str("beforeCommitSpecifier"); b != "" {
		if before, _, ok = repo.resolve(b); !ok {
			fail(w, http.StatusBadRequest, "CommitDoesNotExistException", "Could not find commit "+b)
			return
		}
	}
	var paths []string
	for p := range after {
		paths = append(paths, p)
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	var diffs []map[string]any
	for _, p := range paths {
		a, inA := after[p]
		b, inB := before[p]
		blob := func(e Entry) map[string]any {
			return map[string]any{"blobId": BlobID(e.Content), "mode": modeNumber(e.Mode), "path": p}
		}
		switch {
		case inA && !inB:
			diffs = append(diffs, map[string]any{"afterBlob": blob(a), "changeType": "A"})
		case !inA && inB:
			diffs = append(diffs, map[string]any{"beforeBlob": blob(b), "changeType": "D"})
		case a != b:
			diffs = append(diffs, map[string]any{"beforeBlob": blob(b), "afterBlob": blob(a), "changeType": "M"})
		}
	}
	size := s.PageSize
	if size <= 0 {
		size = 100
	}
	start, _ := strconv.Atoi(str("NextToken"))
	end := min(start+size, len(diffs))
	out := map[string]any{"differences": diffs[min(start, len(diffs)):end]}
	if end < len(diffs) {
		out["NextToken"] = strconv.Itoa(end)
	}
	answer(w, out)
}

func (s *Server) folder(w http.ResponseWriter, repo *Repo, str func(string) string) {
	tree, id, ok := repo.resolve(cmpOr(str("commitSpecifier"), "HEAD"))
	if !ok {
		fail(w, http.StatusBadRequest, "CommitDoesNotExistException", "Could not find commit "+str("commitSpecifier"))
		return
	}
	dir := strings.Trim(str("folderPath"), "/")
	prefix := dir + "/"
	if dir == "" {
		prefix = ""
	}
	files, links, subs := []map[string]any{}, []map[string]any{}, map[string]bool{}
	found := dir == ""
	for p, e := range tree {
		rest, ok := strings.CutPrefix(p, prefix)
		if !ok {
			continue
		}
		found = true
		if sub, _, deeper := strings.Cut(rest, "/"); deeper {
			subs[sub] = true
			continue
		}
		s.blobs[BlobID(e.Content)] = e.Content
		item := map[string]any{"absolutePath": p, "blobId": BlobID(e.Content), "fileMode": e.Mode, "relativePath": rest}
		if e.Mode == Symlink {
			links = append(links, item)
		} else {
			files = append(files, item)
		}
	}
	if !found {
		fail(w, http.StatusBadRequest, "FolderDoesNotExistException", "Could not find folder "+dir)
		return
	}
	folders := []map[string]any{}
	for _, sub := range slices.Sorted(mapsKeys(subs)) {
		folders = append(folders, map[string]any{"absolutePath": path.Join(dir, sub), "relativePath": sub, "treeId": BlobID("tree " + path.Join(dir, sub))})
	}
	sortByPath := func(l []map[string]any) {
		sort.Slice(l, func(i, j int) bool { return l[i]["relativePath"].(string) < l[j]["relativePath"].(string) })
	}
	sortByPath(files)
	sortByPath(links)
	answer(w, map[string]any{"commitId": id, "folderPath": "/" + dir, "treeId": BlobID("tree " + dir), "files": files,
		"subFolders": folders, "symbolicLinks": links, "subModules": []any{}})
}

func mapsKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// modeNumber is the git mode GetDifferences reports in a blob's mode.
func modeNumber(mode string) string {
	switch mode {
	case Executable:
		return "100755"
	case Symlink:
		return "120000"
	}
	return "100644"
}

func answer(w http.ResponseWriter, v any) {
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, exception, msg string) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": exception, "message": msg})
}
