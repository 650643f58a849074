// Package approval is the handler of functions/callback, the approval page behind the API
// Gateway routes GET and POST /approvals/{run}/{task}, and the contract it shares with the
// wait function (pkg/waitstep): how an open approval is kept in the table, how its links are
// built, and the EventBridge events that announce it.
//
// An approval link carries a capability, Key(token): a digest of the Step Functions task
// token the wait function stored. Only Step Functions and the table know the token, so the
// key cannot be guessed and needs no storage of its own; the page recomputes it from the
// stored token and compares in constant time. GET only shows the request and two buttons
// (mail scanners prefetch links); only a POST of the form decides.
package approval

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// keyBytes is how much of the token's SHA-256 the key keeps: 192 bits, 32 characters.
const keyBytes = 24

// Key returns the capability of an approval link: base64url (no padding) of the first 24
// bytes of the SHA-256 of the task token.
func Key(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:keyBytes])
}

// TaskKey names an approval attempt in links and in the token store: Stage.Action.attempt.
// Stage and action names never hold a dot (pkg/pipeline allows letters, digits, _ and -), so
// the key is unambiguous and needs no escaping in a URL path.
func TaskKey(stage, action string, attempt int) string {
	return stage + "." + action + "." + strconv.Itoa(attempt)
}

// RequestKey is where the open approval's Request is kept, next to the token of task.
func RequestKey(task string) string { return task + "#request" }

var (
	runRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	taskRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*\.[A-Za-z0-9][A-Za-z0-9_-]*\.[1-9][0-9]{0,8}$`)
)

// maxID bounds a run id or task key taken from a URL.
const maxID = 256

// ValidRun reports whether run can be a run id (pipeline-name-N).
func ValidRun(run string) bool { return len(run) <= maxID && runRE.MatchString(run) }

// ValidTask reports whether task is a TaskKey.
func ValidTask(task string) bool { return len(task) <= maxID && taskRE.MatchString(task) }

// Links are the URLs an approval request announces. All three open the same page, which
// decides nothing; Approve and Reject only preselect its button.
type Links struct {
	Review  string `json:"review-url"`
	Approve string `json:"approve-url"`
	Reject  string `json:"reject-url"`
}

// LinksFor builds the links of the approval of task of run, under the API's base URL
// (STEPLINE_API_URL, with or without a trailing slash).
func LinksFor(apiURL, run, task, key string) Links {
	base := fmt.Sprintf("%s/approvals/%s/%s?key=%s", strings.TrimRight(apiURL, "/"),
		url.PathEscape(run), url.PathEscape(task), url.QueryEscape(key))
	return Links{Review: base, Approve: base + "&decision=approve", Reject: base + "&decision=reject"}
}

// Request is what an open approval asks, as the wait function announced it (variables
// resolved). It is kept under RequestKey(task) for as long as the token, so the page shows
// exactly what the notification said and can tell a used or expired link from an unknown one.
type Request struct {
	Pipeline string `json:"pipeline"`
	Run      string `json:"run"`
	Stage    string `json:"stage"`
	Action   string `json:"action"`
	Attempt  int    `json:"attempt"`
	Message  string `json:"message,omitempty"`
	// URL is the action's link for reviewers (a diff, a staging site).
	URL string `json:"url,omitempty"`
	// Expires is the approval's deadline: the page refuses decisions from then on, and the
	// wait function's schedule fails the task as timed out.
	Expires time.Time `json:"expires"`
}

// Task returns the request's TaskKey.
func (r Request) Task() string { return TaskKey(r.Stage, r.Action, r.Attempt) }
