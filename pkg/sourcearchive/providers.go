package sourcearchive

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// GitHub downloads archives through the REST API's "download a repository archive (tar)":
// GET /repos/{owner}/{repo}/tarball/{ref}, which redirects to codeload.github.com with a
// short-lived signed URL. The token is sent as a Bearer token to the API only: net/http
// drops the Authorization header on a redirect to another host. Archives are git archive's
// output under the directory owner-repo-sha7/.
type GitHub struct {
	d download
}

// NewGitHub returns the archiver of the GitHub API at baseURL (https://api.github.com, or
// https://HOST/api/v3 for Enterprise Server), authenticated with token (a fine-grained or
// installation token with contents:read; empty for public repositories).
func NewGitHub(baseURL, token string, hc *http.Client) (*GitHub, error) {
	d, err := newDownload("github", baseURL, token, orDefault(hc))
	if err != nil {
		return nil, err
	}
	d.header.Set("Accept", "application/vnd.github+json")
	d.header.Set("X-GitHub-Api-Version", "2022-11-28")
	return &GitHub{d: d}, nil
}

// Open implements Archiver.
func (g *GitHub) Open(ctx context.Context, repo, commit string) (*Archive, error) {
	owner, name, err := repoParts("github", repo)
	if err != nil {
		return nil, err
	}
	if err := checkCommit("github", commit); err != nil {
		return nil, err
	}
	d := g.d
	d.url = d.url.JoinPath("repos", owner, name, "tarball", commit)
	body, err := d.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("download %s at %.12s: %w", repo, commit, err)
	}
	return &Archive{Body: body, TopDir: true}, nil
}

// Bitbucket downloads archives from Bitbucket Cloud's website, the only place that serves
// them: GET https://bitbucket.org/{workspace}/{repo}/get/{commit}.tar.gz. The token (a
// repository, project or workspace access token, or an OAuth access token) is sent as a
// Bearer token, which that host accepts; credentials it does not accept are answered with a
// redirect to its sign-in page, so redirects are not followed but reported as
// scm.ErrUnauthorized. Archives sit under the directory workspace-repo-sha12/.
type Bitbucket struct {
	d download
}

// NewBitbucket returns the archiver of Bitbucket Cloud at baseURL (https://bitbucket.org).
func NewBitbucket(baseURL, token string, hc *http.Client) (*Bitbucket, error) {
	noRedirect := *orDefault(hc)
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	d, err := newDownload("bitbucket", baseURL, token, &noRedirect)
	if err != nil {
		return nil, err
	}
	return &Bitbucket{d: d}, nil
}

// Open implements Archiver.
func (b *Bitbucket) Open(ctx context.Context, repo, commit string) (*Archive, error) {
	workspace, slug, err := repoParts("bitbucket", repo)
	if err != nil {
		return nil, err
	}
	if err := checkCommit("bitbucket", commit); err != nil {
		return nil, err
	}
	d := b.d
	d.url = d.url.JoinPath(workspace, slug, "get", commit+".tar.gz")
	body, err := d.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("download %s at %.12s: %w", repo, commit, err)
	}
	return &Archive{Body: body, TopDir: true}, nil
}

// BitbucketServer downloads archives through Bitbucket Data Center's REST API:
// GET {base}/rest/api/latest/projects/{key}/repos/{slug}/archive?at={commit}&format=tgz, with
// an HTTP access token or personal access token as a Bearer token. Without a prefix
// parameter the entries sit at the archive's root.
type BitbucketServer struct {
	d download
}

// NewBitbucketServer returns the archiver of the Data Center server at baseURL, its address
// as users browse it, context path included (https://bitbucket.example.com/bitbucket).
func NewBitbucketServer(baseURL, token string, hc *http.Client) (*BitbucketServer, error) {
	d, err := newDownload("bitbucket data center", baseURL, token, orDefault(hc))
	if err != nil {
		return nil, err
	}
	return &BitbucketServer{d: d}, nil
}

// Open implements Archiver.
func (b *BitbucketServer) Open(ctx context.Context, repo, commit string) (*Archive, error) {
	project, slug, err := repoParts("bitbucket data center", repo)
	if err != nil {
		return nil, err
	}
	if err := checkCommit("bitbucket data center", commit); err != nil {
		return nil, err
	}
	d := b.d
	d.url = d.url.JoinPath("rest", "api", "latest", "projects", project, "repos", slug, "archive")
	d.url.RawQuery = url.Values{"at": {commit}, "format": {"tgz"}}.Encode()
	body, err := d.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("download %s at %.12s: %w", repo, commit, err)
	}
	return &Archive{Body: body, TopDir: false}, nil
}

// newDownload is the part every provider's archiver shares: the base URL checked, the token
// sent as a Bearer token (and scrubbed from errors).
func newDownload(api, baseURL, token string, hc *http.Client) (download, error) {
	u, err := parseBase(api, baseURL)
	if err != nil {
		return download{}, err
	}
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return download{api: api, client: hc, url: u, header: h, token: token}, nil
}
