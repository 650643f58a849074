package pipeline

import (
	"regexp"
	"slices"

	"gopkg.in/yaml.v3"
)

// triggerKeys lists, per trigger kind, the keys it accepts besides "on".
var triggerKeys = []struct {
	on   string
	keys []string
}{
	{OnPush, []string{"branches", "tags", "paths", "trusted"}},
	{OnPullRequest, []string{"events", "branches", "paths", "trusted"}},
	{OnImage, []string{"repository", "tags", "trusted"}},
	{OnObject, []string{"bucket", "keys", "trusted"}},
	{OnSchedule, []string{"cron", "branch", "trusted"}},
}

func triggerKinds() []string {
	out := make([]string, len(triggerKeys))
	for i, t := range triggerKeys {
		out[i] = t.on
	}
	return out
}

// keysForTrigger returns the keys valid in a trigger of kind on ("" or unknown: any kind).
func keysForTrigger(on string) []string {
	keys := []string{"on"}
	for _, t := range triggerKeys {
		if on != "" && t.on != on && slices.Contains(triggerKinds(), on) {
			continue
		}
		for _, k := range t.keys {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// triggerOwners names the trigger kinds accepting key.
func triggerOwners(key string) []string {
	var out []string
	for _, t := range triggerKeys {
		if slices.Contains(t.keys, key) {
			out = append(out, t.on)
		}
	}
	return out
}

var (
	// cronRE and rateRE check EventBridge schedule expressions loosely: the shape, not each
	// field, since EventBridge itself validates the fields when the rule is created.
	cronRE = regexp.MustCompile(`^cron\(\S+( \S+){5}\)$`)
	rateRE = regexp.MustCompile(`^rate\((1 (minute|hour|day)|[1-9][0-9]* (minutes|hours|days))\)$`)
	// bucketRE is S3's bucket naming rule in its general shape, enough to catch a glob or an
	// ARN written where the trigger compares a name exactly.
	bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

func (d *decoder) decodeTrigger(n *yaml.Node) *Trigger {
	n = d.resolve(n)
	if n == nil {
		return nil
	}
	if isNull(n) {
		d.report(d.src.itemPos(pos(n)), RuleType, "trigger: expected a mapping, found null (an empty list item)")
		return nil
	}
	ps, ok := d.mapping(n, "trigger")
	if !ok {
		return nil
	}
	t := &Trigger{Pos: pos(n)}
	if on := d.lookup(ps, "on"); on != nil {
		t.On = d.enum(on, "on", triggerKinds()...)
	}
	valid := keysForTrigger(t.On.Value)
	for _, p := range ps {
		key := p.key.Value
		if key == "on" {
			continue
		}
		if !slices.Contains(valid, key) {
			if t.On.Value == "" {
				d.unknownKey(p.key, "trigger", valid)
			} else {
				d.unknownKeyOf(p.key, "on: "+t.On.Value, valid, keysForTrigger(""), triggerOwners)
			}
			continue
		}
		switch key {
		case "branches":
			t.Branches = d.filter(p.val, "branches")
		case "tags":
			t.Tags = d.filter(p.val, "tags")
		case "paths":
			t.Paths = d.filter(p.val, "paths")
		case "events":
			if n := d.resolve(p.val); n != nil && n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
				d.report(pos(n), RuleRequired, "events: the list is empty: leave events out for opened and updated")
			}
			for _, e := range d.strList(p.val, "events") {
				if d.oneOf(e, "events", EventOpened, EventUpdated, EventClosed, EventMerged) {
					t.Events = append(t.Events, e)
				}
			}
		case "repository":
			t.Repository = d.str(p.val, "repository")
		case "bucket":
			t.Bucket = d.str(p.val, "bucket")
			if t.Bucket.Value != "" && !bucketRE.MatchString(t.Bucket.Value) {
				d.report(t.Bucket.Pos, RuleValue, "bucket: %q is not an S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit (it is a name, not a glob)", clip(t.Bucket.Value))
			}
		case "keys":
			t.Keys = d.filter(p.val, "keys")
		case "cron":
			t.Cron = d.str(p.val, "cron")
			if t.Cron.Value != "" && !cronRE.MatchString(t.Cron.Value) && !rateRE.MatchString(t.Cron.Value) {
				d.report(t.Cron.Pos, RuleValue, "cron: expected an EventBridge schedule such as \"cron(0 3 * * ? *)\" (six fields) or \"rate(1 day)\", found %q", clip(t.Cron.Value))
			}
		case "branch":
			t.Branch = d.str(p.val, "branch")
		case "trusted":
			if b, ok := d.boolOK(p.val, "trusted"); ok {
				t.Trusted = &b
			}
		}
	}
	d.require(n, ps, "trigger", "on")
	switch t.On.Value {
	case OnImage:
		d.require(n, ps, "image trigger", "repository")
	case OnObject:
		d.require(n, ps, "object trigger", "bucket")
	case OnSchedule:
		d.require(n, ps, "schedule trigger", "cron")
	case OnPullRequest:
		if d.lookup(ps, "events") == nil {
			t.Events = []String{{Value: EventOpened}, {Value: EventUpdated}}
		}
	}
	return t
}

var filterKeys = []string{"include", "exclude"}

// filter reads {include: [...], exclude: [...]}, or a bare list as shorthand for include.
func (d *decoder) filter(n *yaml.Node, key string) *Filter {
	n = d.resolve(n)
	if isNull(n) {
		return nil
	}
	f := &Filter{Pos: pos(n)}
	switch n.Kind {
	case yaml.SequenceNode:
		f.Include = d.globs(n, key)
		return f
	case yaml.MappingNode:
	default:
		d.report(pos(n), RuleType, "%s: expected {include: [...], exclude: [...]} or a list of patterns, found %s", key, kindName(n))
		return nil
	}
	ps, _ := d.mapping(n, key)
	for _, p := range ps {
		switch p.key.Value {
		case "include":
			f.Include = d.globs(p.val, key+".include")
		case "exclude":
			f.Exclude = d.globs(p.val, key+".exclude")
		default:
			d.unknownKey(p.key, key+" filter", filterKeys)
		}
	}
	return f
}
