package buildspec

import (
	"fmt"
	"github.com/stepline/stepline/pkg/diag"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

var artifactKeys = []string{"files", "name", "discard-paths", "base-directory", "exclude-paths", "enable-symlinks", "s3-prefix", "secondary-artifacts"}

// secondaryKeys are artifactKeys minus secondary-artifacts: secondary artifacts do not nest.
var secondaryKeys = artifactKeys[:len(artifactKeys)-1]

func (p *parser) artifacts(n *yaml.Node) *Artifacts {
	if isNull(resolve(n)) {
		return nil
	}
	a := &Artifacts{}
	var secondary *yaml.Node
	a.Primary, secondary = p.artifactSet(n, "artifacts", "", artifactKeys)
	for _, kv := range p.fields(secondary, "artifacts.secondary-artifacts.", nil) {
		if !isIdentifier(strings.ReplaceAll(kv.name, "-", "_")) {
			p.errorf(kv.key, ruleValue, "secondary artifact identifier %q may only contain letters, digits, _ and -", kv.name)
			continue
		}
		set, _ := p.artifactSet(kv.val, "artifacts.secondary-artifacts."+kv.name, kv.name, secondaryKeys)
		a.Secondary = append(a.Secondary, set)
	}
	return a
}

// artifactSet reads one artifact definition. It returns the secondary-artifacts node, if any,
// so the caller decides whether nesting is allowed.
func (p *parser) artifactSet(n *yaml.Node, what, id string, keys []string) (ArtifactSet, *yaml.Node) {
	set := ArtifactSet{Identifier: id}
	var secondary *yaml.Node
	fields := p.fields(n, what+".", keys)
	if _, ok := fields.get("files"); !ok && resolve(n).Kind == yaml.MappingNode {
		p.errorf(n, ruleRequired, "%s.files is required", what)
	}
	for _, f := range fields {
		switch f.name {
		case "files":
			set.Files = p.patterns(f.val, what+".files")
		case "name":
			set.Name = p.str(f.val, what+".name")
		case "discard-paths":
			set.DiscardPaths = p.boolean(f.val, what+".discard-paths")
		case "base-directory":
			set.BaseDirectory = p.str(f.val, what+".base-directory")
		case "exclude-paths":
			set.ExcludePaths = p.patterns(f.val, what+".exclude-paths")
		case "enable-symlinks":
			set.EnableSymlinks = p.boolean(f.val, what+".enable-symlinks")
		case "s3-prefix":
			p.str(f.val, what+".s3-prefix")
			p.warnf(f.key, ruleNotLocal, "%s.s3-prefix is ignored locally: artifacts are written to the output directory", what)
		case "secondary-artifacts":
			secondary = f.val
		}
	}
	return set, secondary
}

var reportKeys = []string{"files", "base-directory", "discard-paths", "file-format"}

// reportFormats are the file-format values CodeBuild accepts (case-insensitive).
var reportFormats = []string{
	"CUCUMBERJSON", "JUNITXML", "NUNITXML", "NUNIT3XML", "TESTNGXML", "VISUALSTUDIOTRX",
	"CLOVERXML", "COBERTURAXML", "JACOCOXML", "SIMPLECOV",
}

func (p *parser) reports(n *yaml.Node) []ReportGroup {
	var out []ReportGroup
	for _, g := range p.fields(n, "reports.", nil) {
		what := "reports." + g.name
		rg := ReportGroup{Name: g.name, FileFormat: "JUNITXML"}
		fields := p.fields(g.val, what+".", reportKeys)
		if _, ok := fields.get("files"); !ok {
			p.errorf(g.key, ruleRequired, "%s.files is required", what)
		}
		for _, f := range fields {
			switch f.name {
			case "files":
				rg.Files = p.patterns(f.val, what+".files")
			case "base-directory":
				rg.BaseDirectory = p.str(f.val, what+".base-directory")
			case "discard-paths":
				rg.DiscardPaths = p.boolean(f.val, what+".discard-paths")
			case "file-format":
				v := strings.ToUpper(p.str(f.val, what+".file-format"))
				if !slices.Contains(reportFormats, v) {
					msg := fmt.Sprintf("%s.file-format %q is not a CodeBuild report format", what, v)
					msg += diag.DidYouMean(v, reportFormats)
					p.errorf(f.val, ruleValue, "%s", msg)
					continue
				}
				rg.FileFormat = v
			}
		}
		out = append(out, rg)
	}
	return out
}
