// Package iamcheck proves, without an AWS account, that the stack's IAM roles allow what
// stepline does: every SDK call a function makes in its tests (Recorder, the committed
// contract in testdata/calls.json) and everything a state machine integration needs
// (Integrations), evaluated against the roles of the synthesized CDK template and the SAM
// transform output (Template, Check). It stands in for "deployed and did not get
// AccessDenied"; the infra tests run it on both templates.
package iamcheck

import (
	"fmt"
	"strings"
)

// Statement is one statement of an identity policy, with its values as plain strings (a
// template's intrinsics already resolved).
type Statement struct {
	// Effect is "Allow" or "Deny".
	Effect string
	// Action and Resource are the statement's patterns; NotAction and NotResource are kept
	// only so that a statement using them can be refused (see Policy.Allows).
	Action, NotAction, Resource, NotResource []string
	// Condition is operator → key → values.
	Condition map[string]map[string][]string
}

// Request is what IAM authorizes: one action on one resource ("*" for an action that takes
// none), with the request's condition keys.
type Request struct {
	Action   string            `json:"action"`
	Resource string            `json:"resource"`
	Context  map[string]string `json:"context,omitempty"`
}

func (r Request) String() string {
	s := r.Action + " on " + r.Resource
	for k, v := range r.Context {
		s += fmt.Sprintf(" [%s=%s]", k, v)
	}
	return s
}

// Policy is the statements of one principal's identity policies.
//
// Allows evaluates them as IAM does for a request inside one account with no resource
// policy, permissions boundary or SCP in play: allowed when some Allow statement matches and
// no Deny statement does. Actions match case-insensitively, resources case-sensitively, both
// with the wildcards * (any run of characters) and ? (one character); an ARN pattern matches
// segment by segment (partition, service, region, account, resource), as IAM compares ARNs.
//
// Conditions: StringEquals, StringLike, StringNotEquals, StringNotLike, ArnEquals and ArnLike
// are evaluated against the request's context keys. Every other operator (Bool, Numeric*,
// Date*, IpAddress, Null, the ...IfExists forms, ForAllValues/ForAnyValue) and any key the
// request does not carry make the condition unmet: such an Allow statement allows nothing
// here, so a grant this evaluator cannot judge fails the check instead of passing it
// unexamined. A Deny statement with a condition is honoured only when the condition is met
// by the same rules. NotAction and NotResource are not evaluated: an Allow statement using
// them allows nothing, a Deny statement using them is ignored (the stack's roles use
// neither).
type Policy []Statement

// Allows reports whether the policy allows r.
func (p Policy) Allows(r Request) bool {
	allowed := false
	for _, s := range p {
		if !s.matches(r) {
			continue
		}
		switch s.Effect {
		case "Deny":
			return false
		case "Allow":
			allowed = true
		}
	}
	return allowed
}

// Why returns the statements matching r's action, for a failure message that shows what the
// role grants instead.
func (p Policy) Why(action string) []Statement {
	var out []Statement
	for _, s := range p {
		for _, a := range s.Action {
			if matchAction(a, action) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

func (s Statement) matches(r Request) bool {
	if len(s.NotAction) > 0 || len(s.NotResource) > 0 {
		return false
	}
	action := false
	for _, a := range s.Action {
		if matchAction(a, r.Action) {
			action = true
			break
		}
	}
	if !action {
		return false
	}
	resource := false
	for _, pattern := range s.Resource {
		if MatchResource(pattern, r.Resource) {
			resource = true
			break
		}
	}
	return resource && conditionMet(s.Condition, r.Context)
}

func (s Statement) String() string {
	out := fmt.Sprintf("%s %s on %s", s.Effect, strings.Join(s.Action, ","), strings.Join(s.Resource, ","))
	if len(s.Condition) > 0 {
		out += fmt.Sprintf(" if %v", s.Condition)
	}
	return out
}

func matchAction(pattern, action string) bool {
	return glob(strings.ToLower(pattern), strings.ToLower(action))
}

// MatchResource reports whether an IAM Resource pattern matches a resource: "*" matches
// everything; otherwise both are ARNs compared segment by segment (the resource segment keeps
// its own colons and slashes), each with * and ? as wildcards.
func MatchResource(pattern, resource string) bool {
	if pattern == "*" {
		return true
	}
	ps, rs := strings.SplitN(pattern, ":", 6), strings.SplitN(resource, ":", 6)
	if len(ps) != 6 || len(rs) != 6 {
		return glob(pattern, resource)
	}
	for i := range ps {
		if !glob(ps[i], rs[i]) {
			return false
		}
	}
	return true
}

// glob matches s against a pattern of literal characters, * and ?.
func glob(pattern, s string) bool {
	// Iterative matching with one backtrack point, linear in practice.
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func conditionMet(cond map[string]map[string][]string, ctx map[string]string) bool {
	for op, keys := range cond {
		for key, values := range keys {
			got, ok := ctx[key]
			if !ok {
				return false
			}
			if !operator(op, values, got) {
				return false
			}
		}
	}
	return true
}

func operator(op string, values []string, got string) bool {
	any := func(match func(v string) bool) bool {
		for _, v := range values {
			if match(v) {
				return true
			}
		}
		return false
	}
	switch op {
	case "StringEquals", "ArnEquals":
		return any(func(v string) bool { return v == got })
	case "StringNotEquals":
		return !any(func(v string) bool { return v == got })
	case "StringLike":
		return any(func(v string) bool { return glob(v, got) })
	case "StringNotLike":
		return !any(func(v string) bool { return glob(v, got) })
	case "ArnLike":
		return any(func(v string) bool { return MatchResource(v, got) })
	}
	return false
}

// grants lists, one per line, the statements granting action, for a failure message.
func (p Policy) grants(action string) string {
	var lines []string
	for _, s := range p.Why(action) {
		lines = append(lines, "    "+s.String())
	}
	if len(lines) == 0 {
		return "    (nothing for this action)"
	}
	return strings.Join(lines, "\n")
}
