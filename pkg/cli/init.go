package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stepline/stepline/pkg/scaffold"
)

type initOptions struct {
	template, dir string
	answers       scaffold.Answers
	dryRun, list  bool
}

func newInit(g *globals) *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init [--template NAME] [--name NAME] [--dir DIR] [--dry-run]",
		Short: "Write a new repository's pipelines, buildspecs, code and infrastructure from a template",
		Long: "Write the layout of a template into the current directory (or --dir): .stepline.yml with\n" +
			"a test pipeline, a pipeline deploying each branch of --branches to an environment of its\n" +
			"own, and a production pipeline that waits for an approval; buildspecs; the code; the\n" +
			"CloudFormation or SAM templates. On a terminal it asks for what the flags leave out.\n" +
			"It never overwrites a file: when one exists it lists them and writes nothing.\n" +
			"Exit status: 0 written (or listed), 1 files exist, 2 bad answers.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd, g) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.template, "template", "t", "", "the template (stepline init --list)")
	f.StringVar(&o.answers.Name, "name", "", "the application's name: the Go module, the pipelines, the ECR repository, the stacks' prefix (default: the directory's name)")
	f.StringVar(&o.answers.Region, "region", "", "the AWS region it deploys to (default: $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1)")
	f.StringSliceVar(&o.answers.Branches, "branches", []string{"staging"}, "branches (globs too, such as feature/**) that deploy an environment of their own, br-<branch>, without an approval; empty for none")
	f.StringVar(&o.answers.ProductionBranch, "production-branch", "main", "the branch that deploys production, after an approval")
	f.StringVar(&o.answers.Distribution, "distribution", "", "static-site: the CloudFront distribution ID whose cache production deploys invalidate")
	f.StringVar(&o.dir, "dir", "", "where to write (default: the current directory)")
	f.BoolVar(&o.dryRun, "dry-run", false, "list the files it would write, and write nothing")
	f.BoolVar(&o.list, "list", false, "list the templates")
	return cmd
}

func (o initOptions) run(cmd *cobra.Command, g *globals) error {
	out := g.stdio.Out
	if o.list {
		for _, t := range scaffold.Templates() {
			fmt.Fprintf(out, "%-14s %s\n", t.Name, t.Summary)
		}
		return nil
	}
	dir := o.dir
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return exit(ExitUsage, err)
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return exit(ExitUsage, err)
	}
	a := o.answers
	a.Branches = splitList(strings.Join(a.Branches, ","))
	if a.Name == "" {
		a.Name = defaultName(filepath.Base(dir))
	}
	if a.Region == "" {
		a.Region = firstSet(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1")
	}
	var p *prompter
	if g.stdio.TTY {
		p = &prompter{in: bufio.NewReader(g.stdio.In), out: out}
	}
	tmplName := o.template
	if tmplName == "" {
		if p == nil {
			return exit(ExitUsage, errors.New("name a template with --template (stepline init --list shows them)"))
		}
		if tmplName, err = p.choose(); err != nil {
			return exit(ExitUsage, err)
		}
	}
	tmpl, err := scaffold.Lookup(tmplName)
	if err != nil {
		return exit(ExitUsage, err)
	}
	if p != nil {
		changed := cmd.Flags().Changed
		if !changed("name") {
			a.Name = p.ask("Application name", a.Name)
		}
		if !changed("region") {
			a.Region = p.ask("AWS region", a.Region)
		}
		if !changed("production-branch") {
			a.ProductionBranch = p.ask("Production branch (deploys after an approval)", a.ProductionBranch)
		}
		if !changed("branches") {
			a.Branches = splitList(p.ask("Branches with an environment of their own (comma-separated, globs allowed, - for none)", strings.Join(a.Branches, ",")))
		}
		if tmpl.Distribution && !changed("distribution") {
			a.Distribution = p.ask("CloudFront distribution ID to invalidate (empty for none)", a.Distribution)
		}
	}
	files, err := scaffold.Plan(tmpl.Name, a)
	if err != nil {
		var ae *scaffold.AnswerError
		if errors.As(err, &ae) {
			for _, prob := range ae.Problems {
				fmt.Fprintln(g.stdio.Err, "stepline init:", prob)
			}
			return exit(ExitUsage, fmt.Errorf("%d answer%s cannot be used; nothing was written", len(ae.Problems), plural(len(ae.Problems))))
		}
		return exit(ExitUsage, err)
	}

	var existing []string
	for _, f := range files {
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(f.Path))); err == nil || !errors.Is(err, fs.ErrNotExist) {
			existing = append(existing, f.Path)
		}
	}
	if len(existing) > 0 {
		fmt.Fprintf(g.stdio.Err, "stepline init: %s already has %d of the files of template %s:\n", dir, len(existing), tmpl.Name)
		for _, path := range existing {
			fmt.Fprintln(g.stdio.Err, "  "+path)
		}
		return exit(ExitFailed, errors.New("nothing was written: move these files away, or init another directory (--dir)"))
	}

	if o.dryRun {
		fmt.Fprintf(out, "stepline init would write %d files of template %s to %s:\n", len(files), tmpl.Name, dir)
		listFiles(out, files)
		return nil
	}
	if err := createFiles(dir, files); err != nil {
		return exit(ExitFailed, err)
	}
	fmt.Fprintf(out, "stepline init wrote %d files of template %s to %s:\n", len(files), tmpl.Name, dir)
	listFiles(out, files)
	fmt.Fprintln(out, "\nNext:")
	for _, step := range tmpl.Next(a) {
		fmt.Fprintln(out, "  "+step)
	}
	fmt.Fprintln(out, "\nThe stepline stack's parameters these pipelines deploy with:")
	for _, sp := range tmpl.StackParameters(a) {
		fmt.Fprintf(out, "  %s=%s\n      %s\n", sp.Name, sp.Value, sp.Why)
	}
	return nil
}

func listFiles(out io.Writer, files []scaffold.File) {
	for _, f := range files {
		fmt.Fprintf(out, "  %-24s %6d bytes\n", f.Path, len(f.Body))
	}
}

// createFiles creates every file, each with O_EXCL so that a file appearing since the check is
// never overwritten either.
func createFiles(dir string, files []scaffold.File) error {
	for _, f := range files {
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.Mode)
		if err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
		_, err = w.Write(f.Body)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	return nil
}

// defaultName makes a directory's name an application name: lower case letters, digits and
// single dashes ("My_Shop" → "my-shop"); scaffold.Check judges the result.
func defaultName(base string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(base) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9' && b.Len() > 0:
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > 28 {
		s = strings.TrimRight(s[:28], "-")
	}
	return s
}

func firstSet(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// splitList reads a comma-separated answer; "-" or nothing is the empty list.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" && item != "-" {
			out = append(out, item)
		}
	}
	return out
}

// prompter asks questions on a terminal; Enter takes the default.
type prompter struct {
	in  *bufio.Reader
	out io.Writer
}

func (p *prompter) ask(question, def string) string {
	if def != "" {
		fmt.Fprintf(p.out, "%s [%s]: ", question, def)
	} else {
		fmt.Fprintf(p.out, "%s: ", question)
	}
	line, _ := p.in.ReadString('\n')
	if line = strings.TrimSpace(line); line != "" {
		return line
	}
	return def
}

func (p *prompter) choose() (string, error) {
	ts := scaffold.Templates()
	fmt.Fprintln(p.out, "Templates:")
	for i, t := range ts {
		fmt.Fprintf(p.out, "  %d. %-14s %s\n", i+1, t.Name, t.Summary)
	}
	answer := p.ask("Template (number or name)", "1")
	if n, err := strconv.Atoi(answer); err == nil {
		if n < 1 || n > len(ts) {
			return "", fmt.Errorf("template %d: choose 1 to %d", n, len(ts))
		}
		return ts[n-1].Name, nil
	}
	return answer, nil
}
