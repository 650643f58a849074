package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/spf13/cobra"

	"github.com/stepline/stepline/pkg/repoadd"
	"github.com/stepline/stepline/pkg/reposecret"
)

// tokenEnv names the environment variable holding the provider API token, so it need not be
// on the command line (where ps and shell history show it).
const tokenEnv = "STEPLINE_PROVIDER_TOKEN"

func newRepoCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "repo",
		Short: "Register repositories with a deployed stack",
	}
	cmd.AddCommand(newRepoAdd(g))
	return cmd
}

type repoAddOptions struct {
	stack, webhookURL, prefix, token, apiURL, region string
	register, rotate                                 bool
}

func newRepoAdd(g *globals) *cobra.Command {
	var o repoAddOptions
	cmd := &cobra.Command{
		Use:   "add github|bitbucket|bitbucket-server OWNER/REPO",
		Short: "Create a repository's secret and its webhook",
		Long: "Create the repository's secret in Secrets Manager under a fresh hook id, with a fresh\n" +
			"webhook secret, and print the webhook URL and the settings to paste into the provider.\n" +
			"Given a token (--token or $" + tokenEnv + "), store it in the secret and create the\n" +
			"webhook through the provider's API instead (--register=false to only store it).\n" +
			"The stack's WebhookUrl and SecretPrefix outputs come from --stack, or from --webhook-url\n" +
			"and --secret-prefix. A repository that already has a secret is refused unless --rotate,\n" +
			"which adds a new webhook secret and keeps the old ones, so deliveries still verify.\n" +
			"AWS credentials and region come from the default chain (environment, profile, SSO).\n" +
			"Exit status: 0 registered, 1 failed, 2 bad usage.",
		Example: "  stepline repo add github octo/app --stack stepline\n" +
			"  STEPLINE_PROVIDER_TOKEN=… stepline repo add bitbucket team/app --stack stepline\n" +
			"  stepline repo add bitbucket-server PROJ/app --webhook-url URL --api-url https://bitbucket.example.com\n" +
			"  stepline repo add github octo/app --stack stepline --rotate",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			register := o.register
			if !cmd.Flags().Changed("register") {
				register = o.tokenValue() != ""
			}
			if o.stack != "" && cmd.Flags().Changed("secret-prefix") {
				return exit(ExitUsage, errors.New("--secret-prefix comes from the stack's outputs with --stack; give one or the other"))
			}
			return o.run(cmd.Context(), g, args[0], args[1], register)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.stack, "stack", "", "the stepline stack's name: read its WebhookUrl and SecretPrefix outputs")
	f.StringVar(&o.webhookURL, "webhook-url", "", "the stack's WebhookUrl output, when --stack is not given")
	f.StringVar(&o.prefix, "secret-prefix", reposecret.DefaultPrefix, "the stack's SecretPrefix output, when --stack is not given")
	f.StringVar(&o.token, "token", "", "the provider API token (default: $"+tokenEnv+")")
	f.BoolVar(&o.register, "register", false, "create the webhook through the provider's API (default: true when a token is given)")
	f.BoolVar(&o.rotate, "rotate", false, "add a new webhook secret to an already registered repository")
	f.StringVar(&o.apiURL, "api-url", "", "the provider's API root: Bitbucket Data Center's base URL (required for bitbucket-server), a GitHub Enterprise Server API root (default https://api.github.com)")
	f.StringVar(&o.region, "region", "", "the AWS region (default: from the environment or profile)")
	return cmd
}

func (o repoAddOptions) tokenValue() string {
	if o.token != "" {
		return o.token
	}
	return os.Getenv(tokenEnv)
}

func (o repoAddOptions) run(ctx context.Context, g *globals, provider, repo string, register bool) error {
	switch {
	case o.stack != "" && o.webhookURL != "":
		return exit(ExitUsage, errors.New("give --stack or --webhook-url, not both"))
	case o.stack == "" && o.webhookURL == "":
		return exit(ExitUsage, errors.New("give --stack NAME (the deployed stack) or --webhook-url URL (its WebhookUrl output)"))
	}
	req := repoadd.Request{Provider: provider, Repository: repo, WebhookURL: o.webhookURL, SecretPrefix: o.prefix,
		Token: o.tokenValue(), APIURL: o.apiURL, Register: register, Rotate: o.rotate}
	// Refuse bad arguments before asking AWS for anything.
	if err := repoadd.Check(req); err != nil {
		return exit(ExitUsage, err)
	}
	var opts []func(*config.LoadOptions) error
	if o.region != "" {
		opts = append(opts, config.WithRegion(o.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return exit(ExitFailed, fmt.Errorf("load the AWS configuration: %w", err))
	}
	if cfg.Region == "" {
		return exit(ExitUsage, errors.New("no AWS region: give --region, or set AWS_REGION or a profile's region"))
	}
	if o.stack != "" {
		st, err := repoadd.Outputs(ctx, cloudformation.NewFromConfig(cfg), o.stack)
		if errors.Is(err, repoadd.ErrNoStack) {
			return exit(ExitFailed, fmt.Errorf("%w in %s (is --region right?)", err, cfg.Region))
		}
		if err != nil {
			return exit(ExitFailed, err)
		}
		req.WebhookURL, req.SecretPrefix = st.WebhookURL, st.SecretPrefix
	}
	res, err := repoadd.New(secretsmanager.NewFromConfig(cfg)).Add(ctx, req)
	if err != nil && res.SecretName == "" {
		return exit(ExitFailed, err)
	}
	printRepoAdd(g.stdio.Out, res, cfg.Region)
	if err != nil {
		return exit(ExitFailed, fmt.Errorf("%w\nthe secret is stored: paste the settings above by hand, or run again with --rotate and a working token", err))
	}
	return nil
}

// printRepoAdd prints what was created and, unless the provider was told through its API,
// what to paste into it. The webhook secret is printed only then: it is the one value the
// user must type into the provider, and it lives in Secrets Manager anyway.
func printRepoAdd(w io.Writer, res repoadd.Result, region string) {
	s := res.Settings
	if res.Rotated {
		fmt.Fprintf(w, "Rotated the webhook secret of %s\n", res.Key)
		fmt.Fprintf(w, "  Secret   %s (%s; it now holds %d webhook secrets)\n", res.SecretName, region, res.WebhookSecrets)
		fmt.Fprintf(w, "  Webhook  %s (unchanged)\n", res.URL)
	} else {
		fmt.Fprintf(w, "Registered %s\n", res.Key)
		fmt.Fprintf(w, "  Secret   %s (%s)\n", res.SecretName, region)
		fmt.Fprintf(w, "  Webhook  %s\n", res.URL)
	}
	fmt.Fprintln(w)
	if r := res.Registered; r != nil {
		verb := "Created"
		if r.Updated {
			verb = "Gave the new secret to"
		}
		fmt.Fprintf(w, "%s the webhook on %s (id %s): nothing to paste.\n", verb, s.Name, r.ID)
		if res.Rotated {
			fmt.Fprintln(w, "The previous webhook secrets still verify; remove them from webhook_secrets when no delivery needs them.")
		}
		return
	}
	if res.Rotated {
		fmt.Fprintf(w, "In %s, edit the webhook with the URL above and set its secret:\n", s.Name)
		fmt.Fprintf(w, "  Secret        %s\n", res.WebhookSecret)
		fmt.Fprintln(w, "The previous webhook secrets still verify; remove them from webhook_secrets once the provider uses the new one.")
		return
	}
	fmt.Fprintf(w, "Add the webhook in %s (%s):\n", s.Name, s.Where)
	if s.NameField != "" {
		fmt.Fprintf(w, "  %-13s %s\n", s.NameField, repoadd.HookName)
	}
	fmt.Fprintf(w, "  %-13s %s\n", "URL", res.URL)
	if s.ContentType != "" {
		fmt.Fprintf(w, "  %-13s %s\n", "Content type", s.ContentType)
	}
	fmt.Fprintf(w, "  %-13s %s\n", "Secret", res.WebhookSecret)
	events := strings.Join(s.Labels(), ", ")
	if s.EventsHint != "" {
		events += " (" + s.EventsHint + ")"
	}
	fmt.Fprintf(w, "  %-13s %s\n", "Events", events)
	fmt.Fprintf(w, "  %-13s %s\n", "Active", "yes")
}
