// Package github parses GitHub webhook deliveries into stepline's normalised source events
// (scm.Event) and lists a change's files through GitHub's REST API (Client).
//
// Parse decodes bodies into this package's own types (payload.go), which hold only what it
// reads: refs, commits, flags of the push, the pull request's number, title, draft and merged
// flags, head and base, repositories' names, clone URLs and default branches, logins. Nothing
// else is decoded, whatever its type: go-github's event types decode every field (dates,
// counts, labels, …), and a type GitHub changes there would refuse a delivery that GitHub
// does not resend. What is read is strict: a value of the wrong JSON type there is malformed.
// A body is JSON, or payload=<URL-encoded JSON> when the hook's content type is
// application/x-www-form-urlencoded, GitHub's default. Parse never checks the signature: the
// caller verifies it with scm.Verify first, on the raw bytes.
//
// What each delivery becomes:
//
//   - push: one event, Kind "push" for refs/heads/*, "tag" for refs/tags/* (a push to any
//     other ref is ignored). Ref, Before, After, Created, Deleted and Forced are the
//     payload's. Commits are the payload's commits, oldest first, with head_commit appended
//     when the list does not end with it; the author is the commit's GitHub username, else its
//     git author name. ChangedFiles is the union of the commits' added, modified and removed
//     lists. FilesComplete is true only when that union is known to cover before..after: an
//     existing ref moved without force, fewer than 2048 commits listed, the last being after,
//     and every commit's file lists present with fewer than 3000 paths (see
//     pushFilesComplete for why each other case may be partial). An annotated tag's after is
//     the tag object, not a commit: HeadCommit is then head_commit, the commit it points at.
//   - pull_request: opened and reopened are "opened"; synchronize, ready_for_review and an
//     edit that changes the base branch are "updated"; closed is "merged" or "closed" by the
//     payload's merged flag. Other actions (labeled, assigned, converted_to_draft, other
//     edits, ...) are ignored. Ref is refs/pull/<number>/head, which GitHub serves in the base
//     repository, so a fork's branch never passes for one of ours; Branch is the head branch's
//     name, for people to read. After is the head commit, the repository is the base
//     repository, and PullRequest.Fork is true when the head repository is another one (or
//     null: a fork deleted since). The payload lists no files, so ChangedFiles is nil and
//     FilesComplete false.
//   - create and delete: Kind "push" or "tag" by ref_type, Created or Deleted set, no commit:
//     GitHub names none in these payloads, and the trigger package never builds an event
//     without a head commit. The push delivery GitHub sends alongside carries the commit. The
//     X-GitHub-Event header is not signed, so the body must be of its event's shape: a create
//     carries master_branch and description, a delete neither.
//   - ping: one event of Kind "ping", with the repository when the hook has one.
//
// Every other event is answered with *scm.IgnoredError, and a body that is not a JSON object
// of the event's shape with *scm.MalformedError.
//
// Client implements scm.FileLister with "Compare two commits", for the events whose files
// the delivery could not list whole.
package github
