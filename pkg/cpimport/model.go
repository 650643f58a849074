package cpimport

// The stepline side of an import: a pipeline file as the emitter writes it. Every part
// remembers the input value it came from, so that when it cannot be kept (no stepline
// equivalent, or stepline validate refuses it) it is written as a comment and reported there.

// part is what every written piece shares: where it came from and, once dropped, why.
type part struct {
	from node
	// drop is why the part is written as a comment; empty while it is kept.
	drop string
	// merged names the part that does this one's work (a change set's creation is done by
	// the action executing it); the comment says so instead of "not imported".
	merged string
}

func (p *part) dropped() bool { return p.drop != "" }

// kv is one entry of a string mapping (variables, env, parameters, configuration).
type kv struct{ k, v string }

// setting is one provider key of an action; val is a string, bool, []string or []kv.
type setting struct {
	key string
	val any
}

type outPipeline struct {
	part
	name      string
	header    []string
	mode      string
	variables []*outVar
	triggers  []*outTrigger
	stages    []*outStage
	notify    []*outNotify
	// cp describes the CodePipeline pipeline, for x-codepipeline.
	cp       cpInfo
	original []*origAction
}

type cpInfo struct {
	name, typ string
}

type outVar struct {
	part
	name, value string
}

type outTrigger struct {
	part
	on                    string
	branches, tags, paths *filter
	events                []string
	repository, bucket    string
	keys                  *filter
	fromSource            string
	comment               string
}

type filter struct {
	include, exclude []string
}

type outNotify struct {
	part
	events []string
	topic  string
}

type outStage struct {
	part
	name      string
	onFailure []setting
	actions   []*outAction
}

type outAction struct {
	part
	stage     *outStage
	name      string
	provider  string
	runOrder  int
	inputs    []string
	outputs   []string
	namespace string
	timeout   string
	env       []kv
	config    []setting
	// original holds an unmappable action's CodePipeline description (type, configuration),
	// written in the comment instead of stepline keys.
	original []setting
}

func (a *outAction) id() string { return a.stage.name + "/" + a.name }

// origAction is one action of the CodePipeline pipeline and the stepline action it became.
type origAction struct {
	name     string // Stage/Action in CodePipeline
	category string
	owner    string
	provider string
	// to is the stepline action; nil for a source action (fixed says what it became) or an
	// action not imported.
	to    *outAction
	fixed string
}
