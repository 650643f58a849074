package repoadd

import (
	bb "github.com/go-playground/webhooks/v6/bitbucket"
	bbs "github.com/go-playground/webhooks/v6/bitbucket-server"

	"github.com/stepline/stepline/pkg/scm"
)

// Event is one event a webhook subscribes to: its name in the provider's API and its label
// in the provider's webhook form.
type Event struct {
	// Key is the API name: push, repo:push, repo:refs_changed, …
	Key string
	// Label is what the provider's form calls it, for pasting by hand.
	Label string
}

// Settings is what a provider's webhook form asks for, besides the URL and the secret.
type Settings struct {
	// Provider is github, bitbucket or bitbucket-server.
	Provider string
	// Name is the provider's name in prose: GitHub, Bitbucket Cloud, Bitbucket Data Center.
	Name string
	// Where says how to reach the webhook form in the provider's web interface.
	Where string
	// ContentType is the payload format to choose, or "" when the provider offers no choice.
	ContentType string
	// Events are the events to subscribe to: exactly those pkg/scm's parser of the provider
	// turns into builds (the ping needs no subscription).
	Events []Event
	// EventsHint says how the form lets one pick events, or "".
	EventsHint string
	// NameField is the label of the form's name field, or "" when it has none.
	NameField string
}

// Keys returns the events' API names.
func (s Settings) Keys() []string {
	out := make([]string, len(s.Events))
	for i, e := range s.Events {
		out[i] = e.Key
	}
	return out
}

// Labels returns the events' labels in the provider's form.
func (s Settings) Labels() []string {
	out := make([]string, len(s.Events))
	for i, e := range s.Events {
		out[i] = e.Label
	}
	return out
}

// settings is one source of truth for the API registration and for the text pasted by hand.
// The Bitbucket keys are go-playground/webhooks' constants, the ones pkg/scm's parsers switch
// on. GitHub's create and delete events are left out: they name no commit, and the push that
// comes with them is what builds.
var settings = map[string]Settings{
	scm.GitHub: {
		Provider:    scm.GitHub,
		Name:        "GitHub",
		Where:       "the repository's Settings → Webhooks → Add webhook",
		ContentType: "application/json",
		EventsHint:  "choose “Let me select individual events”",
		Events: []Event{
			{Key: "push", Label: "Pushes"},
			{Key: "pull_request", Label: "Pull requests"},
		},
	},
	scm.Bitbucket: {
		Provider:  scm.Bitbucket,
		Name:      "Bitbucket Cloud",
		Where:     "the repository's Repository settings → Webhooks → Add webhook",
		NameField: "Title",
		Events: []Event{
			{Key: string(bb.RepoPushEvent), Label: "Repository: Push"},
			{Key: string(bb.PullRequestCreatedEvent), Label: "Pull Request: Created"},
			{Key: string(bb.PullRequestUpdatedEvent), Label: "Pull Request: Updated"},
			{Key: string(bb.PullRequestMergedEvent), Label: "Pull Request: Merged"},
			{Key: string(bb.PullRequestDeclinedEvent), Label: "Pull Request: Declined"},
		},
	},
	scm.BitbucketServer: {
		Provider:  scm.BitbucketServer,
		Name:      "Bitbucket Data Center",
		Where:     "the repository's Repository settings → Webhooks → Create webhook",
		NameField: "Name",
		Events: []Event{
			{Key: string(bbs.RepositoryReferenceChangedEvent), Label: "Repository: Push"},
			{Key: string(bbs.PullRequestOpenedEvent), Label: "Pull request: Opened"},
			{Key: string(bbs.PullRequestFromReferenceUpdatedEvent), Label: "Pull request: Source branch updated"},
			{Key: string(bbs.PullRequestModifiedEvent), Label: "Pull request: Modified"},
			{Key: string(bbs.PullRequestMergedEvent), Label: "Pull request: Merged"},
			{Key: string(bbs.PullRequestDeclinedEvent), Label: "Pull request: Declined"},
			{Key: string(bbs.PullRequestDeletedEvent), Label: "Pull request: Deleted"},
		},
	},
}

// SettingsOf returns the webhook settings of provider, and false for an unknown provider.
func SettingsOf(provider string) (Settings, bool) {
	s, ok := settings[provider]
	if !ok {
		return Settings{}, false
	}
	s.Events = append([]Event(nil), s.Events...)
	return s, true
}

// HookName is the name (Data Center) or description (Bitbucket Cloud) the webhook is given,
// through the API or by hand.
const HookName = "stepline"
