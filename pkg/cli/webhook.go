package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/webhook"
)

// secretEnv names the environment variable holding the webhook secret, so it need not be on
// the command line (where ps shows it).
const secretEnv = "STEPLINE_WEBHOOK_SECRET"

// defaultHook is the hook id `stepline serve` listens on unless told otherwise.
const defaultHook = "stepline-local-hook"

func newWebhook(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Replay and inspect webhook deliveries",
	}
	cmd.AddCommand(newWebhookSend(g), newWebhookParse(g))
	return cmd
}

type sendOptions struct {
	provider, event, secret, url, delivery string
}

func newWebhookSend(g *globals) *cobra.Command {
	var o sendOptions
	cmd := &cobra.Command{
		Use:   "send --provider P --event E [--secret S] FILE",
		Short: "Sign a payload file and post it as the provider would",
		Long: "Sign FILE (a webhook body, as the provider sent it) with the secret and post it with the\n" +
			"provider's headers, to `stepline serve` or to a deployed webhook URL, so a real delivery\n" +
			"can be replayed. The secret comes from --secret or $" + secretEnv + ".\n" +
			"Exit status: 0 when the answer is 2xx, 1 otherwise, 2 for bad usage.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), g, args[0]) },
	}
	f := cmd.Flags()
	f.StringVar(&o.provider, "provider", "", "github, bitbucket or bitbucket-server (required)")
	f.StringVar(&o.event, "event", "", "the event name: push, pull_request, repo:push, repo:refs_changed, … (required)")
	f.StringVar(&o.secret, "secret", "", "the webhook secret (default: $"+secretEnv+")")
	f.StringVar(&o.url, "url", "", "where to post (default: stepline serve's URL on 127.0.0.1:8080 for the provider)")
	f.StringVar(&o.delivery, "delivery", "", "the delivery id (default: a new random id); reuse one to test redelivery")
	return cmd
}

func (o sendOptions) run(ctx context.Context, g *globals, file string) error {
	h, ok := scm.HeadersOf(o.provider)
	if !ok {
		return exit(ExitUsage, fmt.Errorf("--provider must be one of %s", strings.Join(scm.Providers(), ", ")))
	}
	if o.event == "" {
		return exit(ExitUsage, fmt.Errorf("--event is required (the value of the %s header)", h.Event))
	}
	secret := o.secret
	if secret == "" {
		secret = os.Getenv(secretEnv)
	}
	if secret == "" {
		return exit(ExitUsage, fmt.Errorf("no secret: give --secret or set %s", secretEnv))
	}
	body, err := os.ReadFile(file)
	if err != nil {
		return exit(ExitUsage, err)
	}
	url := o.url
	if url == "" {
		url = "http://127.0.0.1:8080/webhooks/" + o.provider + "/" + defaultHook
	}
	delivery := o.delivery
	if delivery == "" {
		delivery = newUUID()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return exit(ExitUsage, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "stepline-webhook-send")
	req.Header.Set(h.Signature, scm.Sign([]byte(secret), body))
	req.Header.Set(h.Event, o.event)
	req.Header.Set(h.Delivery, delivery)
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return exit(ExitFailed, fmt.Errorf("post the delivery: %w", err))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	fmt.Fprintf(g.stdio.Out, "%s %s delivery %s: %s\n", o.provider, o.event, delivery, resp.Status)
	if s := strings.TrimSpace(string(answer)); s != "" {
		fmt.Fprintln(g.stdio.Out, s)
	}
	if resp.StatusCode/100 != 2 {
		return exit(ExitFailed, nil)
	}
	return nil
}

// newUUID returns a random version-4 UUID, the form GitHub's delivery ids take.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

type parseOptions struct {
	provider, event, delivery string
}

func newWebhookParse(g *globals) *cobra.Command {
	var o parseOptions
	cmd := &cobra.Command{
		Use:   "parse --provider P --event E FILE",
		Short: "Print the normalised events of a payload file as JSON (no signature check)",
		Long: "Parse FILE, a webhook body, as the provider's EVENT and print the normalised events it\n" +
			"yields as a JSON array. An event stepline ignores prints [] and the reason on standard\n" +
			"error. Exit status: 0 parsed or ignored, 1 malformed, 2 bad usage.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(g, args[0]) },
	}
	f := cmd.Flags()
	f.StringVar(&o.provider, "provider", "", "github, bitbucket or bitbucket-server (required)")
	f.StringVar(&o.event, "event", "", "the event name, as in the provider's event header (required)")
	f.StringVar(&o.delivery, "delivery", "local", "the delivery id to put into the events")
	return cmd
}

func (o parseOptions) run(g *globals, file string) error {
	evs, err := parseDelivery(o.provider, o.event, o.delivery, file)
	if reason, ok := scm.IsIgnored(err); ok {
		fmt.Fprintln(g.stdio.Err, "ignored:", reason)
		evs, err = []scm.Event{}, nil
	}
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(evs, "", "  ")
	if err != nil {
		return exit(ExitFailed, err)
	}
	fmt.Fprintln(g.stdio.Out, string(b))
	return nil
}

// parseDelivery parses a payload file with the provider's parser; usage errors and malformed
// bodies come back as exit errors, an ignored event as *scm.IgnoredError.
func parseDelivery(provider, event, delivery, file string) ([]scm.Event, error) {
	parsers := webhook.DefaultParsers()
	p, ok := parsers[provider]
	if !ok {
		names := scm.Providers()
		slices.Sort(names)
		return nil, exit(ExitUsage, fmt.Errorf("--provider must be one of %s", strings.Join(names, ", ")))
	}
	if event == "" {
		return nil, exit(ExitUsage, fmt.Errorf("--event is required"))
	}
	body, err := os.ReadFile(file)
	if err != nil {
		return nil, exit(ExitUsage, err)
	}
	evs, err := p.Parse(event, delivery, body)
	if _, ignored := scm.IsIgnored(err); ignored {
		return nil, err
	}
	if err != nil {
		return nil, exit(ExitFailed, fmt.Errorf("%s: %w", file, err))
	}
	if evs == nil {
		evs = []scm.Event{}
	}
	return evs, nil
}
