package github

import (
	gh "github.com/google/go-github/v81/github"

	"github.com/stepline/stepline/pkg/scm"
)

// parseCreate normalises a create delivery. GitHub names no commit in it (the push delivery
// that accompanies a new branch or tag carries the head), so the event's After is empty; the
// trigger package never builds an event without a head commit.
func parseCreate(body []byte) (scm.Event, error) {
	var p gh.CreateEvent
	if err := decode("create", body, &p); err != nil {
		return scm.Event{}, err
	}
	ev, err := refEvent("create", p.GetRefType(), p.GetRef(), repository(p.GetRepo(), p.GetMasterBranch()))
	if err != nil {
		return scm.Event{}, err
	}
	ev.Created = true
	ev.Sender = p.GetSender().GetLogin()
	return ev, nil
}

// parseDelete normalises a delete delivery, which names no commit either.
func parseDelete(body []byte) (scm.Event, error) {
	var p gh.DeleteEvent
	if err := decode("delete", body, &p); err != nil {
		return scm.Event{}, err
	}
	ev, err := refEvent("delete", p.GetRefType(), p.GetRef(), repository(p.GetRepo(), ""))
	if err != nil {
		return scm.Event{}, err
	}
	ev.Deleted = true
	ev.Sender = p.GetSender().GetLogin()
	return ev, nil
}

// refEvent builds the event of a created or deleted ref from its short name and ref_type.
func refEvent(event, refType, name string, repo scm.Repository) (scm.Event, error) {
	if refType == "" || name == "" {
		return scm.Event{}, scm.Malformed("GitHub %s delivery names no ref and ref_type", event)
	}
	if repo.FullName == "" {
		return scm.Event{}, scm.Malformed("GitHub %s delivery names no repository", event)
	}
	ev := scm.Event{Repository: repo}
	switch refType {
	case "branch":
		ev.Kind, ev.Ref, ev.Branch = scm.KindPush, scm.BranchRef(name), name
	case "tag":
		ev.Kind, ev.Ref, ev.Tag = scm.KindTag, scm.TagRef(name), name
	default:
		// The Events API also reports a created repository this way; webhooks name branches
		// and tags only, and neither would start a build.
		return scm.Event{}, scm.Ignored("GitHub %s of a %q starts no pipeline", event, clip(refType))
	}
	return ev, nil
}
