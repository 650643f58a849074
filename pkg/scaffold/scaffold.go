// Package scaffold plans the files of a new repository for `stepline init`: a template (a Go
// service on ECS Fargate, rolling or blue/green, a SAM serverless API, a static site on S3) and
// the answers given for it become the repository's .stepline.yml, buildspecs, code and
// infrastructure. It only plans: the files come back as paths and contents, and the caller
// decides whether and where to write them.
//
// The templates are text/template files embedded in the binary (templates/), each listed in
// this package's catalog with the path it is written to.
package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/stepline/stepline/pkg/scm"
)

//go:embed all:templates
var templateFS embed.FS

// Answers are what a template asks for. Plan checks them (Check) before rendering anything.
type Answers struct {
	// Name names the application: the Go module, the pipelines (Name, Name-test,
	// Name-production), the ECR repository and the prefix of every stack. Lower case letters,
	// digits and dashes, starting with a letter, at most 28 characters.
	Name string
	// Region is the AWS region the application deploys to (the builds' AWS_REGION and
	// AWS_DEFAULT_REGION, so the AWS CLI in a build works on a laptop too).
	Region string
	// Branches are the branches (doublestar globs) that deploy an environment of their own,
	// br-<branch slug>, without an approval. The production branch is never one of them.
	Branches []string
	// ProductionBranch deploys the production environment, after an approval.
	ProductionBranch string
	// Distribution is the ID of a CloudFront distribution serving the static site: when set,
	// the production pipeline invalidates its cache after each deploy. Only static-site reads it.
	Distribution string
}

// Template is one kind of repository init can write.
type Template struct {
	// Name is what --template takes.
	Name string
	// Summary is one line for `stepline init --list` and the interactive choice.
	Summary string
	// Distribution says whether the template reads Answers.Distribution.
	Distribution bool
	files        []source
}

// source is one file of a template: where it is written and which embedded file renders it.
type source struct {
	path, from string
	// when, if set, decides whether the answers want the file at all.
	when func(Answers) bool
}

// File is one planned file.
type File struct {
	// Path is slash-separated and relative to the repository root.
	Path string
	Body []byte
	// Mode is 0o644, or 0o755 for scripts.
	Mode fs.FileMode
}

// goService is the Go HTTP service both ECS templates share.
var goService = []source{
	{path: "go.mod", from: "go-service/go.mod.tmpl"},
	{path: "main.go", from: "go-service/main.go.tmpl"},
	{path: "main_test.go", from: "go-service/main_test.go.tmpl"},
	{path: "Dockerfile", from: "go-service/Dockerfile.tmpl"},
	{path: ".dockerignore", from: "go-service/dockerignore.tmpl"},
	{path: "ci/test.yml", from: "go-service/test.yml.tmpl"},
	{path: "ci/image.yml", from: "go-service/image.yml.tmpl"},
	{path: "infra/shared.yml", from: "go-service/shared.yml.tmpl"},
}

var catalog = []Template{
	{
		Name:    "ecs-service",
		Summary: "Go HTTP service on ECS Fargate behind a load balancer: Docker image in ECR, rolling deploys with the circuit breaker",
		files: append(slices.Clone(goService),
			source{path: ".stepline.yml", from: "ecs-service/stepline.yml.tmpl"},
			source{path: "infra/service.yml", from: "ecs-service/service.yml.tmpl"}),
	},
	{
		Name:    "ecs-bluegreen",
		Summary: "the same Go service, production moved by ECS blue/green (two target groups, a bake time) after an approval",
		files: append(slices.Clone(goService),
			source{path: ".stepline.yml", from: "ecs-bluegreen/stepline.yml.tmpl"},
			source{path: "infra/service.yml", from: "ecs-bluegreen/service.yml.tmpl"}),
	},
	{
		Name:    "sam-api",
		Summary: "Go Lambda behind an HTTP API in a SAM template, deployed per environment through CloudFormation change sets",
		files: []source{
			{path: ".stepline.yml", from: "sam-api/stepline.yml.tmpl"},
			{path: "go.mod", from: "sam-api/go.mod.tmpl"},
			{path: "go.sum", from: "sam-api/go.sum.tmpl"},
			{path: "main.go", from: "sam-api/main.go.tmpl"},
			{path: "main_test.go", from: "sam-api/main_test.go.tmpl"},
			{path: "template.yml", from: "sam-api/template.yml.tmpl"},
			{path: "ci/test.yml", from: "sam-api/test.yml.tmpl"},
			{path: "ci/package.yml", from: "sam-api/package.yml.tmpl"},
			{path: "ci/build-policy.json", from: "sam-api/build-policy.json.tmpl"},
			{path: "infra/packages.yml", from: "sam-api/packages.yml.tmpl"},
		},
	},
	{
		Name:         "static-site",
		Summary:      "static site uploaded to S3 per environment, the CloudFront cache invalidated when --distribution names one",
		Distribution: true,
		files: []source{
			{path: ".stepline.yml", from: "static-site/stepline.yml.tmpl"},
			{path: "site/index.html", from: "static-site/index.html.tmpl"},
			{path: "site/404.html", from: "static-site/404.html.tmpl"},
			{path: "site/style.css", from: "static-site/style.css.tmpl"},
			{path: "ci/site.yml", from: "static-site/site.yml.tmpl"},
			{path: "ci/check-site.sh", from: "static-site/check-site.sh.tmpl"},
			{path: "infra/site.yml", from: "static-site/infra.yml.tmpl"},
			{path: "ci/invalidate.yml", from: "static-site/invalidate.yml.tmpl",
				when: func(a Answers) bool { return a.Distribution != "" }},
			{path: "ci/build-policy.json", from: "static-site/build-policy.json.tmpl",
				when: func(a Answers) bool { return a.Distribution != "" }},
		},
	},
}

// Templates lists the templates in the order init offers them.
func Templates() []Template { return slices.Clone(catalog) }

// ErrUnknownTemplate is returned for a template name the catalog does not have.
var ErrUnknownTemplate = errors.New("unknown template")

// Lookup returns the template called name.
func Lookup(name string) (Template, error) {
	for _, t := range catalog {
		if t.Name == name {
			return t, nil
		}
	}
	names := make([]string, len(catalog))
	for i, t := range catalog {
		names[i] = t.Name
	}
	return Template{}, fmt.Errorf("%w %q: expected one of %s", ErrUnknownTemplate, name, strings.Join(names, ", "))
}

var (
	nameRe   = regexp.MustCompile(`^[a-z][a-z0-9-]{0,27}$`)
	regionRe = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	// A CloudFront distribution ID: upper-case letters and digits
	// (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_GetDistribution.html).
	distributionRe = regexp.MustCompile(`^[A-Z0-9]{1,32}$`)
)

// AnswerError lists every answer Check refused, one per line.
type AnswerError struct{ Problems []string }

func (e *AnswerError) Error() string { return strings.Join(e.Problems, "; ") }

// Check reports every answer the template cannot use, all at once.
func (t Template) Check(a Answers) error {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if !nameRe.MatchString(a.Name) || strings.HasSuffix(a.Name, "-") || strings.Contains(a.Name, "--") {
		add("name %q: lower case letters, digits and single dashes, starting with a letter and not ending with a dash, at most 28 characters (it names the ECR repository and the site bucket, and prefixes every stack)", a.Name)
	}
	if !regionRe.MatchString(a.Region) {
		add("region %q: expected an AWS region such as us-east-1", a.Region)
	}
	if err := scm.CheckBranch(a.ProductionBranch); err != nil || !printable(a.ProductionBranch) || strings.ContainsAny(a.ProductionBranch, "*?[]{}\"") {
		add("production branch %q: expected one branch name, not a pattern", a.ProductionBranch)
	}
	for _, b := range a.Branches {
		if !printable(b) || !doublestar.ValidatePattern(b) || strings.ContainsAny(b, " \t\n\"'#:,\\") || strings.HasPrefix(b, "-") {
			add("branch %q: expected a branch name or a glob such as feature/**", b)
		}
	}
	switch {
	case a.Distribution != "" && !t.Distribution:
		add("distribution: template %s has no CloudFront distribution to invalidate", t.Name)
	case a.Distribution != "" && !distributionRe.MatchString(a.Distribution):
		add("distribution %q: expected a CloudFront distribution ID such as E2QWRUHAPOMQZL", a.Distribution)
	}
	if len(probs) > 0 {
		return &AnswerError{Problems: probs}
	}
	return nil
}

// printable reports whether s is non-empty UTF-8 text without control characters: what a
// branch name written into YAML and shown in messages may be.
func printable(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// data is what the template files see.
type data struct {
	Answers
	// Branches are the answers' branches without the production branch, in order, once each.
	Branches []string
}

// Plan renders the template called name for the answers: the files to write, sorted by path.
func Plan(name string, a Answers) ([]File, error) {
	t, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	if err := t.Check(a); err != nil {
		return nil, err
	}
	d := data{Answers: a}
	for _, b := range a.Branches {
		if b != a.ProductionBranch && !slices.Contains(d.Branches, b) {
			d.Branches = append(d.Branches, b)
		}
	}
	var files []File
	for _, s := range t.files {
		if s.when != nil && !s.when(a) {
			continue
		}
		body, err := render(s.from, d)
		if err != nil {
			return nil, err
		}
		mode := fs.FileMode(0o644)
		if strings.HasSuffix(s.path, ".sh") {
			mode = 0o755
		}
		files = append(files, File{Path: s.path, Body: body, Mode: mode})
	}
	slices.SortFunc(files, func(x, y File) int { return strings.Compare(x.Path, y.Path) })
	return files, nil
}

func render(from string, d data) ([]byte, error) {
	raw, err := templateFS.ReadFile("templates/" + from)
	if err != nil {
		return nil, fmt.Errorf("template file %s: %w", from, err)
	}
	tmpl, err := template.New(from).Option("missingkey=error").Funcs(template.FuncMap{"yamlList": yamlList, "join": strings.Join}).Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("template file %s: %w", from, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("render %s: %w", from, err)
	}
	return b.Bytes(), nil
}

// yamlList writes items as a YAML flow list of double-quoted strings. Check refused every
// character that would need escaping.
func yamlList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = `"` + s + `"`
	}
	return "[" + strings.Join(q, ", ") + "]"
}
