package cpimport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// node is a value of the input with the JSON path that leads to it, so every finding can say
// where it came from in both forms: line:column for an editor, the path for a reader of the
// JSON. The yaml.v3 node API reads JSON too (JSON is YAML's flow style), so both inputs keep
// their positions the same way.
type node struct {
	n    *yaml.Node
	path string
}

// at is the position of the node as (line, column), 1-based.
func (v node) at() (int, int) {
	if v.n == nil {
		return 1, 1
	}
	return max(v.n.Line, 1), max(v.n.Column, 1)
}

func (v node) ok() bool { return v.n != nil && !(v.n.Kind == yaml.ScalarNode && v.n.Tag == "!!null") }

// field returns the value of key in a mapping, compared without case: the API writes
// "stages" and "actionTypeId", CloudFormation "Stages" and "ActionTypeId", for the same thing.
func (v node) field(key string) node {
	m := deref(v.n)
	if m == nil || m.Kind != yaml.MappingNode {
		return node{}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if strings.EqualFold(m.Content[i].Value, key) {
			return node{n: deref(m.Content[i+1]), path: v.path + "." + m.Content[i].Value}
		}
	}
	return node{}
}

// fields lists a mapping's keys and values in input order.
func (v node) fields() []struct {
	key string
	val node
} {
	m := deref(v.n)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var out []struct {
		key string
		val node
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		out = append(out, struct {
			key string
			val node
		}{m.Content[i].Value, node{n: deref(m.Content[i+1]), path: v.path + "." + m.Content[i].Value}})
	}
	return out
}

// items lists a sequence's items; a lone value stands for a list of one.
func (v node) items() []node {
	s := deref(v.n)
	if s == nil {
		return nil
	}
	if s.Kind != yaml.SequenceNode {
		if v.ok() {
			return []node{v}
		}
		return nil
	}
	out := make([]node, 0, len(s.Content))
	for i, c := range s.Content {
		out = append(out, node{n: deref(c), path: fmt.Sprintf("%s[%d]", v.path, i)})
	}
	return out
}

func deref(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode && depth < 16; depth++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// parse reads JSON or YAML into a node tree. yaml.v3 has panicked on malformed input in past
// releases; a file handed to import must end as an error, never a crash.
func parse(data []byte) (root node, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = node{}, fmt.Errorf("cannot read the file as JSON or YAML: %v", r)
		}
	}()
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return node{}, errors.New("the file is empty")
		}
		return node{}, fmt.Errorf("cannot read the file as JSON or YAML: %w", err)
	}
	if len(doc.Content) == 0 {
		return node{}, errors.New("the file is empty")
	}
	return node{n: deref(doc.Content[0]), path: "$"}, nil
}

// cfn resolves the CloudFormation intrinsic functions a template's values may hold: a Ref to
// a parameter becomes its Default, Fn::Sub and Fn::Join are assembled, and what cannot be known
// from the template alone (a resource's Ref or attribute, a pseudo parameter without a value,
// an import) is written as ${...} and reported, so the imported file says where to write the
// real value. Outside a template the map is empty and values are plain.
type cfn struct {
	params map[string]string
	// names are the physical names of the template's resources whose Ref is their name and
	// whose name the template writes (a function's FunctionName, a bucket's BucketName, …).
	names map[string]string
}

// str is a scalar value as text (numbers and booleans as written), with unresolved
// CloudFormation references listed. ok is false when the value is not a scalar or intrinsic.
func (c *cfn) str(v node) (s string, unresolved []string, ok bool) {
	n := v.n
	if n == nil {
		return "", nil, false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Tag {
		case "!Ref":
			return c.ref(n.Value)
		case "!Sub":
			return c.sub(n.Value, nil)
		case "!GetAtt":
			return "${" + n.Value + "}", []string{n.Value}, true
		case "!ImportValue", "!GetAZs", "!Base64", "!Select", "!Split", "!If", "!FindInMap", "!Cidr":
			return "${" + strings.TrimPrefix(n.Tag, "!") + "}", []string{strings.TrimPrefix(n.Tag, "!") + " " + n.Value}, true
		case "!!null":
			return "", nil, false
		}
		return n.Value, nil, true
	case yaml.SequenceNode:
		switch n.Tag {
		case "!Join":
			return c.join(v)
		case "!Sub":
			return c.subList(v)
		case "!GetAtt":
			parts := make([]string, 0, len(n.Content))
			for _, p := range n.Content {
				parts = append(parts, p.Value)
			}
			name := strings.Join(parts, ".")
			return "${" + name + "}", []string{name}, true
		}
		if strings.HasPrefix(n.Tag, "!") && n.Tag != "!!seq" {
			fn := strings.TrimPrefix(n.Tag, "!")
			return "${" + fn + "}", []string{fn}, true
		}
		return "", nil, false
	case yaml.MappingNode:
		if len(n.Content) != 2 {
			return "", nil, false
		}
		key, arg := n.Content[0].Value, node{n: deref(n.Content[1]), path: v.path + "." + n.Content[0].Value}
		switch key {
		case "Ref":
			return c.ref(arg.n.Value)
		case "Fn::Sub":
			if arg.n.Kind == yaml.SequenceNode {
				return c.subList(arg)
			}
			return c.sub(arg.n.Value, nil)
		case "Fn::Join":
			return c.join(arg)
		case "Fn::GetAtt":
			var parts []string
			for _, p := range arg.items() {
				parts = append(parts, p.n.Value)
			}
			if arg.n.Kind == yaml.ScalarNode {
				parts = []string{arg.n.Value}
			}
			name := strings.Join(parts, ".")
			return "${" + name + "}", []string{name}, true
		}
		if strings.HasPrefix(key, "Fn::") {
			return "${" + key + "}", []string{key}, true
		}
	}
	return "", nil, false
}

// pseudo are the pseudo parameters whose value does not depend on the account or region.
var pseudo = map[string]string{"AWS::NoValue": "", "AWS::URLSuffix": "amazonaws.com"}

func (c *cfn) ref(name string) (string, []string, bool) {
	if v, ok := c.params[name]; ok {
		return v, nil, true
	}
	if v, ok := pseudo[name]; ok {
		return v, nil, true
	}
	if v, ok := c.names[name]; ok {
		return v, nil, true
	}
	return "${" + name + "}", []string{name}, true
}

// sub assembles an Fn::Sub string: ${Name} from vars or parameter defaults, ${!Literal} as
// ${Literal}, anything else left as written and listed.
func (c *cfn) sub(s string, vars map[string]string) (string, []string, bool) {
	var b strings.Builder
	var unresolved []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		j := strings.Index(s[i:], "}")
		if j < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		name := s[i+2 : i+j]
		switch {
		case strings.HasPrefix(name, "!"):
			b.WriteString("${" + name[1:] + "}")
		case vars != nil && hasKey(vars, name):
			b.WriteString(vars[name])
		default:
			v, u, _ := c.ref(name)
			b.WriteString(v)
			unresolved = append(unresolved, u...)
		}
		s = s[i+j+1:]
	}
	return b.String(), unresolved, true
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

func (c *cfn) subList(v node) (string, []string, bool) {
	items := v.items()
	if len(items) == 0 || items[0].n.Kind != yaml.ScalarNode {
		return "", nil, false
	}
	vars := map[string]string{}
	var unresolved []string
	if len(items) > 1 {
		for _, f := range items[1].fields() {
			s, u, ok := c.str(f.val)
			if ok {
				vars[f.key] = s
				unresolved = append(unresolved, u...)
			}
		}
	}
	s, u, ok := c.sub(items[0].n.Value, vars)
	return s, append(unresolved, u...), ok
}

func (c *cfn) join(v node) (string, []string, bool) {
	items := v.items()
	if len(items) != 2 {
		return "", nil, false
	}
	var parts, unresolved []string
	list := items[1]
	if list.n.Kind != yaml.SequenceNode {
		s, u, ok := c.str(list)
		return s, u, ok
	}
	for _, p := range list.items() {
		s, u, ok := c.str(p)
		if !ok {
			return "", nil, false
		}
		parts = append(parts, s)
		unresolved = append(unresolved, u...)
	}
	return strings.Join(parts, items[0].n.Value), unresolved, true
}

// parameters reads a template's parameter defaults.
func parameters(root node) map[string]string {
	out := map[string]string{}
	for _, p := range root.field("Parameters").fields() {
		d := p.val.field("Default")
		if d.ok() && d.n.Kind == yaml.ScalarNode {
			out[p.key] = d.n.Value
		}
	}
	return out
}

// nameProperty is, for the resource types whose Ref is their name, the property holding it
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-template-resource-type-ref.html,
// each type's "Return values: Ref").
var nameProperty = map[string]string{
	"AWS::Lambda::Function":            "FunctionName",
	"AWS::S3::Bucket":                  "BucketName",
	"AWS::CodeBuild::Project":          "Name",
	"AWS::ECS::Cluster":                "ClusterName",
	"AWS::CodeDeploy::Application":     "ApplicationName",
	"AWS::CodeDeploy::DeploymentGroup": "DeploymentGroupName",
	"AWS::CodeCommit::Repository":      "RepositoryName",
	"AWS::ECR::Repository":             "RepositoryName",
}

// resourceNames reads the written names of a template's resources (see nameProperty). A name
// that is itself a function is resolved once, without resource names, so nothing loops.
func (c *cfn) resourceNames(root node) map[string]string {
	out := map[string]string{}
	for _, r := range root.field("Resources").fields() {
		typ, _, _ := c.str(r.val.field("Type"))
		prop, ok := nameProperty[typ]
		if !ok {
			continue
		}
		if s, unresolved, ok := c.str(r.val.field("Properties").field(prop)); ok && len(unresolved) == 0 {
			out[r.key] = s
		}
	}
	return out
}

// intOf reads an integer value (JSON number or CloudFormation string).
func intOf(v node) (int, bool) {
	if v.n == nil || v.n.Kind != yaml.ScalarNode {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(v.n.Value))
	return n, err == nil
}
