package buildspec

import (
	"fmt"
	"github.com/stepline/stepline/pkg/diag"
	"strings"

	"gopkg.in/yaml.v3"
)

// field is one key of a mapping, after aliases and merge keys are resolved.
type field struct {
	name     string
	key, val *yaml.Node
}

type fieldList []field

func (fl fieldList) get(name string) (field, bool) {
	for _, f := range fl {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

// maxAliasDepth bounds alias chains and nested merge keys. yaml.v3 accepts an anchor that
// refers to itself, so without a bound a crafted file could make the walk loop forever.
const maxAliasDepth = 32

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxAliasDepth; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") || n.Kind == 0
}

// describe names a node's type for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!null":
		return "null"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	}
	return "a string"
}

// fields returns the entries of a mapping in file order. Keys not in known (when known is not
// nil) are reported with a "did you mean" suggestion; repeated keys are reported because YAML
// libraries silently keep the last one, which hides mistakes.
func (p *parser) fields(n *yaml.Node, prefix string, known []string) fieldList {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	what := strings.TrimSuffix(prefix, ".")
	if what == "" {
		what = "buildspec"
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, ruleType, "%s must be a mapping, got %s", what, describe(n))
		return nil
	}
	var out fieldList
	seen := map[string]*yaml.Node{}
	p.collect(n, prefix, known, seen, &out, 0, false)
	return out
}

func (p *parser) collect(n *yaml.Node, prefix string, known []string, seen map[string]*yaml.Node, out *fieldList, depth int, merged bool) {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, ruleType, "%s: keys must be strings, got %s", strings.TrimSuffix(prefix, "."), describe(k))
			continue
		}
		if k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		name := k.Value
		if prev, dup := seen[name]; dup {
			if !merged {
				p.errorf(k, ruleDuplicate, "%s%s is already defined at line %d", prefix, name, prev.Line)
			}
			continue
		}
		seen[name] = k
		if known != nil && !containsString(known, name) {
			msg := fmt.Sprintf("unknown key %q", prefix+name) + diag.DidYouMean(name, known)
			p.errorf(k, ruleUnknown, "%s", msg)
			continue
		}
		*out = append(*out, field{name: name, key: k, val: v})
	}
	// Explicit keys win over merged ones, as the YAML merge-key spec says, so merges are
	// applied after the mapping's own keys are known.
	for _, m := range merges {
		if depth >= maxAliasDepth {
			p.errorf(m, ruleSyntax, "merge keys nest too deeply")
			return
		}
		m = resolve(m)
		var sources []*yaml.Node
		switch {
		case m != nil && m.Kind == yaml.MappingNode:
			sources = []*yaml.Node{m}
		case m != nil && m.Kind == yaml.SequenceNode:
			for _, s := range m.Content {
				sources = append(sources, resolve(s))
			}
		}
		if len(sources) == 0 {
			p.errorf(m, ruleType, "a merge key (<<) needs a mapping or a list of mappings, got %s", describe(m))
			continue
		}
		for _, s := range sources {
			if s == nil || s.Kind != yaml.MappingNode {
				p.errorf(m, ruleType, "a merge key (<<) needs a mapping or a list of mappings, got %s", describe(s))
				continue
			}
			if s == n {
				p.errorf(m, ruleSyntax, "a mapping cannot merge itself")
				continue
			}
			p.collect(s, prefix, known, seen, out, depth+1, true)
		}
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// str reads a scalar as text. Numbers and booleans keep the text as written, which is what a
// shell would see; null reads as "".
func (p *parser) str(n *yaml.Node, what string) string {
	n = resolve(n)
	if isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, ruleType, "%s must be a string, got %s", what, describe(n))
		return ""
	}
	return n.Value
}

// strList reads a list of scalars. The result is index-aligned with the node's items when
// there are no errors, which lets callers point at a bad item.
func (p *parser) strList(n *yaml.Node, what string) []string {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, ruleType, "%s must be a list of strings, got %s", what, describe(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, item := range n.Content {
		item = resolve(item)
		if item == nil || item.Kind != yaml.ScalarNode || isNull(item) {
			p.errorf(item, ruleType, "%s must be a list of strings, found %s", what, describe(item))
			out = append(out, "")
			continue
		}
		out = append(out, item.Value)
	}
	return out
}

// patterns reads a list of path globs, rejecting empty entries and malformed globs up front so
// a typo fails the parse instead of an upload at the end of a long build.
func (p *parser) patterns(n *yaml.Node, what string) []string {
	list := p.strList(n, what)
	out := list[:0]
	for i, pat := range list {
		item := resolve(resolve(n).Content[i])
		switch {
		case pat == "":
			if item != nil && item.Kind == yaml.ScalarNode && !isNull(item) {
				p.errorf(item, ruleValue, "%s: empty path", what)
			}
		case !validPattern(pat):
			p.errorf(item, ruleValue, "%s: %q is not a valid glob pattern", what, pat)
		default:
			out = append(out, pat)
		}
	}
	return out
}

// boolean accepts the spellings CodeBuild documents (yes/no) and YAML booleans.
func (p *parser) boolean(n *yaml.Node, what string) bool {
	n = resolve(n)
	if isNull(n) {
		return false
	}
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(n.Value) {
		case "yes", "true":
			return true
		case "no", "false":
			return false
		}
	}
	p.errorf(n, ruleType, "%s must be yes or no, got %s", what, quoteValue(n))
	return false
}

func quoteValue(n *yaml.Node) string {
	if n != nil && n.Kind == yaml.ScalarNode {
		return fmt.Sprintf("%q", n.Value)
	}
	return describe(n)
}

type keyValue struct {
	name, value string
	key         *yaml.Node
}

// stringMap reads a mapping of scalars, keeping file order.
func (p *parser) stringMap(n *yaml.Node, what string) []keyValue {
	var out []keyValue
	for _, f := range p.fields(n, what+".", nil) {
		v := resolve(f.val)
		if !isNull(v) && v.Kind != yaml.ScalarNode {
			p.errorf(v, ruleType, "%s.%s must be a string, got %s", what, f.name, describe(v))
			continue
		}
		value := ""
		if !isNull(v) {
			value = v.Value
		}
		out = append(out, keyValue{name: f.name, value: value, key: f.key})
	}
	return out
}

// isIdentifier reports whether s can name a shell variable.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
