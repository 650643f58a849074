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
// Bodies are decoded into this package's own types, which hold only what Parse reads: the
// changes' sides (null or not, type, name, target hash, message and author) and created,
// closed and forced flags, the commits' hashes, messages and authors (raw "Name <email>" and
// linked account), the pull request's id, title, state, draft flag, source and destination,
// the repositories' full_name, web address and mainbranch, the actor's names. Nothing else
// is decoded, whatever its type (dates, uuids, counts, flags, links, reviewers): a field
// Bitbucket changes there must not refuse a delivery. What is read is strict: a value of the
// wrong JSON type there makes the delivery malformed. go-playground/webhooks' Bitbucket
// payloads remain the tests' recorded fixtures; its types are not used (its Webhook.Parse
// does not verify an HMAC, and its types decode every field).
//
// Bitbucket push payloads list no changed files, so every event leaves ChangedFiles nil and
// FilesComplete false; Client fills them in from the diffstat endpoint. Bitbucket also lists
// at most five commits per ref change, newest first: events carry them oldest first, and a
// change marked truncated carries only the newest. A tag, or a branch created at an existing
// commit, lists none: the change's new.target, the head commit with its message and author
// (for an annotated tag too), is then named last, so skip markers in its message apply.
package bitbucket
