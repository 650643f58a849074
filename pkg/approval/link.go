// Package approval is the handler of functions/callback, the approval page behind the API
// Gateway routes GET and POST /approvals/{run}/{task}, and the contract it shares with the
// wait function (pkg/waitstep): how an open approval is kept in the table, how its links are
// built, and the EventBridge events that announce it.
//
// An approval link carries a capability, the key: 32 random bytes (NewKey) the wait function
// draws when the approval is first requested and keeps in the approval's Request. It derives
// from nothing else. The task token is no secret: Step Functions shows it in the execution
// history to anyone allowed states:GetExecutionHistory (ReadOnlyAccess has it), so a key
// computed from the token could be computed by every reader of the account. The page compares
// a link's key with the kept one in constant time before it tells anything: without the key,
// an unknown run or task, a wrong key and a decided approval all get the same 404; only the
// key's holder learns that an approval was decided or has expired (410). GET only shows the
// request and two buttons (mail scanners prefetch links); only a POST of the form decides.
package approval

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// keyBytes is the key's strength: 256 bits, 43 characters of base64url.
const keyBytes = 32

// NewKey returns a fresh capability for an approval's links: 32 bytes of crypto/rand in
// base64url without padding. The wait function draws it once per approval and keeps it in the
// Request; it is never logged.
func NewKey() string {
	b := make([]byte, keyBytes)
	// crypto/rand.Read never returns an error and always fills b: the program crashes rather
	// than hand out predictable bytes.
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
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
// resolved), with the key of its links. It is kept under RequestKey(task) for as long as the
// token, so the page shows exactly what the notification said, checks a link's key, and can
// tell its holder that a link was used or has expired.
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
	// Key is the capability the links carry (NewKey). A retried invocation of the wait
	// function keeps it, so links already sent stay valid.
	Key string `json:"key"`
	// Announced is set once "stepline Approval Requested" went out, so a retried invocation
	// of the wait function does not send the links again.
	Announced bool `json:"announced,omitempty"`
}

// Admits reports whether key is the request's key, in constant time. A request kept without
// a key (written before keys were drawn at random) admits nothing.
func (r Request) Admits(key string) bool {
	return r.Key != "" && subtle.ConstantTimeCompare([]byte(r.Key), []byte(key)) == 1
}

// Task returns the request's TaskKey.
func (r Request) Task() string { return TaskKey(r.Stage, r.Action, r.Attempt) }
