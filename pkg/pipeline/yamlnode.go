package pipeline

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// maxVisits bounds the work of walking a document: YAML aliases can make a few hundred bytes
// expand into billions of nodes ("billion laughs"), and the file comes from any pushed commit.
const maxVisits = 200_000

// decoder walks the YAML tree once, building the model and collecting problems. It never stops
// at the first problem: each check reports and carries on with a best-effort value.
type decoder struct {
	file   string
	src    *source
	probs  Problems
	visits int
	// tooBig is set once maxVisits is passed; every later node reads as absent so the walk
	// ends quickly, and Parse reports only that.
	tooBig    bool
	bigAt     Pos
	varSites  []varSite
	pipelines []*pipelineIndex
}

func (d *decoder) report(p Pos, rule, format string, args ...any) {
	d.probs = append(d.probs, Problem{File: d.file, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...), Rule: rule})
}

func pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{}
	}
	return Pos{Line: n.Line, Col: n.Column}
}

// resolve follows aliases and counts the visit against the budget. It returns nil for a nil
// node, once the budget is spent, or for an alias without target.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for hops := 0; n != nil && n.Kind == yaml.AliasNode; hops++ {
		if hops > 1000 {
			return nil
		}
		n = n.Alias
	}
	if n == nil || d.tooBig {
		return nil
	}
	d.visits++
	if d.visits > maxVisits {
		d.tooBig = true
		d.bigAt = pos(n)
		return nil
	}
	return n
}

// isNull reports whether n is absent or an explicit YAML null: an empty value reads as if the
// key were not written, which is what `exclude:` with nothing after it means to its author.
func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// kindName says what a node is, in the words of a type problem.
func kindName(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return fmt.Sprintf("string %q", clip(n.Value))
		case "!!int":
			return "integer " + clip(n.Value)
		case "!!float":
			return "number " + clip(n.Value)
		case "!!bool":
			return "boolean " + clip(n.Value)
		case "!!null":
			return "null"
		case "!!timestamp":
			return "timestamp " + clip(n.Value)
		}
		return fmt.Sprintf("%s %q", n.Tag, clip(n.Value))
	}
	return "document"
}

// clip keeps messages one line long when a value is long.
func clip(s string) string {
	r := []rune(s)
	if len(r) > 40 {
		return string(r[:37]) + "..."
	}
	return s
}

// pair is one key and value of a mapping.
type pair struct {
	key, val *yaml.Node
	// merged is true for a pair brought in by a << merge key.
	merged bool
}

// mapping returns the pairs of a mapping node, or reports a type problem and returns nil.
// A null node is an empty mapping.
func (d *decoder) mapping(n *yaml.Node, what string) ([]pair, bool) {
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		d.report(pos(n), RuleType, "%s: expected a mapping, found %s", what, kindName(n))
		return nil, false
	}
	return d.pairs(n, nil), true
}

// pairs lists a mapping's pairs with YAML merge keys (<<) expanded: explicit keys win over
// merged ones, earlier merged mappings over later ones, as the YAML merge spec says. Duplicate
// explicit keys are reported. active guards against a mapping that merges itself.
func (d *decoder) pairs(m *yaml.Node, active map[*yaml.Node]bool) []pair {
	if active[m] {
		return nil
	}
	var out, merged []pair
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			if active == nil {
				active = map[*yaml.Node]bool{}
			}
			active[m] = true
			merged = append(merged, d.merge(v, active)...)
			delete(active, m)
			continue
		}
		rk := d.resolve(k)
		if rk == nil {
			continue
		}
		if rk.Kind != yaml.ScalarNode || rk.Tag == "!!null" {
			d.report(pos(rk), RuleType, "a key must be a string, found %s", kindName(rk))
			continue
		}
		if prev, dup := first[rk.Value]; dup {
			d.report(pos(rk), RuleDuplicate, "duplicate key %q (first at %d:%d)", rk.Value, prev.Line, prev.Column)
			continue
		}
		first[rk.Value] = rk
		out = append(out, pair{key: rk, val: v})
	}
	for _, p := range merged {
		if _, dup := first[p.key.Value]; dup {
			continue
		}
		first[p.key.Value] = p.key
		p.merged = true
		out = append(out, p)
	}
	return out
}

// merge expands the value of a << key: a mapping or a list of mappings.
func (d *decoder) merge(v *yaml.Node, active map[*yaml.Node]bool) []pair {
	v = d.resolve(v)
	if v == nil {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		return d.pairs(v, active)
	case yaml.SequenceNode:
		var out []pair
		for _, item := range v.Content {
			item = d.resolve(item)
			if item == nil {
				continue
			}
			if item.Kind != yaml.MappingNode {
				d.report(pos(item), RuleType, "<<: expected a mapping to merge, found %s", kindName(item))
				continue
			}
			out = append(out, d.pairs(item, active)...)
		}
		return out
	}
	d.report(pos(v), RuleType, "<<: expected a mapping or a list of mappings to merge, found %s", kindName(v))
	return nil
}

// sequence returns the items of a list node, or reports a type problem. A null node is an
// empty list.
func (d *decoder) sequence(n *yaml.Node, what string) ([]*yaml.Node, bool) {
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		d.report(pos(n), RuleType, "%s: expected a list, found %s", what, kindName(n))
		return nil, false
	}
	return n.Content, true
}

// lookup returns the value of key among pairs, resolved, or nil.
func (d *decoder) lookup(ps []pair, key string) *yaml.Node {
	for _, p := range ps {
		if p.key.Value == key {
			return d.resolve(p.val)
		}
	}
	return nil
}

// require reports each key that is missing, or written without a value, in a mapping.
func (d *decoder) require(m *yaml.Node, ps []pair, what string, keys ...string) {
	for _, key := range keys {
		var found *pair
		for i := range ps {
			if ps[i].key.Value == key {
				found = &ps[i]
				break
			}
		}
		switch {
		case found == nil:
			d.report(pos(m), RuleRequired, "%s is missing required key %q", what, key)
		case isNull(d.resolve(found.val)) && !d.tooBig:
			d.report(pos(found.key), RuleRequired, "%s: key %q has no value", what, key)
		}
	}
}
