package pipeline

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"gopkg.in/yaml.v3"
)

// maxDays bounds the days part of a duration so that the sum cannot overflow time.Duration.
const maxDays = 36500

var errDuration = errors.New("invalid duration")

// ParseDuration reads a duration in Go syntax (1h30m, 90s) extended with a leading whole
// number of days (7d, 1d12h), because approval and deployment timeouts are naturally said in
// days and Go's syntax has no unit for them.
func ParseDuration(s string) (time.Duration, error) {
	rest := s
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n > maxDays || n < -maxDays {
			return 0, errDuration
		}
		days = time.Duration(n) * 24 * time.Hour
		rest = s[i+1:]
		if rest == "" {
			return days, nil
		}
		if rest[0] == '+' || rest[0] == '-' {
			return 0, errDuration
		}
	}
	r, err := time.ParseDuration(rest)
	if err != nil {
		return 0, errDuration
	}
	sum := days + r
	if (days > 0 && r > 0 && sum < 0) || (days < 0 && r < 0 && sum > 0) {
		return 0, errDuration
	}
	return sum, nil
}

// duration reads a positive duration written as a string.
func (d *decoder) duration(n *yaml.Node, key string) Duration {
	n = d.resolve(n)
	if isNull(n) {
		return Duration{}
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		d.report(pos(n), RuleType, "%s: expected a duration such as 30m, 1h30m or 7d, found %s", key, kindName(n))
		return Duration{Pos: pos(n)}
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		d.report(pos(n), RuleDuration, "%s: invalid duration %q: use a number and a unit (s, m, h, d) such as 30m, 1h30m or 7d", key, clip(n.Value))
		return Duration{Pos: pos(n)}
	}
	if v <= 0 {
		d.report(pos(n), RuleDuration, "%s: duration %q must be positive", key, clip(n.Value))
		return Duration{Pos: pos(n)}
	}
	return Duration{Value: v, Pos: pos(n)}
}

// globs reads a list of doublestar patterns and checks each one, so that a broken filter is
// caught when the file is pushed rather than silently never matching.
func (d *decoder) globs(n *yaml.Node, key string) []String {
	list := d.strList(n, key)
	for _, g := range list {
		d.glob(g, key)
	}
	return list
}

func (d *decoder) glob(g String, key string) {
	switch {
	case g.Pos.IsZero():
	case g.Value == "":
		d.report(g.Pos, RuleGlob, "%s: empty glob pattern", key)
	case !doublestar.ValidatePattern(g.Value):
		d.report(g.Pos, RuleGlob, "%s: invalid glob pattern %q: check brackets and braces", key, clip(g.Value))
	}
}
