package buildspec

// Status is the state of a build or of one phase, spelled as CodeBuild spells it so results can
// be compared with, and fed to tools written for, real builds.
type Status string

// Build and phase statuses. SKIPPED is local: CodeBuild leaves phases it never entered out of
// the list, but a fixed list of phases is easier to read and to test.
const (
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
	StatusStopped   Status = "STOPPED"
	StatusSkipped   Status = "SKIPPED"
)

// Result is the outcome of one build. It marshals to the JSON that `stepline run` prints and the
// engine stores.
type Result struct {
	Status Status `json:"status"`
	// Phases always lists INSTALL, PRE_BUILD, BUILD, POST_BUILD and UPLOAD_ARTIFACTS, in that
	// order, whether or not the buildspec defines them (CodeBuild reports them all too).
	Phases []PhaseResult `json:"phases"`
	// Exported holds env.exported-variables as they were when the command phases ended.
	Exported  map[string]string `json:"exported,omitempty"`
	Artifacts []ArtifactResult  `json:"artifacts,omitempty"`
	Reports   []ReportResult    `json:"reports,omitempty"`
	// Warnings are the buildspec's parse warnings followed by those found while running.
	Warnings   []string `json:"warnings,omitempty"`
	BuildID    string   `json:"build_id"`
	DurationMS int64    `json:"duration_ms"`
}

// PhaseResult is one phase of a build.
type PhaseResult struct {
	Name       PhaseName `json:"name"`
	Status     Status    `json:"status"`
	DurationMS int64     `json:"duration_ms"`
	// Message is CodeBuild's phase context message, e.g. "Error while executing command:
	// go test ./.... Reason: exit status 1".
	Message string `json:"message,omitempty"`
	// Code is CodeBuild's phase context status code (COMMAND_EXECUTION_ERROR, CLIENT_ERROR).
	// It is for callers that branch on the kind of failure; the JSON keeps the documented shape.
	Code string `json:"-"`
}

// ArtifactResult is one artifact that was assembled.
type ArtifactResult struct {
	// Name is the primary artifact's name (default "artifact") or a secondary artifact's
	// identifier.
	Name string `json:"name"`
	// Dir is where the files were copied; empty when Options.OutDir was empty.
	Dir string `json:"dir,omitempty"`
	// Files are slash-separated paths relative to Dir, sorted.
	Files []string `json:"files"`
}

// ReportResult is one report group whose files were collected.
type ReportResult struct {
	Name       string   `json:"name"`
	Dir        string   `json:"dir,omitempty"`
	Files      []string `json:"files"`
	FileFormat string   `json:"file_format"`
}
