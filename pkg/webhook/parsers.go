package webhook

import (
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/bitbucket"
	"github.com/stepline/stepline/pkg/scm/bitbucketserver"
	"github.com/stepline/stepline/pkg/scm/github"
)

// DefaultParsers returns the parser of every webhook provider, by provider name.
func DefaultParsers() map[string]scm.Parser {
	return map[string]scm.Parser{
		scm.GitHub:          github.Parser{},
		scm.Bitbucket:       bitbucket.Parser{},
		scm.BitbucketServer: bitbucketserver.Parser{},
	}
}
