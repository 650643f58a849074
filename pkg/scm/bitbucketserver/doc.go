// Package bitbucketserver parses Bitbucket Data Center (formerly Bitbucket Server) webhook
// deliveries into stepline's normalised source events (scm.Event) and lists a change's files
// through the Data Center REST API. Data Center is the Bitbucket that AWS CodePipeline cannot
// serve, so this package gives it the same footing as GitHub and Bitbucket Cloud.
//
// Parse handles the event keys that can start a build:
//
//   - repo:refs_changed, one event per entry of changes in payload order: Kind "push" for a
//     BRANCH ref, "tag" for a TAG, Created for ADD, Deleted for DELETE, Before and After the
//     change's fromHash and toHash, all-zero hash of the missing side kept as sent;
//   - pr:opened (opened), pr:from_ref_updated (updated, Before the previousFromHash),
//     pr:merged (merged), pr:declined and pr:deleted (closed);
//   - pr:modified only when it retargets the pull request (toRef differs from
//     previousTarget): updated, since the diff and the target-branch filters now differ. A
//     change of title or description alone is ignored;
//   - for every pull request event, Ref is refs/pull-requests/<id>/from, the ref Data Center
//     keeps in the target repository for the source's head, and Branch the source branch's
//     name; PullRequest.Fork is true when fromRef's repository (project key and slug) is not
//     toRef's, so a fork's branch called main is never taken for the target's;
//   - diagnostics:ping, sent by the webhook form's "Test connection" button, as one event of
//     Kind "ping" whatever the body: Atlassian does not document it (commonly {"test": true}).
//
// Every other key (reviewer and comment events, repo:modified, repo:forked,
// mirror:repo_synchronized, …) is answered with *scm.IgnoredError without reading the body,
// and a body that is not what its key says, or whose eventKey names another event than the
// X-Event-Key header, with *scm.MalformedError. Parse never checks the signature: the caller
// verifies it with scm.Verify first. The header is not covered by the signature, which is
// why the body's own eventKey must agree with it.
//
// Bodies are decoded into the payload types of
// github.com/go-playground/webhooks/v6/bitbucket-server. Its Webhook.Parse is not used: it
// reads an *http.Request rather than a Lambda event's body, takes a single secret (no
// rotation), and slices the signature header without checking its length; scm.Verify has
// none of these limits. What those types lack is decoded by hand from the same body:
// pullRequest.draft (Data Center 8.18 and later) and a repository's defaultBranch, which
// Data Center payloads normally leave out. The library's Date type reads only the layout
// Data Center sends (2017-09-19T09:58:11+1000); a date in any other makes the delivery
// malformed.
//
// Data Center says neither whether a push was forced nor which files changed, and Parse
// reads no commits from the payload: every event has Forced false, Commits and ChangedFiles
// nil and FilesComplete false. Client fills the files in from the compare/changes endpoint
// (see scm.Complete), which compares from the merge base; Client.IsAncestor tells whether
// before is still in after's history, that is whether the push rewrote it and the list may
// miss paths.
//
// A change of an annotated tag carries the tag's new value, the tag object, as toHash, and
// nothing of the commit it points at: a change is a ref, a fromHash, a toHash and a type.
// Recent Data Center versions add a delivery-wide toCommit, which Atlassian does not tie to
// any one change; Parse does not guess from it, so such an event's After is the tag object
// and HeadCommit stays empty.
package bitbucketserver
