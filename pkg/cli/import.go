package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stepline/stepline/pkg/cpimport"
)

func newImport(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "import FILE [-o .stepline.yml]",
		Short: "Translate a CodePipeline definition into a stepline pipeline file",
		Long: "Read a CodePipeline definition, `aws codepipeline get-pipeline --name NAME` output (V1 or\n" +
			"V2) or a CloudFormation template (JSON or YAML) with AWS::CodePipeline::Pipeline\n" +
			"resources, and write the stepline pipeline file doing the same: to standard output, or to\n" +
			"-o FILE, which must not exist. What cannot be imported is written as a comment and listed\n" +
			"on standard error as file:line:col: json-path: message [not-imported|changed].\n" +
			"The file written passes stepline validate. See docs/import.md.\n" +
			"Exit status: 0 written, 1 nothing could be imported, 2 the file cannot be read.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return exit(ExitUsage, fmt.Errorf("read CodePipeline definition: %w", err))
			}
			res, err := cpimport.Import(args[0], data)
			if res != nil {
				for _, f := range res.Findings {
					fmt.Fprintln(g.stdio.Err, f.String())
				}
			}
			switch {
			case errors.Is(err, cpimport.ErrNothingImported):
				return exit(ExitFailed, fmt.Errorf("%s: %w", args[0], err))
			case err != nil:
				return exit(ExitUsage, fmt.Errorf("%s: %w", args[0], err))
			}
			if output == "" || output == "-" {
				_, err = g.stdio.Out.Write(res.YAML)
			} else {
				err = writeNew(output, res.YAML)
			}
			if err != nil {
				return exit(ExitUsage, err)
			}
			fmt.Fprintln(g.stdio.Err, importSummary(res, output))
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the pipeline file here (it must not exist); default: standard output")
	return cmd
}

// writeNew writes a file that must not exist yet: an import never overwrites a pipeline file.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: stepline import does not overwrite files; remove it or choose another -o", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func importSummary(res *cpimport.Result, output string) string {
	var names []string
	actions, imported := 0, 0
	for _, o := range res.Origins {
		names = append(names, o.Pipeline)
		for _, a := range o.Actions {
			actions++
			if a.Stepline != "" {
				imported++
			}
		}
	}
	where := "standard output"
	if output != "" && output != "-" {
		where = output
	}
	counts := map[string]int{}
	for _, f := range res.Findings {
		counts[f.Rule]++
	}
	return fmt.Sprintf("imported %s to %s: %d of %d actions; %d not imported, %d changed (listed above); check it with stepline validate",
		strings.Join(names, ", "), where, imported, actions, counts[cpimport.RuleNotImported], counts[cpimport.RuleChanged])
}
