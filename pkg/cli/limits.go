package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stepline/stepline/pkg/artifact"
)

// addExtractFlags registers the flags that bound every artifact extraction of a local run
// (artifact.Limits), with artifact.DefaultLimits as defaults.
func addExtractFlags(f *pflag.FlagSet, l *artifact.Limits) {
	*l = artifact.DefaultLimits
	f.Var((*byteSize)(&l.Size), "max-extract-size", "the most an artifact may hold once unpacked (bytes, or with KiB, MiB, GiB; 0: no limit)")
	f.IntVar(&l.Entries, "max-extract-entries", l.Entries, "the most files, directories and links an artifact may hold (0: no limit)")
	f.IntVar(&l.Ratio, "max-extract-ratio", l.Ratio, "the most an artifact, or one of its files past 1 MiB, may expand over its compressed size (0: no limit)")
}

// byteSize is a flag holding a number of bytes, written plainly or with a binary unit.
type byteSize int64

var units = []struct {
	suffix string
	mult   int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

func (b *byteSize) String() string {
	for _, u := range units {
		if int64(*b) != 0 && int64(*b)%u.mult == 0 {
			return strconv.FormatInt(int64(*b)/u.mult, 10) + u.suffix
		}
	}
	return "0"
}

func (b *byteSize) Set(s string) error {
	num, mult := s, int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return fmt.Errorf("%q is not a size: want bytes, or a number with KiB, MiB or GiB", s)
	}
	*b = byteSize(n * mult)
	return nil
}

func (b *byteSize) Type() string { return "size" }
