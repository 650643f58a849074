package commitstatus

import (
	"context"
	"net/http"
	"reflect"
	"testing"
)

// The request follows Data Center's "Updating build status for commits"
// (https://developer.atlassian.com/server/bitbucket/how-tos/updating-build-status-for-commits/):
// POST {baseurl}/rest/api/latest/projects/{projectKey}/repos/{repositorySlug}/commits/{commitId}/builds
// with key, state (INPROGRESS, SUCCESSFUL, FAILED, CANCELLED, UNKNOWN) and url required, and
// name, description, ref, buildNumber and duration (milliseconds); the answer is 204.
func TestDataCenterPostsEachStateToTheRepositoryBuildsResource(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		state State
		want  string
	}{
		{InProgress, "INPROGRESS"},
		{Succeeded, "SUCCESSFUL"},
		{Failed, "FAILED"},
		{Stopped, "CANCELLED"},
	} {
		t.Run(string(tc.state), func(t *testing.T) {
			t.Parallel()
			api := newAPI(t, http.StatusNoContent)
			d, err := NewDataCenter(api.srv.URL+"/bitbucket", token)
			if err != nil {
				t.Fatal(err)
			}
			s := status(tc.state)
			s.Repository = "PRJ/api"
			if err := d.Post(context.Background(), s); err != nil {
				t.Fatal(err)
			}
			r := api.requests()[0]
			if r.method != http.MethodPost || r.path != "/bitbucket/rest/api/latest/projects/PRJ/repos/api/commits/"+sha+"/builds" {
				t.Errorf("request = %s %s", r.method, r.path)
			}
			wantHeader(t, r, "Authorization", "Bearer "+token)
			wantHeader(t, r, "Content-Type", "application/json")
			wantHeader(t, r, "Accept", "application/json")
			want := map[string]any{"key": "api/prod", "state": tc.want, "url": "https://ci.example.com/runs/api-42",
				"name": "stepline: api (prod)", "description": "Succeeded in 4m12s", "ref": "refs/heads/main",
				"buildNumber": "42", "duration": float64(252000)}
			if !reflect.DeepEqual(r.body, want) {
				t.Errorf("body = %v, want %v", r.body, want)
			}
		})
	}
}

func TestDataCenterNeedsTheInstanceURL(t *testing.T) {
	t.Parallel()
	if _, err := NewDataCenter("", token); err == nil {
		t.Fatal("a poster without a base URL was built")
	}
	if _, err := NewDataCenter("https://user:pw@bitbucket.example.com", token); err == nil {
		t.Fatal("a base URL with credentials was accepted")
	}
}
