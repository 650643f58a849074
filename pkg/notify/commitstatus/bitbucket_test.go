package commitstatus

import (
	"context"
	"net/http"
	"reflect"
	"testing"
)

// The request follows Bitbucket Cloud's "Create a build status for a commit"
// (https://developer.atlassian.com/cloud/bitbucket/rest/api-group-commit-statuses/): POST
// /2.0/repositories/{workspace}/{repo_slug}/commit/{commit}/statuses/build, Content-Type
// application/json, a Bearer access token, a body of key, state (INPROGRESS, SUCCESSFUL,
// FAILED, STOPPED), name, url, description and refname (the source branch, which ties the
// status to its pull requests).
func TestBitbucketPostsEachStateAsTheCommitStatusesAPIDocumentsIt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		state State
		want  string
	}{
		{InProgress, "INPROGRESS"},
		{Succeeded, "SUCCESSFUL"},
		{Failed, "FAILED"},
		{Stopped, "STOPPED"},
	} {
		t.Run(string(tc.state), func(t *testing.T) {
			t.Parallel()
			api := newAPI(t, http.StatusCreated)
			b, err := NewBitbucket(api.srv.URL+"/2.0", token)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Post(context.Background(), status(tc.state)); err != nil {
				t.Fatal(err)
			}
			r := api.requests()[0]
			if r.method != http.MethodPost || r.path != "/2.0/repositories/acme/api/commit/"+sha+"/statuses/build" {
				t.Errorf("request = %s %s", r.method, r.path)
			}
			wantHeader(t, r, "Authorization", "Bearer "+token)
			wantHeader(t, r, "Content-Type", "application/json")
			wantHeader(t, r, "Accept", "application/json")
			want := map[string]any{"key": "api/prod", "state": tc.want, "name": "stepline: api (prod)",
				"url": "https://ci.example.com/runs/api-42", "description": "Succeeded in 4m12s", "refname": "main"}
			if !reflect.DeepEqual(r.body, want) {
				t.Errorf("body = %v, want %v", r.body, want)
			}
		})
	}
}

// Bitbucket evaluates {repository.full_name}-like names in a status URL ("you can use a URI
// template for the URL"): braces of a run link are escaped so it arrives as it is.
func TestBitbucketEscapesTemplateBracesInTheRunLink(t *testing.T) {
	t.Parallel()
	api := newAPI(t, http.StatusCreated)
	b, _ := NewBitbucket(api.srv.URL, token)
	s := status(Succeeded)
	s.URL = "https://dash.example.com/runs/{repository.full_name}"
	if err := b.Post(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if u := api.requests()[0].body["url"]; u != "https://dash.example.com/runs/%7Brepository.full_name%7D" {
		t.Errorf("url = %v", u)
	}
}

func TestBitbucketRefusesAStatusWithoutARunLinkBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	api := newAPI(t, http.StatusCreated)
	b, _ := NewBitbucket(api.srv.URL, token)
	s := status(Succeeded)
	s.URL = ""
	if err := b.Post(context.Background(), s); err == nil {
		t.Fatal("a status without a link was posted")
	}
	if n := len(api.requests()); n != 0 {
		t.Errorf("%d requests", n)
	}
}
