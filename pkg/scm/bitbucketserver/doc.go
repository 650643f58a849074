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
// and so is a repo:refs_changed that lists no changes: there is nothing to build. A body that
// is not what its key says, or whose eventKey names another event than the X-Event-Key
// header, is answered with *scm.MalformedError. Parse never checks the signature: the caller
// verifies it with scm.Verify first. The header is not covered by the signature, which is
// why the body's own eventKey must agree with it.
//
// Bodies are decoded into this package's own types, which hold only what Parse reads: refs,
// hashes, the change type, the pull request's id, title, draft flag and refs, the
// repositories' project key, slug, clone link and defaultBranch, the actor's and commit
// authors' names, the commits' ids, messages and parents. Nothing else is decoded, whatever
// its type: Data Center changes unread fields between versions (10.x sends createdDate,
// updatedDate and closedDate as ISO-8601 strings where 9.x sent epoch milliseconds) and does
// not retry a delivery it was refused. What is read is strict: a value of the wrong JSON type
// there makes the delivery malformed. go-playground/webhooks' Data Center payloads remain the
// tests' recorded fixtures; its types, which decode every field, are not used.
//
// Data Center says neither whether a push was forced nor which files changed: every event has
// Forced false, ChangedFiles nil and FilesComplete false. Client fills the files in from the
// compare/changes endpoint (see scm.Complete), which compares from the merge base;
// Client.IsAncestor tells whether before is still in after's history, that is whether the push
// rewrote it and the list may miss paths.
//
// Data Center 9 and 10 list a push's most recent commits (five by default) for the whole
// delivery, tied to no one change. A change's Commits are those its head reaches through the
// listed parents without passing its fromHash, oldest first, so the trigger reads skip
// markers ([skip ci] …) from the head's message; a deleted ref gets none, and a version that
// sends no commits leaves Commits nil.
//
// A change of an annotated tag carries the tag's new value, the tag object, as toHash, and
// nothing of the commit it points at: a change is a ref, a fromHash, a toHash and a type.
// Recent Data Center versions add a delivery-wide toCommit, which Atlassian does not tie to
// any one change; Parse does not guess from it, so such an event's After is the tag object
// and HeadCommit stays empty.
package bitbucketserver
