package dynamofake

import (
	"bytes"
	"fmt"
	"math/big"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The expression language is the subset of DynamoDB's the stepline store writes, parsed as
// the grammar of
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html
// gives it: comparisons (= <> < <= > >=), attribute_exists, attribute_not_exists, begins_with,
// AND, OR, NOT and parentheses. BETWEEN, IN, contains, size, attribute_type and document paths
// (a.b, a[0]) are refused with an error naming them, so a store change that needs them fails
// its tests here instead of passing on a fake that guessed.

// token is one lexeme of an expression.
type token struct {
	kind string // "name" (#x), "value" (:x), "ident", "op", "(", ")", ","
	text string
}

func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')' || c == ',':
			out = append(out, token{kind: string(c), text: string(c)})
			i++
		case c == '=':
			out = append(out, token{kind: "op", text: "="})
			i++
		case c == '<' || c == '>':
			op := string(c)
			if i+1 < len(s) && (s[i+1] == '=' || (c == '<' && s[i+1] == '>')) {
				op += string(s[i+1])
			}
			out = append(out, token{kind: "op", text: op})
			i += len(op)
		case c == '#' || c == ':' || isIdent(c):
			j := i + 1
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			kind := map[byte]string{'#': "name", ':': "value"}[c]
			if kind == "" {
				kind = "ident"
			}
			if j == i+1 && kind != "ident" {
				return nil, fmt.Errorf("%q at %d has no name", c, i)
			}
			out = append(out, token{kind: kind, text: s[i:j]})
			i = j
		default:
			return nil, unsupported("the character %q at %d (document paths and arithmetic)", c, i)
		}
	}
	return out, nil
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// operand is an attribute path (one top-level attribute) or a placeholder's value.
type operand struct {
	attr  string
	value types.AttributeValue
}

// cond is a parsed condition.
type cond interface {
	eval(item map[string]types.AttributeValue) bool
}

type (
	and     struct{ l, r cond }
	or      struct{ l, r cond }
	not     struct{ c cond }
	compare struct {
		op   string
		l, r operand
	}
	exists struct {
		attr string
		want bool
	}
	beginsWith struct{ l, r operand }
)

func (c and) eval(it map[string]types.AttributeValue) bool { return c.l.eval(it) && c.r.eval(it) }
func (c or) eval(it map[string]types.AttributeValue) bool  { return c.l.eval(it) || c.r.eval(it) }
func (c not) eval(it map[string]types.AttributeValue) bool { return !c.c.eval(it) }

func (c exists) eval(it map[string]types.AttributeValue) bool {
	_, ok := it[c.attr]
	return ok == c.want
}

func (c beginsWith) eval(it map[string]types.AttributeValue) bool {
	l, r := c.l.resolve(it), c.r.resolve(it)
	switch l := l.(type) {
	case *types.AttributeValueMemberS:
		r, ok := r.(*types.AttributeValueMemberS)
		return ok && strings.HasPrefix(l.Value, r.Value)
	case *types.AttributeValueMemberB:
		r, ok := r.(*types.AttributeValueMemberB)
		return ok && bytes.HasPrefix(l.Value, r.Value)
	}
	return false
}

// eval compares as DynamoDB does: a missing attribute or operands of different types make
// every comparison false but <>.
func (c compare) eval(it map[string]types.AttributeValue) bool {
	l, r := c.l.resolve(it), c.r.resolve(it)
	if l == nil || r == nil {
		return false
	}
	n, ok := order(l, r)
	if !ok {
		return c.op == "<>"
	}
	switch c.op {
	case "=":
		return n == 0
	case "<>":
		return n != 0
	case "<":
		return n < 0
	case "<=":
		return n <= 0
	case ">":
		return n > 0
	default: // ">=", the parser admits no other
		return n >= 0
	}
}

func (o operand) resolve(it map[string]types.AttributeValue) types.AttributeValue {
	if o.attr != "" {
		return it[o.attr]
	}
	return o.value
}

// order compares two scalars of one type: strings and binaries byte by byte, numbers by
// value. ok is false for other kinds or mixed types.
func order(a, b types.AttributeValue) (int, bool) {
	switch a := a.(type) {
	case *types.AttributeValueMemberS:
		if b, ok := b.(*types.AttributeValueMemberS); ok {
			return strings.Compare(a.Value, b.Value), true
		}
	case *types.AttributeValueMemberB:
		if b, ok := b.(*types.AttributeValueMemberB); ok {
			return bytes.Compare(a.Value, b.Value), true
		}
	case *types.AttributeValueMemberN:
		if b, ok := b.(*types.AttributeValueMemberN); ok {
			x, okx := new(big.Rat).SetString(a.Value)
			y, oky := new(big.Rat).SetString(b.Value)
			if okx && oky {
				return x.Cmp(y), true
			}
		}
	}
	return 0, false
}

// parser reads one expression with its placeholders, and remembers which it used: DynamoDB
// refuses a request whose ExpressionAttributeNames or ExpressionAttributeValues hold one no
// expression uses.
type parser struct {
	toks   []token
	pos    int
	names  map[string]string
	values map[string]types.AttributeValue
	used   map[string]bool
}

func newParser(names map[string]string, values map[string]types.AttributeValue) *parser {
	return &parser{names: names, values: values, used: map[string]bool{}}
}

func (p *parser) reset(expr string) error {
	toks, err := lex(expr)
	p.toks, p.pos = toks, 0
	return err
}

func (p *parser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{}
}

func (p *parser) next() token {
	t := p.peek()
	p.pos++
	return t
}

func (p *parser) expect(kind string) error {
	if t := p.next(); t.kind != kind {
		return fmt.Errorf("expected %q, found %q", kind, t.text)
	}
	return nil
}

func (p *parser) keyword(word string) bool {
	if t := p.peek(); t.kind == "ident" && strings.EqualFold(t.text, word) {
		p.pos++
		return true
	}
	return false
}

// parseCondition parses a whole condition expression.
func (p *parser) parseCondition(expr string) (cond, error) {
	if err := p.reset(expr); err != nil {
		return nil, err
	}
	c, err := p.or()
	if err == nil && p.pos < len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.peek().text)
	}
	if err != nil {
		return nil, fmt.Errorf("condition %q: %w", expr, err)
	}
	return c, nil
}

func (p *parser) or() (cond, error) {
	l, err := p.and()
	for err == nil && p.keyword("OR") {
		var r cond
		r, err = p.and()
		l = or{l, r}
	}
	return l, err
}

func (p *parser) and() (cond, error) {
	l, err := p.not()
	for err == nil && p.keyword("AND") {
		var r cond
		r, err = p.not()
		l = and{l, r}
	}
	return l, err
}

func (p *parser) not() (cond, error) {
	if p.keyword("NOT") {
		c, err := p.not()
		return not{c}, err
	}
	return p.primary()
}

func (p *parser) primary() (cond, error) {
	t := p.peek()
	if t.kind == "(" {
		p.pos++
		c, err := p.or()
		if err != nil {
			return nil, err
		}
		return c, p.expect(")")
	}
	if t.kind == "ident" && p.pos+1 < len(p.toks) && p.toks[p.pos+1].kind == "(" {
		return p.function()
	}
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	op := p.next()
	if op.kind != "op" {
		if op.kind == "ident" && (strings.EqualFold(op.text, "BETWEEN") || strings.EqualFold(op.text, "IN")) {
			return nil, unsupported("the %s operator", strings.ToUpper(op.text))
		}
		return nil, fmt.Errorf("expected a comparator after an operand, found %q", op.text)
	}
	r, err := p.operand()
	if err != nil {
		return nil, err
	}
	return compare{op: op.text, l: l, r: r}, nil
}

func (p *parser) function() (cond, error) {
	name := p.next().text
	p.pos++ // "("
	var args []operand
	for {
		o, err := p.operand()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		args = append(args, o)
		if p.peek().kind != "," {
			break
		}
		p.pos++
	}
	if err := p.expect(")"); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	switch name {
	case "attribute_exists", "attribute_not_exists":
		if len(args) != 1 || args[0].attr == "" {
			return nil, fmt.Errorf("%s takes one attribute path", name)
		}
		return exists{attr: args[0].attr, want: name == "attribute_exists"}, nil
	case "begins_with":
		if len(args) != 2 || args[0].attr == "" {
			return nil, fmt.Errorf("begins_with takes an attribute path and an operand")
		}
		return beginsWith{l: args[0], r: args[1]}, nil
	}
	return nil, unsupported("the function %s", name)
}

// operand reads a placeholder (#name or :value) or a plain attribute name.
func (p *parser) operand() (operand, error) {
	t := p.next()
	switch t.kind {
	case "name":
		n, ok := p.names[t.text]
		if !ok {
			return operand{}, fmt.Errorf("ExpressionAttributeNames has no %s", t.text)
		}
		p.used[t.text] = true
		return operand{attr: n}, nil
	case "value":
		v, ok := p.values[t.text]
		if !ok {
			return operand{}, fmt.Errorf("ExpressionAttributeValues has no %s", t.text)
		}
		p.used[t.text] = true
		return operand{value: v}, nil
	case "ident":
		return operand{attr: t.text}, nil
	}
	return operand{}, fmt.Errorf("expected an operand, found %q", t.text)
}

// checkUsed refuses placeholders given but used by no expression, as DynamoDB does.
func (p *parser) checkUsed() error {
	for n := range p.names {
		if !p.used[n] {
			return validation("Value provided in ExpressionAttributeNames unused in expressions: keys: {%s}", n)
		}
	}
	for v := range p.values {
		if !p.used[v] {
			return validation("Value provided in ExpressionAttributeValues unused in expressions: keys: {%s}", v)
		}
	}
	return nil
}

// action is one clause of an update expression.
type action struct {
	verb string // SET, ADD or REMOVE
	attr string
	val  operand
}

// parseUpdate parses SET a = v, ADD a v and REMOVE a clauses; SET's right side is one operand
// (if_not_exists, list_append and arithmetic are refused), ADD adds numbers only, and DELETE
// (of set elements) is refused.
func (p *parser) parseUpdate(expr string) ([]action, error) {
	if err := p.reset(expr); err != nil {
		return nil, err
	}
	var out []action
	for p.pos < len(p.toks) {
		verb := strings.ToUpper(p.next().text)
		if verb != "SET" && verb != "ADD" && verb != "REMOVE" {
			return nil, unsupported("the update clause %q in %q", verb, expr)
		}
		for {
			target, err := p.operand()
			if err != nil || target.attr == "" {
				return nil, fmt.Errorf("update %q: %s needs an attribute path (%v)", expr, verb, err)
			}
			a := action{verb: verb, attr: target.attr}
			switch verb {
			case "SET":
				if t := p.next(); t.text != "=" {
					return nil, fmt.Errorf("update %q: SET %s needs =, found %q", expr, target.attr, t.text)
				}
				if t := p.peek(); t.kind == "ident" {
					return nil, unsupported("the SET function or path %s in %q", t.text, expr)
				}
				a.val, err = p.operand()
			case "ADD":
				a.val, err = p.operand()
			}
			if err != nil {
				return nil, fmt.Errorf("update %q: %w", expr, err)
			}
			out = append(out, a)
			if p.peek().kind != "," {
				break
			}
			p.pos++
		}
	}
	return out, nil
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("dynamofake does not implement %s: add it to the fake with a test against DynamoDB's documented behaviour", fmt.Sprintf(format, args...))
}
