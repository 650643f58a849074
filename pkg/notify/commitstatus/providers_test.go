package commitstatus

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stepline/stepline/pkg/reposecret"
)

func TestProvidersBuildThePosterOfTheRegisteredRepository(t *testing.T) {
	t.Parallel()
	gh := newAPI(t, http.StatusCreated)
	bb := newAPI(t, http.StatusCreated)
	dc := newAPI(t, http.StatusNoContent)
	ghe := newAPI(t, http.StatusCreated)
	p := Providers{GitHubURL: gh.srv.URL, BitbucketURL: bb.srv.URL + "/2.0"}
	for _, tc := range []struct {
		secret reposecret.Secret
		api    *fakeAPI
		path   string
	}{
		{reposecret.Secret{Provider: "github", Repository: "acme/api", Token: token}, gh, "/repos/acme/api/statuses/" + sha},
		{reposecret.Secret{Provider: "github", Repository: "acme/api", Token: token, APIURL: ghe.srv.URL + "/api/v3"}, ghe, "/api/v3/repos/acme/api/statuses/" + sha},
		{reposecret.Secret{Provider: "bitbucket", Repository: "acme/api", Token: token}, bb, "/2.0/repositories/acme/api/commit/" + sha + "/statuses/build"},
		{reposecret.Secret{Provider: "bitbucket-server", Repository: "acme/api", Token: token, APIURL: dc.srv.URL}, dc, "/rest/api/latest/projects/acme/repos/api/commits/" + sha + "/builds"},
	} {
		poster, err := p.For(tc.secret)
		if err != nil {
			t.Fatalf("%s: %v", tc.secret, err)
		}
		if err := poster.Post(context.Background(), status(Succeeded)); err != nil {
			t.Fatalf("%s: %v", tc.secret, err)
		}
		got := tc.api.requests()
		if len(got) != 1 || got[0].path != tc.path {
			t.Errorf("%s: requests %v, want one to %s", tc.secret, got, tc.path)
		}
	}
}

func TestProvidersRefuseWhatHasNoCommitStatuses(t *testing.T) {
	t.Parallel()
	if _, err := (Providers{}).For(reposecret.Secret{Provider: "codecommit", Repository: "api"}); !errors.Is(err, ErrUnsupportedProvider) {
		t.Errorf("codecommit: %v", err)
	}
	if _, err := (Providers{}).For(reposecret.Secret{Provider: "bitbucket-server", Repository: "P/api", Token: token}); err == nil {
		t.Error("bitbucket-server without api_url: no error")
	}
}
