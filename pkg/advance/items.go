package advance

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store"
)

// Defaults for attempts whose action sets no timeout.
const (
	defaultBuildTimeout  = 60 * time.Minute
	defaultSourceTimeout = 15 * time.Minute
	defaultWaitTimeout   = 7 * 24 * time.Hour
	defaultLambdaTimeout = 15 * time.Minute
)

// item builds the state machine's view of one task, with cfg (Config.forRun of rec).
func (h *Handler) item(cfg Config, rec store.Record, t engine.Task) (statemachine.Item, error) {
	kind, err := statemachine.KindOf(t.Provider)
	if err != nil {
		return statemachine.Item{}, fmt.Errorf("run %s, action %s/%s: %w", t.Run, t.Stage, t.Action, err)
	}
	if err := engine.RefuseUntrusted(t); cfg.untrusted && err != nil {
		return statemachine.Item{}, err
	}
	it := statemachine.Item{ID: t.ID(), Kind: kind, Task: t}
	timeout := t.Timeout
	switch kind {
	case statemachine.KindSource:
		timeout = cmp.Or(timeout, defaultSourceTimeout)
		it.Source = &statemachine.Source{
			Provider:   rec.Provider,
			Repository: rec.Repo,
			Commit:     rec.Commit,
			Hook:       rec.Hook,
			Bucket:     cfg.Bucket,
			Key:        cfg.prefix() + t.Run + "/" + firstOr(t.Outputs, "source") + ".zip",
		}
	case statemachine.KindCodeBuild:
		timeout = cmp.Or(timeout, defaultBuildTimeout)
		cb, err := CodeBuildRequest(cfg, t)
		if err != nil {
			return statemachine.Item{}, err
		}
		it.CodeBuild = cb
	case statemachine.KindLambda:
		timeout = cmp.Or(timeout, defaultLambdaTimeout)
		fn, _ := t.Config["function"].(string)
		payload := map[string]any{"run": t.Run, "pipeline": t.Pipeline, "stage": t.Stage, "action": t.Action,
			"attempt": t.Attempt, "inputs": t.Inputs, "outputs": t.Outputs}
		if p, ok := t.Config["payload"]; ok {
			payload["payload"] = p
		}
		it.Lambda = &statemachine.Lambda{Function: fn, Payload: payload}
	default:
		timeout = cmp.Or(timeout, defaultWaitTimeout)
	}
	it.TimeoutSeconds = int(timeout / time.Second)
	return it, nil
}

// CodeBuildRequest builds the StartBuild overrides of a build attempt: the primary input as
// an S3 source, the other inputs as secondary sources named after their artifacts, the buildspec, the action's environment, the first output as the primary
// artifact and the rest as secondary artifacts, all under runs/<run>/ of cfg.Bucket (untrusted/<run>/, in
// the untrusted project, for an untrusted run: Config.forRun). The state
// machine and `stepline run --aws` start builds from it.
func CodeBuildRequest(cfg Config, t engine.Task) (*statemachine.CodeBuild, error) {
	timeout := cmp.Or(t.Timeout, defaultBuildTimeout)
	if len(t.Inputs) == 0 {
		return nil, fmt.Errorf("build %s/%s has no input artifact to build", t.Stage, t.Action)
	}
	src, err := s3Path(t.Inputs[0].Location)
	if err != nil {
		return nil, fmt.Errorf("build %s/%s: %w", t.Stage, t.Action, err)
	}
	project, _ := t.Config["project"].(string)
	switch {
	case cfg.untrusted && project != "":
		// A project the action names has a role stepline knows nothing of.
		return nil, fmt.Errorf("build %s/%s names project %s: an untrusted run builds only in the stack's untrusted project (docs/trust.md)", t.Stage, t.Action, project)
	case cfg.untrusted && cfg.UntrustedProject == "":
		return nil, fmt.Errorf("build %s/%s: this run is untrusted and the stack names no untrusted project to build it in (STEPLINE_CODEBUILD_UNTRUSTED_PROJECT)", t.Stage, t.Action)
	case cfg.untrusted:
		project = cfg.UntrustedProject
	case project == "":
		project = cfg.Project
	}
	buildspec, _ := t.Config["buildspec"].(string)
	env, err := buildEnvironment(cfg, project, t)
	if err != nil {
		return nil, fmt.Errorf("build %s/%s: %w", t.Stage, t.Action, err)
	}
	cb := &statemachine.CodeBuild{
		Project:            project,
		SourceLocation:     src,
		Buildspec:          buildspec,
		Environment:        environment(t),
		Artifacts:          statemachine.Artifacts{Type: "NO_ARTIFACTS"},
		SecondaryArtifacts: []map[string]any{},
		SecondarySources:   []statemachine.SecondarySource{},
		TimeoutMinutes:     max(5, int((timeout+time.Minute-1)/time.Minute)),
		BuildEnvironment:   env,
	}
	for _, in := range t.Inputs[1:] {
		loc, err := s3Path(in.Location)
		if err != nil {
			return nil, fmt.Errorf("build %s/%s: %w", t.Stage, t.Action, err)
		}
		cb.SecondarySources = append(cb.SecondarySources, statemachine.SecondarySource{Type: "S3", Location: loc, SourceIdentifier: in.Name})
	}
	for i, out := range t.Outputs {
		a := statemachine.Artifacts{Type: "S3", Location: cfg.Bucket, Path: cfg.prefix() + t.Run, Name: out + ".zip", Packaging: "ZIP"}
		if i == 0 {
			cb.Artifacts = a
			continue
		}
		cb.SecondaryArtifacts = append(cb.SecondaryArtifacts, map[string]any{
			"ArtifactIdentifier": out, "Type": a.Type, "Location": a.Location, "Path": a.Path, "Name": a.Name, "Packaging": a.Packaging,
		})
	}
	return cb, nil
}

// curatedImages prefixes the images CodeBuild manages (aws/codebuild/standard:7.0, …).
const curatedImages = "aws/codebuild/"

// buildEnvironment is the environment override of a build whose action sets image,
// compute_type or privileged, nil when it sets none (the build then runs in its project's
// own environment). StartBuild takes the overrides together from the state that sends them,
// so what the action leaves out is the project's own setting: known for the stack's project
// (cfg), not for a project the action names, which must then set all three.
func buildEnvironment(cfg Config, project string, t engine.Task) (*statemachine.BuildEnvironment, error) {
	image, hasImage := t.Config["image"].(string)
	compute, hasCompute := t.Config["compute_type"].(string)
	privileged, hasPrivileged := t.Config["privileged"].(bool)
	if !hasImage && !hasCompute && !hasPrivileged {
		return nil, nil
	}
	if (project == cfg.Project || project == cfg.UntrustedProject) && cfg.Image != "" && cfg.ComputeType != "" {
		image, compute = cmp.Or(image, cfg.Image), cmp.Or(compute, cfg.ComputeType)
	} else if !hasImage || !hasCompute || !hasPrivileged {
		return nil, fmt.Errorf("project %s: set image, compute_type and privileged together: stepline does not know the environment of the project it would keep the others from", project)
	}
	// CodeBuild's curated images must be pulled with its own credentials; any other image
	// (ECR, cross-account, another registry) with the project's service role, which can
	// read the stack's ECR repositories.
	// https://docs.aws.amazon.com/codebuild/latest/APIReference/API_StartBuild.html
	// (imagePullCredentialsTypeOverride)
	pull := "SERVICE_ROLE"
	if strings.HasPrefix(image, curatedImages) {
		pull = "CODEBUILD"
	}
	return &statemachine.BuildEnvironment{Image: image, ComputeType: compute, PrivilegedMode: privileged, ImagePullCredentialsType: pull}, nil
}

// OutputLocation is where a trusted run's build output artifact lands: CodeBuild writes
// <Location>/<Path>/<Name>.
func OutputLocation(bucket, run, output string) string {
	return "s3://" + bucket + "/" + trustedPrefix + run + "/" + output + ".zip"
}

// environment lists the action's env (sorted, for stable requests) and what identifies the
// attempt, as plain-text CodeBuild variables.
func environment(t engine.Task) []statemachine.EnvVar {
	vars := map[string]string{
		"STEPLINE_RUN":      t.Run,
		"STEPLINE_PIPELINE": t.Pipeline,
		"STEPLINE_STAGE":    t.Stage,
		"STEPLINE_ACTION":   t.Action,
		"STEPLINE_ATTEMPT":  fmt.Sprint(t.Attempt),
	}
	if env, ok := t.Config["env"].(map[string]any); ok {
		for k, v := range env {
			vars[k] = fmt.Sprint(v)
		}
	}
	out := make([]statemachine.EnvVar, 0, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		out = append(out, statemachine.EnvVar{Name: k, Value: vars[k], Type: "PLAINTEXT"})
	}
	return out
}

// s3Path turns s3://bucket/key into bucket/key, CodeBuild's S3 source location.
func s3Path(loc string) (string, error) {
	rest, ok := strings.CutPrefix(loc, "s3://")
	if !ok || !strings.Contains(rest, "/") {
		return "", fmt.Errorf("input artifact at %q is not in S3", loc)
	}
	return rest, nil
}

func firstOr(list []string, def string) string {
	if len(list) > 0 {
		return list[0]
	}
	return def
}
