package commitstatus

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// The request follows GitHub's "Create a commit status"
// (https://docs.github.com/en/rest/commits/statuses#create-a-commit-status): POST
// /repos/{owner}/{repo}/statuses/{sha}, a Bearer token, Accept application/vnd.github+json,
// X-GitHub-Api-Version 2022-11-28, a JSON body of state (error, failure, pending, success),
// target_url, description and context; the answer is 201 Created.
func TestGitHubPostsEachStateAsTheCommitStatusesAPIDocumentsIt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		state State
		want  string
	}{
		{InProgress, "pending"},
		{Succeeded, "success"},
		{Failed, "failure"},
		// GitHub has no "stopped": a superseded or canceled run ends as "error" (see githubState).
		{Stopped, "error"},
	} {
		t.Run(string(tc.state), func(t *testing.T) {
			t.Parallel()
			api := newAPI(t, http.StatusCreated)
			g, err := NewGitHub(api.srv.URL, token)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Post(context.Background(), status(tc.state)); err != nil {
				t.Fatal(err)
			}
			got := api.requests()
			if len(got) != 1 {
				t.Fatalf("%d requests, want 1", len(got))
			}
			r := got[0]
			if r.method != http.MethodPost || r.path != "/repos/acme/api/statuses/"+sha {
				t.Errorf("request = %s %s", r.method, r.path)
			}
			wantHeader(t, r, "Authorization", "Bearer "+token)
			wantHeader(t, r, "Accept", "application/vnd.github+json")
			wantHeader(t, r, "X-GitHub-Api-Version", "2022-11-28")
			wantHeader(t, r, "Content-Type", "application/json")
			want := map[string]any{"state": tc.want, "target_url": "https://ci.example.com/runs/api-42",
				"description": "Succeeded in 4m12s", "context": "api/prod"}
			if !reflect.DeepEqual(r.body, want) {
				t.Errorf("body = %v, want %v", r.body, want)
			}
		})
	}
}

func TestGitHubClipsTheDescriptionToItsDocumented140Characters(t *testing.T) {
	t.Parallel()
	api := newAPI(t, http.StatusCreated)
	g, _ := NewGitHub(api.srv.URL, token)
	s := status(Failed)
	s.Description = "Build/Test failed: " + strings.Repeat("é", 300)
	if err := g.Post(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	d := api.requests()[0].body["description"].(string)
	if n := len([]rune(d)); n != 140 || !strings.HasSuffix(d, "…") {
		t.Errorf("description has %d characters: %q", n, d)
	}
}

func TestGitHubEnterpriseServerKeepsTheAPIPathOfItsBaseURL(t *testing.T) {
	t.Parallel()
	api := newAPI(t, http.StatusCreated)
	g, _ := NewGitHub(api.srv.URL+"/api/v3/", token)
	if err := g.Post(context.Background(), status(Succeeded)); err != nil {
		t.Fatal(err)
	}
	if p := api.requests()[0].path; p != "/api/v3/repos/acme/api/statuses/"+sha {
		t.Errorf("path = %s", p)
	}
}
