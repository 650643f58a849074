// Package codecommit is stepline's AWS CodeCommit provider. CodeCommit sends no webhooks: a
// push reaches stepline as EventBridge's "CodeCommit Repository State Change" event, which
// ParseEvent turns into the normalised scm.Event; Client reads files, branch heads, default
// branches and changed files through CodeCommit's API with the function's own IAM role, so a
// CodeCommit repository needs no secret.
package codecommit

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stepline/stepline/pkg/scm"
)

// The source and detail-type of CodeCommit's events on the default bus.
const (
	Source     = "aws.codecommit"
	DetailType = "CodeCommit Repository State Change"
)

// Reference events of a CodeCommit Repository State Change, the values of detail.event.
const (
	ReferenceCreated = "referenceCreated"
	ReferenceUpdated = "referenceUpdated"
	ReferenceDeleted = "referenceDeleted"
)

// StateChange is what stepline reads of the detail of a reference event: the reference and
// its commits before and after, and who pushed. Merges made in the console or by the API
// also carry the merge's commits (baseCommitId, sourceCommitId, destinationCommitId) and
// options, and every event the repository's id; none of those is decoded, whatever its type,
// so a change there cannot refuse the event. What is read is strict.
type StateChange struct {
	Event             string `json:"event"`
	RepositoryName    string `json:"repositoryName"`
	ReferenceType     string `json:"referenceType"`
	ReferenceName     string `json:"referenceName"`
	ReferenceFullName string `json:"referenceFullName"`
	// CommitID is the commit the reference points at now; for a deletion, the one it pointed
	// at.
	CommitID string `json:"commitId"`
	// OldCommitID is the commit an updated reference pointed at before; absent on a creation.
	OldCommitID   string `json:"oldCommitId,omitempty"`
	CallerUserArn string `json:"callerUserArn,omitempty"`
}

// ParseStateChange decodes the detail of a CodeCommit Repository State Change event.
func ParseStateChange(detail []byte) (StateChange, error) {
	var c StateChange
	if err := json.Unmarshal(detail, &c); err != nil {
		return StateChange{}, scm.Malformed("the detail is not a CodeCommit Repository State Change: %v", err)
	}
	return c, nil
}

// ParseEvent turns a CodeCommit Repository State Change event into the normalised event: a
// branch push (KindPush) or a tag push (KindTag) of e.ID's delivery. A deleted reference and
// the repository's other events (pull requests, comments, approvals) are *scm.IgnoredError:
// they start nothing. A reference or commit git would refuse (scm.Event.Check) is
// *scm.MalformedError. The event names no default branch and no commits' messages; the caller
// asks the API for the first, and the second stays unknown (skip markers cannot apply).
func ParseEvent(e events.CloudWatchEvent) (scm.Event, error) {
	if e.Source != Source || e.DetailType != DetailType {
		return scm.Event{}, scm.Malformed("source %q, detail-type %q: not a CodeCommit Repository State Change", e.Source, e.DetailType)
	}
	c, err := ParseStateChange(e.Detail)
	if err != nil {
		return scm.Event{}, err
	}
	switch c.Event {
	case ReferenceCreated, ReferenceUpdated:
	case ReferenceDeleted:
		return scm.Event{}, scm.Ignored("%s %s of %s was deleted: a deletion starts nothing", c.ReferenceType, c.ReferenceName, c.RepositoryName)
	default:
		return scm.Event{}, scm.Ignored("CodeCommit event %q of %s is not a reference change", c.Event, c.RepositoryName)
	}
	if c.RepositoryName == "" || c.CommitID == "" {
		return scm.Event{}, scm.Malformed("the %s event names no repositoryName or commitId", c.Event)
	}
	ev := scm.Event{Provider: scm.CodeCommit, Delivery: e.ID, Repository: scm.Repository{FullName: c.RepositoryName, CloneURL: cloneURL(e.Region, c.RepositoryName)},
		After: c.CommitID, Before: c.OldCommitID, Created: c.Event == ReferenceCreated, Sender: caller(c.CallerUserArn)}
	if ev.Created {
		ev.Before = ""
	}
	ref := c.ReferenceFullName
	switch c.ReferenceType {
	case "branch":
		if ref == "" {
			ref = scm.BranchRef(c.ReferenceName)
		}
		ev.Kind, ev.Ref, ev.Branch = scm.KindPush, ref, strings.TrimPrefix(ref, "refs/heads/")
	case "tag":
		if ref == "" {
			ref = scm.TagRef(c.ReferenceName)
		}
		ev.Kind, ev.Ref, ev.Tag = scm.KindTag, ref, strings.TrimPrefix(ref, "refs/tags/")
	default:
		return scm.Event{}, scm.Ignored("reference type %q of %s is neither a branch nor a tag", c.ReferenceType, c.RepositoryName)
	}
	if err := ev.Check(); err != nil {
		return scm.Event{}, &scm.MalformedError{Reason: err.Error(), Err: err}
	}
	return ev, nil
}

// Key is the idempotency key of the event e: its EventBridge id, the same on every retry of
// the event, so a retried event names the same executions.
func Key(e events.CloudWatchEvent) string {
	return scm.CodeCommit + "-" + e.ID
}

// cloneURL is the repository's HTTPS clone URL, for the run's records; "" without a region.
func cloneURL(region, repo string) string {
	if region == "" {
		return ""
	}
	suffix := "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	return fmt.Sprintf("https://git-codecommit.%s.%s/v1/repos/%s", region, suffix, repo)
}

// caller names who pushed: the last part of the IAM ARN (user/Mary_Major → Mary_Major; an
// assumed role's session name).
func caller(arn string) string {
	if i := strings.LastIndexByte(arn, '/'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}
