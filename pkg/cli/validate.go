package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stepline/stepline/pkg/pipeline"
)

// defaultFile is the pipeline file's name at the repository root.
const defaultFile = ".stepline.yml"

func newValidate(g *globals) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "validate [-f FILE]",
		Short: "Check a pipeline file and list every problem",
		Long: "Check a pipeline file and list every problem as file:line:col: message [rule]; for a\n" +
			"valid file, say where each pipeline can run (on AWS, with stepline run, with --aws-deploy).\n" +
			"Exit status: 0 valid, 1 problems found, 2 the file cannot be read.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := loadFile(file)
			if err != nil {
				var probs pipeline.Problems
				if errors.As(err, &probs) {
					for _, p := range probs {
						fmt.Fprintln(g.stdio.Out, p.String())
					}
					return exit(ExitFailed, fmt.Errorf("%s: %d problem%s", file, len(probs), plural(len(probs))))
				}
				return exit(ExitUsage, err)
			}
			var names []string
			for _, p := range f.Pipelines {
				names = append(names, p.Name.Value)
			}
			fmt.Fprintf(g.stdio.Out, "%s: valid (%d pipeline%s: %s)\n", file, len(names), plural(len(names)), strings.Join(names, ", "))
			// Where each pipeline can run: what the state machine and `stepline run` will
			// really accept, so a valid file never fails later as "not available".
			for _, p := range f.Pipelines {
				fmt.Fprintf(g.stdio.Out, "  %s: %s\n", p.Name.Value, p.Placement())
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", defaultFile, "the pipeline file")
	return cmd
}

// loadFile reads and parses a pipeline file; a read error is wrapped, problems are returned
// as pipeline.Problems.
func loadFile(path string) (*pipeline.File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pipeline file: %w", err)
	}
	return pipeline.Parse(path, data)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
