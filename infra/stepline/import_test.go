package stepline_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/stepline/stepline/infra/stepline"
)

const (
	rootModule  = "github.com/stepline/stepline"
	infraModule = "github.com/stepline/stepline/infra"
)

// userApp is a Go CDK app of someone else's, importing the construct as the README says.
const userApp = `package main

import (
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	stepline "github.com/stepline/stepline/infra/stepline"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("CiApp"), nil)
	stepline.New(stack, "CI", &stepline.Props{Name: "acme-ci", NotificationEmail: "ops@example.com",
		AllowedRepositories: []string{"github:acme/*"}, FunctionsDir: os.Args[1]})
	app.Synth(nil)
}
`

// TestAGoCdkAppImportsTheConstruct publishes both stepline modules, made from this working
// tree as a release would tag them (infra/go.mod requiring the root module at the same
// version, its replace directive left in, which Go ignores outside this repository), on a
// file-system module proxy, then builds a throwaway app module that gets the construct the
// way a user does and runs it to synthesize. The version is a pseudo-version new to every
// run, so a module cache holding an older copy never hides a change; everything else (CDK,
// the AWS SDK) comes through the normal proxy and module cache.
func TestAGoCdkAppImportsTheConstruct(t *testing.T) {
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	version := runVersion(t)

	proxy := t.TempDir()
	publish(t, proxy, rootModule, version, root, nil)
	publish(t, proxy, infraModule, version, filepath.Join(root, "infra"), func(f *modfile.File) {
		require.NoError(t, f.AddRequire(rootModule, version)) // what scripts/release.sh does
	})
	t.Cleanup(func() { forgetModules(t, version) })

	normalProxy := goEnv(t, "GOPROXY")
	env := append(os.Environ(),
		"GOPROXY=file://"+filepath.ToSlash(proxy)+","+normalProxy,
		"GONOSUMDB="+rootModule, // not in the checksum database; CDK and the rest are checked as usual
		"GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"),
		"GOWORK=off", "GOTOOLCHAIN=local")
	app := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(app, "go.mod"), []byte("module example.com/ciapp\n\ngo 1.26.0\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(app, "main.go"), []byte(userApp), 0o644))
	goCmd(t, app, env, "get", infraModule+"@"+version)
	goCmd(t, app, env, "mod", "tidy")
	goCmd(t, app, env, "build", "-o", "ciapp", ".")

	gomod, err := os.ReadFile(filepath.Join(app, "go.mod"))
	require.NoError(t, err)
	parsed, err := modfile.Parse("go.mod", gomod, nil)
	require.NoError(t, err)
	selected := map[string]string{}
	for _, r := range parsed.Require {
		selected[r.Mod.Path] = r.Mod.Version
	}
	assert.Equal(t, version, selected[infraModule], "the app's go.mod:\n%s", gomod)
	assert.Equal(t, version, selected[rootModule], "the root module comes at infra's version:\n%s", gomod)

	zips := t.TempDir()
	require.NoError(t, stepline.WritePlaceholderZips(zips))
	out := t.TempDir()
	synth := exec.Command(filepath.Join(app, "ciapp"), zips)
	synth.Dir = app
	synth.Env = append(env, "CDK_OUTDIR="+out, "CDK_DISABLE_CLI_TELEMETRY=true", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20")
	msg, err := synth.CombinedOutput()
	require.NoError(t, err, "the app synthesizes:\n%s", msg)

	raw, err := os.ReadFile(filepath.Join(out, "CiApp.template.json"))
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	assert.Len(t, resources(doc, "AWS::Lambda::Function"), len(stepline.FunctionNames()))
	for id, typ := range map[string]string{
		"PipelineStateMachine": "AWS::StepFunctions::StateMachine", "Table": "AWS::DynamoDB::Table",
		"HttpApi": "AWS::ApiGatewayV2::Api", "BuildProject": "AWS::CodeBuild::Project",
	} {
		assert.Contains(t, resources(doc, typ), id)
	}
	assert.Equal(t, "acme-ci", resources(doc, "AWS::DynamoDB::Table")["Table"]["TableName"])
	sm := resources(doc, "AWS::StepFunctions::StateMachine")["PipelineStateMachine"]
	assert.Contains(t, sm["DefinitionString"], `"StartAt"`, "the ASL file travels in the module")
}

// TestTheReadmeShowsTheAppThatIsBuilt keeps README's "use the construct" section what
// TestAGoCdkAppImportsTheConstruct proves: its go get line and its Go lines.
func TestTheReadmeShowsTheAppThatIsBuilt(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	_, section, found := strings.Cut(string(readme), "#### Use the construct in your own CDK app")
	require.True(t, found, "README.md has the section")
	section, _, _ = strings.Cut(section, "\n#")
	assert.Contains(t, section, "go get "+infraModule+"@vX.Y.Z")
	_, code, found := strings.Cut(section, "```go\n")
	require.True(t, found)
	code, _, _ = strings.Cut(code, "```")
	code = strings.ReplaceAll(code, `"path/to/stepline/dist/functions"`, "os.Args[1]")
	for _, line := range strings.Split(code, "\n") {
		// The app's import block holds the README's single import.
		if line = strings.TrimPrefix(strings.TrimSpace(line), "import "); line != "" {
			assert.Contains(t, userApp, line, "README's line is in the app the test builds")
		}
	}
}

// TestTheReadmeAnswersSamsQuestions: sam deploy --guided asks "<Function> has no
// authentication. Is this okay? [y/N]" once per function behind an API event without an
// authorizer, and Enter (no) aborts the deploy; README's SAM steps show every such question.
func TestTheReadmeAnswersSamsQuestions(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	behindAPI := map[string]bool{}
	for _, p := range resources(samTemplate(t), "AWS::Lambda::Permission") {
		if p["Principal"] == "apigateway.amazonaws.com" {
			behindAPI[logicalID(p["FunctionName"])] = true
		}
	}
	assert.Len(t, behindAPI, 2, "the webhook and the approval callback")
	for fn := range behindAPI {
		assert.Contains(t, string(readme), fn+" has no authentication. Is this okay? [y/N]: y")
	}
	assert.Equal(t, len(behindAPI), strings.Count(string(readme), "has no authentication. Is this okay?"))
	assert.Contains(t, string(readme), "asks twice")
}

// TestInfraRequiresAReleasedRootModule: outside this repository infra/go.mod's replace is
// ignored, so its requirement of the root module is what a user's build gets; v0.0.0 or a
// pseudo-version of no tag would fail there. scripts/release.sh sets it when it tags.
func TestInfraRequiresAReleasedRootModule(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "infra", "go.mod"))
	require.NoError(t, err)
	f, err := modfile.Parse("go.mod", data, nil)
	require.NoError(t, err)
	var required string
	for _, r := range f.Require {
		if r.Mod.Path == rootModule {
			required = r.Mod.Version
		}
	}
	assert.Regexp(t, `^v\d+\.\d+\.\d+$`, required, "infra/go.mod requires %s at a release tag", rootModule)
	assert.NotEqual(t, "v0.0.0", required)
	assert.False(t, module.IsPseudoVersion(required))
	replaced := false
	for _, r := range f.Replace {
		replaced = replaced || (r.Old.Path == rootModule && r.New.Path == "../")
	}
	assert.True(t, replaced, "development in this repository builds infra against the working tree")
}

// TestReleaseTagsBothModulesOnOneCommit runs scripts/release.sh in a clone of this
// repository: both tags on one commit, whose infra/go.mod requires the root module at the
// tagged version; a second release of the same version is refused.
func TestReleaseTagsBothModulesOnOneCommit(t *testing.T) {
	clone := filepath.Join(t.TempDir(), "stepline")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = clone
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %s:\n%s", strings.Join(args, " "), out)
		return strings.TrimSpace(string(out))
	}
	out, err := exec.Command("git", "clone", "-q", repoRoot, clone).CombinedOutput()
	require.NoError(t, err, "%s", out)
	// The script as it is in this working tree, committed so the clone is clean.
	script, err := os.ReadFile(filepath.Join(repoRoot, "scripts", "release.sh"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(clone, "scripts", "release.sh"), script, 0o755))
	git("add", "scripts/release.sh")
	git("commit", "-q", "--allow-empty", "-m", "release.sh under test")

	release := func(version string) ([]byte, error) {
		cmd := exec.Command("bash", filepath.Join(clone, "scripts", "release.sh"), version)
		cmd.Dir = clone
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null", "GOWORK=off")
		return cmd.CombinedOutput()
	}
	out, err = release("v7.3.1")
	require.Error(t, err, "a major version above 1 needs a /v7 module path: %s", out)
	out, err = release("v0.42.0")
	require.NoError(t, err, "%s", out)

	assert.Equal(t, git("rev-parse", "v0.42.0^{commit}"), git("rev-parse", "infra/v0.42.0^{commit}"), "one commit")
	f, err := modfile.Parse("go.mod", []byte(git("show", "infra/v0.42.0:infra/go.mod")), nil)
	require.NoError(t, err)
	var required string
	for _, r := range f.Require {
		if r.Mod.Path == rootModule {
			required = r.Mod.Version
		}
	}
	assert.Equal(t, "v0.42.0", required, "the tagged infra requires the tagged root")
	assert.Empty(t, git("status", "--porcelain"))

	out, err = release("v0.42.0")
	require.Error(t, err)
	assert.Contains(t, string(out), "tag v0.42.0 exists")
}

// runVersion is a pseudo-version no earlier run used: this moment and random bits.
func runVersion(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return module.PseudoVersion("v0", "", time.Now(), hex.EncodeToString(b))
}

// publish writes one module version into a file-system proxy (<module>/@v/<version>.info,
// .mod, .zip, the layout GOPROXY=file:// reads). The zip holds what `git ls-files` lists
// (tracked, and untracked but not ignored: a commit of this working tree), less what Go
// leaves out of a module zip (nested modules, vendor directories, symlinks).
func publish(t *testing.T, proxy, path, version, dir string, edit func(*modfile.File)) {
	t.Helper()
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	require.NoError(t, err)
	if edit != nil {
		f, err := modfile.Parse("go.mod", gomod, nil)
		require.NoError(t, err)
		edit(f)
		f.Cleanup()
		gomod, err = f.Format()
		require.NoError(t, err)
	}
	edited := filepath.Join(t.TempDir(), "go.mod")
	require.NoError(t, os.WriteFile(edited, gomod, 0o644))

	list := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	list.Dir = dir
	names, err := list.Output()
	require.NoError(t, err, "git ls-files in %s", dir)
	var files []modzip.File
	for _, name := range strings.Split(strings.TrimRight(string(names), "\x00"), "\x00") {
		abs := filepath.Join(dir, filepath.FromSlash(name))
		if name == "go.mod" {
			abs = edited
		}
		if _, err := os.Lstat(abs); err != nil {
			continue // deleted in the working tree, not yet in the index
		}
		files = append(files, treeFile{slash: name, abs: abs})
	}

	at := filepath.Join(proxy, filepath.FromSlash(path), "@v")
	require.NoError(t, os.MkdirAll(at, 0o755))
	info, err := json.Marshal(map[string]any{"Version": version, "Time": time.Now().UTC().Format(time.RFC3339)})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(at, version+".info"), info, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(at, version+".mod"), gomod, 0o644))
	zf, err := os.Create(filepath.Join(at, version+".zip"))
	require.NoError(t, err)
	require.NoError(t, modzip.Create(zf, module.Version{Path: path, Version: version}, files), "module zip of %s", path)
	require.NoError(t, zf.Close())
}

// treeFile is a working-tree file under the path it has in the module.
type treeFile struct{ slash, abs string }

func (f treeFile) Path() string                 { return f.slash }
func (f treeFile) Lstat() (os.FileInfo, error)  { return os.Lstat(f.abs) }
func (f treeFile) Open() (io.ReadCloser, error) { return os.Open(f.abs) }

// forgetModules removes this run's versions from the module cache, so runs do not pile up
// there (Go makes the cached files read-only).
func forgetModules(t *testing.T, version string) {
	cache := goEnv(t, "GOMODCACHE")
	for _, path := range []string{rootModule, infraModule} {
		dirs := []string{filepath.Join(cache, filepath.FromSlash(path)+"@"+version)}
		dl, _ := filepath.Glob(filepath.Join(cache, "cache", "download", filepath.FromSlash(path), "@v", version+".*"))
		for _, p := range append(dirs, dl...) {
			_ = filepath.WalkDir(p, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					_ = os.Chmod(p, 0o755)
				}
				return nil
			})
			assert.NoError(t, os.RemoveAll(p))
		}
	}
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

// goCmd runs the go command in dir and fails the test with its output.
func goCmd(t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go %s:\n%s", strings.Join(args, " "), out)
}
