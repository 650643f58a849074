package trigger

import (
	"fmt"
	"io"
)

// Format returns the one-line explanation of d for the pipeline file named file:
//
//	api: runs — push trigger #1 (.stepline.yml:12:9): branch "main" matches "main"; environment prod
//	api: runs — pull_request trigger #2 (.stepline.yml:14:9): …; untrusted: builds apart, never deploys
//	web: does not run — push trigger #2 (.stepline.yml:20:30): branch "feature/x" is not included by [main]
//	api: does not run — .stepline.yml:3:5: a ping starts nothing
//
// Triggers are counted from 1, as a reader counts the list in the file (Decision.Trigger
// counts from 0). The environment is the name as written, before variables are expanded.
func Format(file string, d Decision) string {
	verdict := "does not run"
	if d.Run {
		verdict = "runs"
	}
	where := at(file, d)
	if d.Trigger >= 0 {
		where = fmt.Sprintf("%s trigger #%d (%s)", d.On, d.Trigger+1, where)
	}
	reason := d.Reason
	if d.Run && d.Environment != "" {
		reason += "; environment " + d.Environment
	}
	if d.Run && d.Untrusted {
		reason += "; untrusted: builds apart, never deploys"
	}
	return fmt.Sprintf("%s: %s — %s: %s", d.Pipeline, verdict, where, reason)
}

// Explain writes Format's line for every decision, in order. For machine-readable output,
// encode the decisions as JSON instead: Decision carries json tags.
func Explain(w io.Writer, file string, ds []Decision) error {
	for _, d := range ds {
		if _, err := fmt.Fprintln(w, Format(file, d)); err != nil {
			return fmt.Errorf("explain %s: %w", d.Pipeline, err)
		}
	}
	return nil
}

func at(file string, d Decision) string {
	if d.Pos.IsZero() {
		return file
	}
	return fmt.Sprintf("%s:%d:%d", file, d.Pos.Line, d.Pos.Col)
}
