package triggerstep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/store/dynamo"
	"github.com/stepline/stepline/pkg/trigger"
)

// The source and detail-type of the event ECR sends EventBridge for an image action.
const (
	ECRSource     = "aws.ecr"
	ECRDetailType = "ECR Image Action"
)

// ImageAction is the detail of an "ECR Image Action" event. A push by digest alone has no
// image-tag.
type ImageAction struct {
	ActionType     string `json:"action-type"`
	Result         string `json:"result"`
	RepositoryName string `json:"repository-name"`
	ImageDigest    string `json:"image-digest"`
	ImageTag       string `json:"image-tag,omitempty"`
}

// ParseImageAction decodes and checks the detail of an ECR image action event.
func ParseImageAction(detail []byte) (ImageAction, error) {
	var a ImageAction
	if err := json.Unmarshal(detail, &a); err != nil {
		return ImageAction{}, fmt.Errorf("the detail is not an ECR image action: %w", err)
	}
	if a.RepositoryName == "" {
		return ImageAction{}, fmt.Errorf("the ECR image action names no repository-name")
	}
	return a, nil
}

// handleImage starts, for an image pushed to ECR, every pipeline of the registry whose image
// trigger matches the repository and tag (startRegistered).
func (h *Handler) handleImage(ctx context.Context, e events.CloudWatchEvent) error {
	a, err := ParseImageAction(e.Detail)
	if err != nil {
		return permanent("event %s: %v", e.ID, err)
	}
	log := h.log.With("id", e.ID, "image", a.RepositoryName, "tag", a.ImageTag, "digest", a.ImageDigest)
	if a.ActionType != "PUSH" || a.Result != "SUCCESS" {
		log.InfoContext(ctx, "trigger: only a successful image push starts pipelines", "action", a.ActionType, "result", a.Result)
		return nil
	}
	if e.ID == "" {
		return permanent("ECR image action without an event id: no idempotency key")
	}
	if h.registry == nil {
		return permanent("event %s: an image push needs the pipeline registry, and none is configured", e.ID)
	}
	regs, err := h.registry.ImageRegistrations(ctx, a.RepositoryName)
	if err != nil {
		return fmt.Errorf("event %s: %w", e.ID, err)
	}
	if len(regs) == 0 {
		log.InfoContext(ctx, "trigger: no registered pipeline file listens to this image repository")
		return nil
	}
	img := scm.Event{Provider: scm.ECR, Kind: scm.KindImage, Delivery: e.ID, Repository: scm.Repository{FullName: a.RepositoryName}, Tag: a.ImageTag}
	return h.startRegistered(ctx, log, e.ID, regs, img, ImageVariables(e, a), "ecr", "ecr image "+imageRef(a))
}

// startRegistered starts, for ev (an event that carries no commit), every pipeline of the
// registered files regs whose triggers match it. Each registered file is matched as it is;
// the run builds the commit the default branch's copy was read at, with vars added to its
// #{source.*}. The idempotency key is kind, the event id and a digest of the repository.
func (h *Handler) startRegistered(ctx context.Context, log *slog.Logger, id string, regs []dynamo.Registration, ev scm.Event,
	vars map[string]string, kind, triggerText string) error {
	var errs []error
	for _, reg := range regs {
		rlog := log.With("provider", reg.Provider, "repository", reg.Repo, "commit", reg.Commit)
		f, err := pipeline.Parse(PipelineFile, reg.File)
		if err != nil {
			errs = append(errs, permanent("event %s: the registered file of %s %s is not valid: %v", id, reg.Provider, reg.Repo, err))
			continue
		}
		src := scm.Event{Provider: reg.Provider, Kind: ev.Kind, Repository: scm.Repository{FullName: reg.Repo, DefaultBranch: reg.Branch},
			Ref: scm.BranchRef(reg.Branch), Branch: reg.Branch, After: reg.Commit}
		if err := src.Check(); err != nil {
			// The registry is written from checked pushes; an entry that is not is refused.
			errs = append(errs, permanent("event %s: the registry entry of %s %s: %v", id, reg.Provider, reg.Repo, err))
			continue
		}
		source := src.Variables()
		maps.Copy(source, vars)
		for _, dec := range trigger.MatchFile(f, ev) {
			if !dec.Run {
				rlog.InfoContext(ctx, "trigger: pipeline does not run", "pipeline", dec.Pipeline, "reason", dec.Reason)
				continue
			}
			p, err := f.Pipeline(dec.Pipeline)
			if err != nil {
				errs = append(errs, permanentError{err: err})
				continue
			}
			l := launch{key: registeredKey(kind, id, reg.Provider, reg.Repo), source: source, trigger: triggerText,
				repo: reg.Repo, branch: reg.Branch, commit: reg.Commit, provider: reg.Provider, hook: reg.Hook, reason: dec.Reason, untrusted: dec.Untrusted}
			if err := h.start(ctx, rlog, p, l); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return joined(errs)
}

// ImageVariables are the #{source.image_*} values of a run started by image action a of event
// e: the repository, tag and digest, the registry host and the image's URI, pinned to the
// digest when there is one (a tag can move; the digest is what was pushed).
func ImageVariables(e events.CloudWatchEvent, a ImageAction) map[string]string {
	suffix := "amazonaws.com"
	if strings.HasPrefix(e.Region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	registry := ""
	if e.AccountID != "" && e.Region != "" {
		registry = e.AccountID + ".dkr.ecr." + e.Region + "." + suffix
	}
	uri := a.RepositoryName
	if registry != "" {
		uri = registry + "/" + uri
	}
	switch {
	case a.ImageDigest != "":
		uri += "@" + a.ImageDigest
	case a.ImageTag != "":
		uri += ":" + a.ImageTag
	}
	return map[string]string{
		"event":            scm.KindImage,
		"image_repository": a.RepositoryName,
		"image_tag":        a.ImageTag,
		"image_digest":     a.ImageDigest,
		"image_registry":   registry,
		"image_uri":        uri,
	}
}

// imageRef names the pushed image as people write it: repository:tag, or @digest untagged.
func imageRef(a ImageAction) string {
	if a.ImageTag == "" {
		return a.RepositoryName + "@" + a.ImageDigest
	}
	return a.RepositoryName + ":" + a.ImageTag
}

// registeredKey is the idempotency key of the runs an AWS event of kind (ecr, s3) starts
// from one registered repository: the event id, the same on every retry and redelivery of
// the event, and a digest of the repository, since two repositories may both have a pipeline
// of one name.
func registeredKey(kind, id, provider, repo string) string {
	sum := sha256.Sum256([]byte(provider + "\x00" + repo))
	return kind + "-" + id + "-" + hex.EncodeToString(sum[:4])
}
