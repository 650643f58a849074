package scm

import (
	"fmt"
	"strings"
)

// Refs and commits are what stepline hands to git, to provider APIs, to Step Functions names
// and to #{source.*} variables that pipeline files put into paths; they are checked where they
// enter, so nothing downstream ever sees a name git itself would refuse ("a..b",
// "--upload-pack=x") or a revision expression ("HEAD~1") where a commit id belongs.

// RefError says a ref name, branch, tag or commit id is not one git accepts, and why.
type RefError struct {
	// What is "ref", "branch", "tag" or "commit".
	What string
	// Value is the refused text.
	Value string
	// Reason is the rule it breaks.
	Reason string
}

func (e *RefError) Error() string {
	if e.What == "commit" {
		return fmt.Sprintf("commit %s is not a full commit id: %s", quoteClip(e.Value), e.Reason)
	}
	return fmt.Sprintf("%s %s is not a valid git ref name: %s", e.What, quoteClip(e.Value), e.Reason)
}

// quoteClip quotes s for a message, clipped to 100 bytes: the text comes from a delivery.
func quoteClip(s string) string {
	if len(s) > 100 {
		return fmt.Sprintf("%q…", s[:100])
	}
	return fmt.Sprintf("%q", s)
}

// CheckRef reports whether ref is a full ref name (refs/heads/main, refs/pull/7/head) that
// `git check-ref-format <ref>` accepts, and else which of its rules the name breaks. The
// rules are git's, as documented at https://git-scm.com/docs/git-check-ref-format and
// implemented by check_refname_format in git's refs.c:
//
//  1. no slash-separated component begins with a dot or ends with ".lock";
//  2. at least one slash (git's --allow-onelevel is not given);
//  3. no "..";
//  4. no ASCII control character (below 0x20, or DEL), space, "~", "^" or ":";
//  5. no "?", "*" or "[" (git's --refspec-pattern is not given);
//  6. it neither begins nor ends with "/", and holds no "//" (no --normalize);
//  7. it does not end with ".";
//  8. no "@{";
//  9. it is not the single character "@";
//  10. no "\".
//
// Bytes from 0x80 up are accepted, as git accepts them. A NUL, which git could never be
// given on its command line, is refused as a control character.
func CheckRef(ref string) error {
	if reason := refRule(ref); reason != "" {
		return &RefError{What: "ref", Value: ref, Reason: reason}
	}
	return nil
}

// CheckBranch reports whether name is a branch name `git check-ref-format --branch` accepts
// outside a repository: refs/heads/<name> passes CheckRef, name does not begin with "-" (it
// would read as an option) and is not "HEAD".
func CheckBranch(name string) error {
	if reason := shortRule(name, "refs/heads/"); reason != "" {
		return &RefError{What: "branch", Value: name, Reason: reason}
	}
	if name == "HEAD" {
		return &RefError{What: "branch", Value: name, Reason: `"HEAD" is not a branch name`}
	}
	return nil
}

// CheckTag reports whether name is a tag name git accepts (`git tag`'s rule): refs/tags/<name>
// passes CheckRef and name does not begin with "-".
func CheckTag(name string) error {
	if reason := shortRule(name, "refs/tags/"); reason != "" {
		return &RefError{What: "tag", Value: name, Reason: reason}
	}
	return nil
}

// shortRule is the rule a branch or tag name breaks under prefix, or "".
func shortRule(name, prefix string) string {
	if name == "" {
		return "it is empty"
	}
	if name[0] == '-' {
		return `it begins with "-"`
	}
	return refRule(prefix + name)
}

// refRule is the rule of CheckRef that ref breaks, or "". It walks the components as
// check_refname_component does.
func refRule(ref string) string {
	switch {
	case ref == "":
		return "it is empty"
	case ref == "@":
		return `it is the single character "@"`
	}
	components := 0
	for rest := ref; ; {
		comp, after, more := strings.Cut(rest, "/")
		if reason := componentRule(comp); reason != "" {
			return reason
		}
		components++
		if !more {
			break
		}
		rest = after
	}
	switch {
	case strings.HasSuffix(ref, "."):
		return `it ends with "."`
	case components < 2:
		return `it has no "/" (a full ref name is refs/…)`
	}
	return ""
}

// componentRule is the rule one slash-separated component breaks, or "".
func componentRule(c string) string {
	if c == "" {
		return `it begins or ends with "/" or contains "//"`
	}
	var last byte
	for i := 0; i < len(c); i++ {
		ch := c[i]
		switch {
		case ch < 0x20 || ch == 0x7f:
			return "it contains a control character"
		case ch == '.' && last == '.':
			return `it contains ".."`
		case ch == '{' && last == '@':
			return `it contains "@{"`
		case strings.IndexByte(" ~^:", ch) >= 0:
			return fmt.Sprintf("it contains %q", ch)
		case strings.IndexByte("?*[", ch) >= 0:
			return fmt.Sprintf("it contains the pattern character %q", ch)
		case ch == '\\':
			return `it contains "\"`
		}
		last = ch
	}
	switch {
	case c[0] == '.':
		return `a component begins with "."`
	case strings.HasSuffix(c, ".lock"):
		return `a component ends with ".lock"`
	}
	return ""
}

// CheckCommit reports whether id is a full git object id in lowercase hex, as providers
// send them: 40 digits (SHA-1) or 64 (SHA-256 repositories). A short id, a revision
// expression (HEAD~1, main^) or anything that could read as an option (--upload-pack=x) is
// refused; the all-zero id is a valid form (the missing side of a created or deleted ref).
func CheckCommit(id string) error {
	if len(id) != 40 && len(id) != 64 {
		return &RefError{What: "commit", Value: id, Reason: fmt.Sprintf("it is %d characters long, not 40 (SHA-1) or 64 (SHA-256) hex digits", len(id))}
	}
	for i := 0; i < len(id); i++ {
		if !('0' <= id[i] && id[i] <= '9' || 'a' <= id[i] && id[i] <= 'f') {
			return &RefError{What: "commit", Value: id, Reason: "it contains a character that is not a lowercase hex digit"}
		}
	}
	return nil
}
