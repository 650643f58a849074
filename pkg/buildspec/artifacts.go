package buildspec

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// upload runs UPLOAD_ARTIFACTS: the primary artifact, the secondary ones, then the reports.
// Like CodeBuild it logs no "Entering phase" line for it, only the file-list lines and the
// phase summary.
func (b *build) upload(ctx context.Context) (PhaseResult, error) {
	started := b.now()
	pr := PhaseResult{Name: PhaseUploadArtifacts, Status: StatusSucceeded}
	fail := func(code, msg string) {
		if pr.Status == StatusSucceeded {
			pr.Status, pr.Code, pr.Message = StatusFailed, code, msg
		}
	}
	if a := b.spec.Artifacts; a != nil {
		used := map[string]bool{}
		for _, set := range append([]ArtifactSet{a.Primary}, a.Secondary...) {
			if ctx.Err() != nil {
				pr.Status, pr.Code, pr.Message = StatusStopped, codeStopped, "Build was stopped while uploading artifacts"
				break
			}
			name := set.Identifier
			if name == "" {
				var err error
				if name, err = b.artifactName(ctx, set.Name); err != nil {
					return pr, err
				}
			}
			dirName := uniqueDir(sanitizeName(name, "artifact"), used)
			files, msg := b.match(matchSpec{
				files: set.Files, base: set.BaseDirectory, exclude: set.ExcludePaths,
				discard: set.DiscardPaths, symlinks: set.EnableSymlinks,
			})
			if msg != "" {
				fail(codeClientError, msg)
				continue
			}
			ar := ArtifactResult{Name: name, Files: relPaths(files)}
			if b.outDir != "" {
				ar.Dir = filepath.Join(b.outDir, "artifacts", dirName)
				if err := copyFiles(files, ar.Dir); err != nil {
					fail(codeClientError, err.Error())
					continue
				}
			}
			b.res.Artifacts = append(b.res.Artifacts, ar)
		}
	}
	if pr.Status != StatusStopped {
		b.collectReports()
	}
	pr.DurationMS = b.ms(started)
	b.log.Printf("Phase complete: %s State: %s", PhaseUploadArtifacts, pr.Status)
	b.log.Printf("Phase context status code: %s Message: %s", pr.Code, pr.Message)
	return pr, nil
}

// collectReports copies each report group's files. A group that matches nothing is a warning,
// not a failure: on CodeBuild a missing report fails the report, not the build.
func (b *build) collectReports() {
	used := map[string]bool{}
	for _, rg := range b.spec.Reports {
		files, msg := b.match(matchSpec{files: rg.Files, base: rg.BaseDirectory, discard: rg.DiscardPaths})
		if msg != "" {
			b.warnf("report group %s: %s", rg.Name, msg)
			continue
		}
		rr := ReportResult{Name: rg.Name, Files: relPaths(files), FileFormat: rg.FileFormat}
		if b.outDir != "" {
			rr.Dir = filepath.Join(b.outDir, "reports", uniqueDir(sanitizeName(reportShortName(rg.Name), "report"), used))
			if err := copyFiles(files, rr.Dir); err != nil {
				b.warnf("report group %s: %v", rg.Name, err)
				continue
			}
		}
		b.res.Reports = append(b.res.Reports, rr)
	}
}

// artifactName computes the primary artifact's name. CodeBuild evaluates it with the shell
// (`myname-$(date +%Y-%m-%d)`, `$AWS_REGION`), so it is evaluated in the build's own shell,
// where the build's variables are set.
func (b *build) artifactName(ctx context.Context, raw string) (string, error) {
	if raw == "" {
		return "artifact", nil
	}
	if !strings.ContainsAny(raw, "$`") {
		return raw, nil
	}
	file := filepath.Join(b.tmp, "artifact-name")
	cmd := fmt.Sprintf(`printf '%%s' "%s" >%s`, strings.ReplaceAll(raw, `"`, `\"`), shellQuote(file))
	r, err := b.sess.run(ctx, cmd)
	if err != nil {
		return "", err
	}
	data, readErr := os.ReadFile(file)
	if r.failed >= 0 || r.stopped || readErr != nil || len(data) == 0 {
		b.warnf("artifact name %q could not be evaluated by the shell; using it as written", raw)
		return raw, nil
	}
	return string(data), nil
}

// reportShortName turns a report group ARN into its name; a plain name is returned as is.
func reportShortName(name string) string {
	if strings.HasPrefix(name, "arn:") {
		if i := strings.LastIndex(name, "/"); i >= 0 {
			return name[i+1:]
		}
	}
	return name
}

// sanitizeName makes a name safe as one directory name under OutDir: anything but letters,
// digits, '.', '_' and '-' becomes '_', so a name can never climb out of OutDir.
func sanitizeName(name, fallback string) string {
	var sb strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			sb.WriteRune(r)
		default:
			sb.WriteByte('_')
		}
	}
	s := sb.String()
	if strings.Trim(s, ".") == "" {
		return fallback
	}
	return s
}

// uniqueDir keeps two artifacts (say, a primary named like a secondary's identifier) from being
// written into the same directory.
func uniqueDir(name string, used map[string]bool) string {
	candidate := name
	for i := 2; used[candidate]; i++ {
		candidate = fmt.Sprintf("%s-%d", name, i)
	}
	used[candidate] = true
	return candidate
}
