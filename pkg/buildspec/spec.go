package buildspec

// PhaseName names a build phase the way CodeBuild reports it (BatchGetBuilds phaseType), so
// results and log lines read the same as a real build's.
type PhaseName string

// The phases a local build reports. CodeBuild also reports SUBMITTED, QUEUED, PROVISIONING,
// DOWNLOAD_SOURCE, FINALIZING and COMPLETED; they have no local meaning and are left out.
const (
	PhaseInstall         PhaseName = "INSTALL"
	PhasePreBuild        PhaseName = "PRE_BUILD"
	PhaseBuild           PhaseName = "BUILD"
	PhasePostBuild       PhaseName = "POST_BUILD"
	PhaseUploadArtifacts PhaseName = "UPLOAD_ARTIFACTS"
)

// commandPhases lists the phases that run buildspec commands, in the order CodeBuild runs them,
// with the key each one has under `phases:` in the buildspec.
var commandPhases = []struct {
	name PhaseName
	key  string
}{
	{PhaseInstall, "install"},
	{PhasePreBuild, "pre_build"},
	{PhaseBuild, "build"},
	{PhasePostBuild, "post_build"},
}

// OnFailure is a phase's `on-failure` setting.
type OnFailure string

// The on-failure values that change what runs locally. The zero value means the key was absent,
// which CodeBuild treats differently from an explicit ABORT (see docs/buildspec.md).
const (
	OnFailureDefault  OnFailure = ""
	OnFailureAbort    OnFailure = "ABORT"
	OnFailureContinue OnFailure = "CONTINUE"
)

// Spec is a parsed buildspec (version 0.2). It holds only what a local build can act on;
// settings that need AWS (parameter store, secrets, cache, batch) are kept for reference and
// produce warnings, never behaviour.
type Spec struct {
	// Name is the file name Parse was given; it prefixes every problem and warning.
	Name string
	// Version is always "0.2": Parse rejects anything else.
	Version string
	// RunAs is the buildspec-wide Linux user. Parsed so it can be reported, but ignored
	// locally: commands run as the user running stepline.
	RunAs string
	Env   Env
	// Phases holds the command phases the buildspec defines, in run order (install,
	// pre_build, build, post_build). A phase that is not defined is absent.
	Phases []*Phase
	// Artifacts is nil when the buildspec has no artifacts section.
	Artifacts *Artifacts
	// Reports holds the report groups in the order they appear in the file.
	Reports []ReportGroup

	// warnings are the parse warnings, kept so Run can put them on the Result.
	warnings []Warning
}

// Phase returns the phase with the given name, or nil when the buildspec does not define it.
func (s *Spec) Phase(name PhaseName) *Phase {
	for _, p := range s.Phases {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Env is the buildspec's `env` section.
type Env struct {
	// Shell is "bash" or "sh" (the buildspec's "/bin/sh" is normalised to "sh").
	Shell string
	// Variables keeps the file order so the environment a build sees is reproducible.
	Variables []Variable
	// ExportedVariables are read from the shell when the build's command phases end.
	ExportedVariables []string
	// ParameterStore and SecretsManager map a variable name to the AWS reference it would be
	// fetched from. Nothing is fetched locally; Options.Env can supply the values instead.
	ParameterStore map[string]string
	SecretsManager map[string]string
	// GitCredentialHelper is parsed for completeness and ignored locally.
	GitCredentialHelper bool
}

// Variable is one `env.variables` entry. Value is the scalar's text as written, so `1.10`
// stays "1.10" rather than becoming the float 1.1.
type Variable struct {
	Name  string
	Value string
}

// Phase is one command phase.
type Phase struct {
	Name PhaseName
	// RunAs is parsed and ignored locally, like Spec.RunAs.
	RunAs     string
	OnFailure OnFailure
	// RuntimeVersions is only valid in install; locally the host's tools are used.
	RuntimeVersions map[string]string
	Commands        []string
	Finally         []string
}

// Artifacts is the buildspec's `artifacts` section: the primary artifact and any secondary ones.
type Artifacts struct {
	Primary ArtifactSet
	// Secondary artifacts keep the file order; each has a non-empty Identifier.
	Secondary []ArtifactSet
}

// ArtifactSet describes which files make up one artifact and how they are laid out.
type ArtifactSet struct {
	// Identifier is empty for the primary artifact and the secondary-artifacts key otherwise.
	Identifier string
	// Files are doublestar globs relative to BaseDirectory.
	Files []string
	// Name may use shell syntax (`myname-$(date +%F)`): CodeBuild computes it at build time.
	Name          string
	DiscardPaths  bool
	BaseDirectory string
	ExcludePaths  []string
	// EnableSymlinks copies symbolic links as links instead of copying what they point to.
	EnableSymlinks bool
}

// ReportGroup is one entry of the buildspec's `reports` section.
type ReportGroup struct {
	// Name is the report group name or ARN as written in the buildspec.
	Name          string
	Files         []string
	BaseDirectory string
	DiscardPaths  bool
	// FileFormat is upper-cased; CodeBuild's default is JUNITXML.
	FileFormat string
}
