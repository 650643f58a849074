package scm

import (
	"encoding/json"
	"strings"
)

// ErrorMessage extracts the explanation from a provider's error body: GitHub's {"message"},
// Bitbucket Cloud's {"error":{"message"}}, Data Center's {"errors":[{"message"}]} (joined), or
// the first line of a text answer; never an HTML page. It is one line of at most 200
// characters. Callers scrub their credentials from it, since a proxy may echo the request.
func ErrorMessage(body []byte) string {
	var v struct {
		Message string `json:"message"`
		Error   struct {
			Message string `json:"message"`
		} `json:"error"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	var m string
	if json.Unmarshal(body, &v) == nil {
		switch {
		case v.Message != "":
			m = v.Message
		case v.Error.Message != "":
			m = v.Error.Message
		default:
			for _, e := range v.Errors {
				m = strings.TrimPrefix(m+"; "+e.Message, "; ")
			}
		}
	} else if !strings.Contains(strings.ToLower(string(body[:min(len(body), 512)])), "<html") {
		m, _, _ = strings.Cut(string(body), "\n")
	}
	m = strings.Join(strings.Fields(m), " ")
	if r := []rune(m); len(r) > 200 {
		m = string(r[:200]) + "…"
	}
	return m
}
