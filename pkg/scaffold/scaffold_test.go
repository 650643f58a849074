package scaffold

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/pipeline"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from Plan's output")

// goldenAnswers are the answers of each golden directory: testdata/golden/<template>.
func goldenAnswers(tmpl string) Answers {
	a := Answers{Name: "shop", Region: "eu-west-1", Branches: []string{"staging", "feature/**"}, ProductionBranch: "main"}
	if tmpl == "static-site" {
		a.Distribution = "E2QWRUHAPOMQZL"
	}
	return a
}

// TestPlanGolden renders every template and compares each file, and the list of files, with
// testdata/golden/<template>; -update rewrites them.
func TestPlanGolden(t *testing.T) {
	for _, tmpl := range Templates() {
		t.Run(tmpl.Name, func(t *testing.T) {
			files, err := Plan(tmpl.Name, goldenAnswers(tmpl.Name))
			require.NoError(t, err)
			dir := filepath.Join("testdata", "golden", tmpl.Name)
			if *update {
				require.NoError(t, os.RemoveAll(dir))
				for _, f := range files {
					path := filepath.Join(dir, filepath.FromSlash(f.Path))
					require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
					require.NoError(t, os.WriteFile(path, f.Body, 0o644))
				}
			}
			var want []string
			require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(dir, path)
					want = append(want, filepath.ToSlash(rel))
				}
				return err
			}), "run go test ./pkg/scaffold -run TestPlanGolden -update")
			var got []string
			for _, f := range files {
				got = append(got, f.Path)
				body, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
				if assert.NoError(t, err, f.Path) {
					assert.Equal(t, string(body), string(f.Body), f.Path)
				}
			}
			assert.Equal(t, want, got, "the files of %s", tmpl.Name)
		})
	}
}

// Every template's pipeline file, for the golden answers and for a production branch alone,
// passes the same checks `stepline validate` runs, and says where each pipeline runs: the test
// pipeline everywhere, the deploying ones on AWS and with --aws-deploy.
func TestEveryPipelineFileIsValid(t *testing.T) {
	for _, tmpl := range Templates() {
		for _, branches := range [][]string{{"staging", "feature/**"}, nil} {
			a := goldenAnswers(tmpl.Name)
			a.Branches = branches
			files, err := Plan(tmpl.Name, a)
			require.NoError(t, err)
			i := slices.IndexFunc(files, func(f File) bool { return f.Path == ".stepline.yml" })
			require.GreaterOrEqual(t, i, 0, "%s has no .stepline.yml", tmpl.Name)
			pf, err := pipeline.Parse(".stepline.yml", files[i].Body)
			require.NoError(t, err, "%s with branches %v:\n%s", tmpl.Name, branches, files[i].Body)
			var names []string
			for _, p := range pf.Pipelines {
				names = append(names, p.Name.Value)
				pl := p.Placement()
				assert.True(t, pl.AWS, "%s runs on AWS", p.Name.Value)
				assert.True(t, pl.Local, "%s runs with stepline run", p.Name.Value)
				assert.Equal(t, p.Name.Value != "shop-test", pl.LocalAWSDeploy, "%s deploys to AWS", p.Name.Value)
			}
			want := []string{"shop-test", "shop", "shop-production"}
			if branches == nil {
				want = []string{"shop-test", "shop-production"}
			}
			assert.Equal(t, want, names, tmpl.Name)
		}
	}
}

// The production pipeline of every template waits for an approval before anything deploys
// production; the branch pipeline deploys without one.
func TestProductionWaitsForAnApproval(t *testing.T) {
	for _, tmpl := range Templates() {
		files, err := Plan(tmpl.Name, goldenAnswers(tmpl.Name))
		require.NoError(t, err)
		i := slices.IndexFunc(files, func(f File) bool { return f.Path == ".stepline.yml" })
		pf, err := pipeline.Parse(".stepline.yml", files[i].Body)
		require.NoError(t, err)
		for _, p := range pf.Pipelines {
			approved, deploysBefore := false, false
			for _, st := range p.Definition().Stages {
				for _, a := range st.Actions {
					switch a.Provider {
					case "approval":
						approved = true
					case "ecs", "cloudformation", "s3":
						if !approved && st.Name == "Deploy" {
							deploysBefore = true
						}
					}
				}
			}
			switch p.Name.Value {
			case "shop-production":
				assert.True(t, approved, "%s/%s asks for an approval", tmpl.Name, p.Name.Value)
				assert.False(t, deploysBefore, "%s/%s deploys before its approval", tmpl.Name, p.Name.Value)
			default:
				assert.False(t, approved, "%s/%s needs no approval", tmpl.Name, p.Name.Value)
			}
		}
	}
}

// cfn-lint accepts every CloudFormation and SAM template the templates write. cfn-lint ships
// with the machine image (scripts/check-tools.sh); without it the test fails, never skips.
func TestGeneratedTemplatesPassCfnLint(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	require.NoError(t, err, "cfn-lint is preinstalled in the image (pip package cfn-lint); the generated templates cannot be checked without it")
	dir := t.TempDir()
	var paths []string
	for _, tmpl := range Templates() {
		for _, distribution := range []string{"", "E2QWRUHAPOMQZL"} {
			if distribution != "" && !tmpl.Distribution {
				continue
			}
			a := goldenAnswers(tmpl.Name)
			a.Distribution = distribution
			files, err := Plan(tmpl.Name, a)
			require.NoError(t, err)
			for _, f := range files {
				if !strings.HasPrefix(f.Path, "infra/") && f.Path != "template.yml" {
					continue
				}
				path := filepath.Join(dir, tmpl.Name+distribution, filepath.FromSlash(f.Path))
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, f.Body, 0o644))
				paths = append(paths, path)
			}
		}
	}
	require.Len(t, paths, 8, "shared and service of both ECS templates, the SAM template and its package bucket, the site's bucket twice")
	out, err := exec.Command(lint, append([]string{"--non-zero-exit-code", "informational", "--"}, paths...)...).CombinedOutput()
	require.NoError(t, err, "cfn-lint:\n%s", out)
}

func TestCheckReportsEveryAnswerItCannotUse(t *testing.T) {
	ok := Answers{Name: "shop", Region: "us-east-1", Branches: []string{"staging", "feature/**"}, ProductionBranch: "main"}
	cases := []struct {
		name     string
		template string
		change   func(*Answers)
		want     []string
	}{
		{"good answers pass", "ecs-service", func(*Answers) {}, nil},
		{"an upper-case name is refused", "sam-api", func(a *Answers) { a.Name = "Shop" }, []string{`name "Shop"`}},
		{"a name ending in a dash is refused", "sam-api", func(a *Answers) { a.Name = "shop-" }, []string{`name "shop-"`}},
		{"a name too long for the site bucket is refused", "static-site", func(a *Answers) { a.Name = strings.Repeat("a", 29) }, []string{"at most 28"}},
		{"a region that is not one is refused", "ecs-service", func(a *Answers) { a.Region = "Frankfurt" }, []string{`region "Frankfurt"`}},
		{"a production branch pattern is refused", "ecs-service", func(a *Answers) { a.ProductionBranch = "release/*" }, []string{`production branch "release/*"`}},
		{"a production branch git refuses is refused", "ecs-service", func(a *Answers) { a.ProductionBranch = "a..b" }, []string{`production branch "a..b"`}},
		{"a branch glob with a quote is refused", "ecs-service", func(a *Answers) { a.Branches = []string{`x"y`} }, []string{`branch "x\"y"`}},
		{"an invalid glob is refused", "ecs-service", func(a *Answers) { a.Branches = []string{"release/["} }, []string{`branch "release/["`}},
		{"a distribution for a template without one is refused", "sam-api", func(a *Answers) { a.Distribution = "E2QWRUHAPOMQZL" }, []string{"template sam-api has no CloudFront distribution"}},
		{"a malformed distribution ID is refused", "static-site", func(a *Answers) { a.Distribution = "https://d111.cloudfront.net" }, []string{`distribution "https://d111.cloudfront.net"`}},
		{"every problem is reported at once", "ecs-service", func(a *Answers) { a.Name, a.Region = "", "" }, []string{`name ""`, `region ""`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := ok
			c.change(&a)
			tmpl, err := Lookup(c.template)
			require.NoError(t, err)
			err = tmpl.Check(a)
			if c.want == nil {
				require.NoError(t, err)
				return
			}
			var ae *AnswerError
			require.ErrorAs(t, err, &ae)
			require.Len(t, ae.Problems, len(c.want))
			for i, w := range c.want {
				assert.Contains(t, ae.Problems[i], w)
			}
			_, err = Plan(c.template, a)
			assert.ErrorAs(t, err, &ae, "Plan refuses what Check refuses")
		})
	}
}

func TestLookupNamesTheTemplatesThereAre(t *testing.T) {
	_, err := Lookup("ecs")
	require.True(t, errors.Is(err, ErrUnknownTemplate))
	assert.EqualError(t, err, `unknown template "ecs": expected one of ecs-service, ecs-bluegreen, sam-api, static-site`)
}

// The production branch is never a branch environment too, and a branch named twice is
// listed once.
func TestPlanKeepsTheProductionBranchOutOfTheBranchEnvironments(t *testing.T) {
	files, err := Plan("sam-api", Answers{Name: "api", Region: "us-east-1", Branches: []string{"main", "dev", "dev"}, ProductionBranch: "main"})
	require.NoError(t, err)
	i := slices.IndexFunc(files, func(f File) bool { return f.Path == ".stepline.yml" })
	body := string(files[i].Body)
	assert.Contains(t, body, `branches: {include: ["dev"], exclude: ["main"]}`)
	assert.Contains(t, body, `      - branches: ["dev"]`)
}

// The site check is the only script; it is written executable.
func TestScriptsAreExecutable(t *testing.T) {
	files, err := Plan("static-site", goldenAnswers("static-site"))
	require.NoError(t, err)
	for _, f := range files {
		want := fs.FileMode(0o644)
		if f.Path == "ci/check-site.sh" {
			want = 0o755
		}
		assert.Equal(t, want, f.Mode, f.Path)
	}
}

// Any answers Check accepts render a pipeline file stepline accepts: answers never break the
// YAML or the pipeline's rules.
func FuzzPlan(f *testing.F) {
	f.Add("shop", "eu-west-1", "staging,feature/**", "main", "E2QWRUHAPOMQZL")
	f.Add("a", "us-east-1", "", "release-1.0", "")
	f.Add("web-2", "ap-southeast-3", "main,dev,{a,b}", "trunk", "X")
	f.Fuzz(func(t *testing.T, name, region, branches, production, distribution string) {
		a := Answers{Name: name, Region: region, ProductionBranch: production, Distribution: distribution}
		if branches != "" {
			a.Branches = strings.Split(branches, ",")
		}
		for _, tmpl := range Templates() {
			if !tmpl.Distribution {
				a.Distribution = ""
			} else {
				a.Distribution = distribution
			}
			files, err := Plan(tmpl.Name, a)
			if err != nil {
				var ae *AnswerError
				require.ErrorAs(t, err, &ae)
				continue
			}
			i := slices.IndexFunc(files, func(f File) bool { return f.Path == ".stepline.yml" })
			_, err = pipeline.Parse(".stepline.yml", files[i].Body)
			require.NoError(t, err, "answers %+v:\n%s", a, files[i].Body)
		}
	})
}
