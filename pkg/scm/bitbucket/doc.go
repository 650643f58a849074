// Package bitbucket parses Bitbucket Cloud webhook deliveries into stepline's normalised
// source events (scm.Event) and lists a change's files through the Bitbucket Cloud REST API.
//
// Parse handles the event keys that can start a build: repo:push, one event per ref change
// in payload order, and pullrequest:created, :updated, :fulfilled and :rejected. Every other
// key is answered with *scm.IgnoredError, and a body that is not what its key says with
// *scm.MalformedError. Parse never checks the signature: the caller verifies it with
// scm.Verify before parsing.
//
// The signature covers the body, not X-Event-Key, so the body must show its key: a push
// carries a push object and no pullrequest; a pull request carries no comment, approval,
// changes_request or push object beside it (those are other events' bodies), and its
// pullrequest.state is the one Bitbucket sends under the key: OPEN for created and updated,
// MERGED for fulfilled, DECLINED for rejected. created and updated remain interchangeable:
// nothing signed tells them apart, and both build the same head.
//
// A pull request's Ref is refs/heads/<source branch>: Bitbucket Cloud serves no pull
// request ref. PullRequest.Fork is true when the source repository is another than the
// destination (or unnamed), so a fork's branch called main is never taken for ours.
//
// Bodies are decoded into the payload types of github.com/go-playground/webhooks/v6/bitbucket
// (its Webhook.Parse is not used, since it does not verify an HMAC). Four things those types
// lack are decoded by hand from the same body: whether push.changes[].new and .old are null
// (the library decodes both into values, so a deleted ref would look like a ref with no
// name), a commit author's raw "Name <email>" and linked user (the library reads the author
// as an account), repository.mainbranch, and pullrequest.draft.
//
// Bitbucket push payloads list no changed files, so every event leaves ChangedFiles nil and
// FilesComplete false; Client fills them in from the diffstat endpoint. Bitbucket also lists
// at most five commits per ref change, newest first: events carry them oldest first, and a
// change marked truncated carries only the newest. A tag, or a branch created at an existing
// commit, lists none: the change's new.target, the head commit with its message and author
// (for an annotated tag too), is then named last, so skip markers in its message apply.
package bitbucket
