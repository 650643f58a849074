package github

import (
	"encoding/json"

	"github.com/stepline/stepline/pkg/scm"
)

// parseCreate normalises a create delivery. GitHub names no commit in it (the push delivery
// that accompanies a new branch or tag carries the head), so the event's After is empty; the
// trigger package never builds an event without a head commit.
func parseCreate(body []byte) (scm.Event, error) {
	var p refPayload
	if err := decode("create", body, &p); err != nil {
		return scm.Event{}, err
	}
	ev, err := refEvent("create", p.RefType, p.Ref, normalise(p.Repository, p.MasterBranch))
	if err != nil {
		return scm.Event{}, err
	}
	if err := refShapeIs("create", body); err != nil {
		return scm.Event{}, err
	}
	ev.Created = true
	ev.Sender = p.Sender.login()
	return ev, nil
}

// parseDelete normalises a delete delivery, which names no commit either.
func parseDelete(body []byte) (scm.Event, error) {
	var p refPayload
	if err := decode("delete", body, &p); err != nil {
		return scm.Event{}, err
	}
	ev, err := refEvent("delete", p.RefType, p.Ref, normalise(p.Repository, ""))
	if err != nil {
		return scm.Event{}, err
	}
	if err := refShapeIs("delete", body); err != nil {
		return scm.Event{}, err
	}
	ev.Deleted = true
	ev.Sender = p.Sender.login()
	return ev, nil
}

// refShape holds the keys that tell a create body from a delete body, which otherwise share
// ref, ref_type, pusher_type, repository and sender. A create carries master_branch and
// description (null when the repository has none); a delete carries neither. RawMessage
// keeps a null, so a key that is present reads as present.
type refShape struct {
	MasterBranch json.RawMessage `json:"master_branch"`
	Description  json.RawMessage `json:"description"`
}

// refShapeIs refuses a body of the other event: X-GitHub-Event is not signed, so a signed
// delete resent as a create (or the reverse) must not turn a deletion into a new ref.
func refShapeIs(event string, body []byte) error {
	var s refShape
	if err := decode(event, body, &s); err != nil {
		return err
	}
	create := s.MasterBranch != nil || s.Description != nil
	switch {
	case event == "create" && !create:
		return scm.Malformed("GitHub create delivery has neither master_branch nor description: it is a delete delivery's body")
	case event == "delete" && create:
		return scm.Malformed("GitHub delete delivery carries master_branch or description: it is a create delivery's body")
	}
	return nil
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
