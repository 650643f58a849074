package scm

import (
	"strconv"
	"strings"
)

// Variables returns the source namespace of a run started by the event: the values
// #{source.*} reads, with the names docs/pipeline.md lists.
func (e Event) Variables() map[string]string {
	head := e.Head()
	short := head
	if len(short) > 7 {
		short = short[:7]
	}
	author, message := "", ""
	for i := len(e.Commits) - 1; i >= 0; i-- {
		if e.Commits[i].ID == head {
			author, message = e.Commits[i].Author, firstLine(e.Commits[i].Message)
			break
		}
	}
	pr, fork := "", "false"
	event := e.Kind
	if e.PullRequest != nil {
		pr = strconv.Itoa(e.PullRequest.Number)
		event = "pull_request." + e.PullRequest.Action
		fork = strconv.FormatBool(e.PullRequest.Fork)
	}
	return map[string]string{
		"provider":        e.Provider,
		"event":           event,
		"repository":      e.Repository.FullName,
		"branch":          e.Branch,
		"branch_slug":     Slug(e.Branch),
		"tag":             e.Tag,
		"ref":             e.Ref,
		"commit_id":       head,
		"short_commit_id": short,
		"commit_message":  message,
		"author":          author,
		"pr_number":       pr,
		"fork":            fork,
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// Slug makes a branch name usable in resource names: lower case letters, digits and dashes,
// at most 40 characters ("feature/Login_UI" → "feature-login-ui").
func Slug(branch string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(branch) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > 40 {
		s = strings.TrimRight(s[:40], "-")
	}
	return s
}
