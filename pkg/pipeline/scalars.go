package pipeline

import (
	"github.com/stepline/stepline/pkg/diag"
	"math"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// str reads a text value. Numbers and timestamps are taken as written (a bare 1.20 stays
// "1.20"), but booleans and mappings or lists are type problems: `image: true` is a mistake,
// not a name.
func (d *decoder) str(n *yaml.Node, key string) String {
	s, _ := d.strOK(n, key)
	return s
}

// strOK is str that also says whether a usable value was written, so that callers check a
// value's content only once its type is right.
func (d *decoder) strOK(n *yaml.Node, key string) (String, bool) {
	n = d.resolve(n)
	if isNull(n) {
		return String{}, false
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!bool" {
		d.report(pos(n), RuleType, "%s: expected a string, found %s", key, kindName(n))
		return String{Pos: pos(n)}, false
	}
	return String{Value: n.Value, Pos: pos(n)}, true
}

// text reads a variable value: any scalar, booleans included, becomes its text, because
// variables are strings and `DEBUG: true` plainly means "true".
func (d *decoder) text(n *yaml.Node, key string) String {
	n = d.resolve(n)
	if isNull(n) {
		return String{Pos: pos(n)}
	}
	if n.Kind != yaml.ScalarNode {
		d.report(pos(n), RuleType, "%s: expected a string, found %s", key, kindName(n))
		return String{Pos: pos(n)}
	}
	return String{Value: n.Value, Pos: pos(n)}
}

// integer reads an integer within [lo, hi].
func (d *decoder) integer(n *yaml.Node, key string, lo, hi int) Int {
	v, _ := d.intOK(n, key, lo, hi)
	return v
}

// intOK is integer that also says whether a usable value was written.
func (d *decoder) intOK(n *yaml.Node, key string, lo, hi int) (Int, bool) {
	n = d.resolve(n)
	if isNull(n) {
		return Int{}, false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.report(pos(n), RuleType, "%s: expected an integer, found %s", key, kindName(n))
		return Int{Pos: pos(n)}, false
	}
	var v int64
	if err := n.Decode(&v); err != nil || v < int64(lo) || v > int64(hi) {
		d.report(pos(n), RuleValue, "%s: %s is out of range: expected %d to %d", key, clip(n.Value), lo, hi)
		return Int{Pos: pos(n)}, false
	}
	return Int{Value: int(v), Pos: pos(n)}, true
}

// number reads an integer or decimal number within [lo, hi].
func (d *decoder) number(n *yaml.Node, key string, lo, hi float64) Float {
	n = d.resolve(n)
	if isNull(n) {
		return Float{}
	}
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		d.report(pos(n), RuleType, "%s: expected a number, found %s", key, kindName(n))
		return Float{Pos: pos(n)}
	}
	var v float64
	if err := n.Decode(&v); err != nil || math.IsNaN(v) || v < lo || v > hi {
		d.report(pos(n), RuleValue, "%s: %s is out of range: expected %g to %g", key, clip(n.Value), lo, hi)
		return Float{Pos: pos(n)}
	}
	return Float{Value: v, Pos: pos(n)}
}

// boolean reads true or false.
func (d *decoder) boolean(n *yaml.Node, key string) Bool {
	v, _ := d.boolOK(n, key)
	return v
}

// boolOK is boolean that also says whether a usable value was written.
func (d *decoder) boolOK(n *yaml.Node, key string) (Bool, bool) {
	n = d.resolve(n)
	if isNull(n) {
		return Bool{}, false
	}
	var v bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&v) != nil {
		d.report(pos(n), RuleType, "%s: expected true or false, found %s", key, kindName(n))
		return Bool{Pos: pos(n)}, false
	}
	return Bool{Value: v, Pos: pos(n)}, true
}

// enum reads a string that must be one of allowed.
func (d *decoder) enum(n *yaml.Node, key string, allowed ...string) String {
	s, ok := d.strOK(n, key)
	if !ok {
		return s
	}
	if !d.oneOf(s, key, allowed...) {
		return String{Pos: s.Pos}
	}
	return s
}

// oneOf reports a value problem, with a suggestion, when s is not one of allowed.
func (d *decoder) oneOf(s String, key string, allowed ...string) bool {
	for _, a := range allowed {
		if s.Value == a {
			return true
		}
	}
	d.report(s.Pos, RuleValue, "%s: unknown value %q; expected one of %s%s", key, clip(s.Value), strings.Join(allowed, ", "), diag.DidYouMean(s.Value, allowed))
	return false
}

// strList reads a list of strings, leaving out items of the wrong type (already reported).
func (d *decoder) strList(n *yaml.Node, key string) []String {
	n = d.resolve(n)
	items, _ := d.sequence(n, key)
	out := make([]String, 0, len(items))
	for _, item := range items {
		item = d.resolve(item)
		if item != nil && isNull(item) {
			d.report(d.src.itemPos(pos(item)), RuleType, "%s item: expected a string, found null", key)
			continue
		}
		if s, ok := d.strOK(item, key+" item"); ok {
			out = append(out, s)
		}
	}
	return out
}

// strMap reads a mapping of names to text values, in file order. Names must match nameRE
// because they are read back as #{namespace.NAME} or as environment variable names.
func (d *decoder) strMap(n *yaml.Node, key string, nameRE *regexp.Regexp, nameRule string) []Var {
	n = d.resolve(n)
	ps, _ := d.mapping(n, key)
	out := make([]Var, 0, len(ps))
	for _, p := range ps {
		name := String{Value: p.key.Value, Pos: pos(p.key)}
		if nameRE != nil && !nameRE.MatchString(name.Value) {
			d.report(name.Pos, RuleValue, "%s: invalid name %q: %s", key, clip(name.Value), nameRule)
		}
		out = append(out, Var{Name: name, Value: d.text(p.val, key+"."+p.key.Value)})
	}
	return out
}

var (
	nameRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	artifactRE  = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	namespaceRE = regexp.MustCompile(`^[A-Za-z0-9@_-]+$`)
	varNameRE   = regexp.MustCompile(`^[A-Za-z0-9@_-]+$`)
	envNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

const (
	maxNameLen = 100
	nameRule   = "use letters, digits, _ and -, starting with a letter or digit, at most 100 characters"
)

// name reads a pipeline, stage or action name and checks its charset: names become parts of
// AWS resource names, execution names and URLs.
func (d *decoder) name(n *yaml.Node, what string) String {
	s, ok := d.strOK(n, what+" name")
	if !ok {
		return s
	}
	if !nameRE.MatchString(s.Value) || len(s.Value) > maxNameLen {
		d.report(s.Pos, RuleValue, "invalid %s name %q: %s", what, clip(s.Value), nameRule)
	}
	return s
}
