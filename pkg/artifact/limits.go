package artifact

import (
	"archive/zip"
	"errors"
	"fmt"
)

// Limits bounds what one extraction may write, so a small archive cannot fill the disk (a 1 MB
// zip of zeros expands to 1 GiB) or the inode table. A zero or negative field turns that check
// off. The defaults are DefaultLimits.
type Limits struct {
	// Size is the most bytes all the files together may hold once extracted.
	Size int64
	// Entries is the most entries (files, directories, links) an archive may hold.
	Entries int
	// Ratio is the most an entry, or the archive as a whole, may expand: extracted bytes over
	// compressed bytes. It is checked only past ratioFloor extracted bytes, where a tiny file's
	// header overhead makes any ratio meaningless.
	Ratio int
}

// DefaultLimits are generous for a repository or a build's output and stop a zip bomb: 8 GiB,
// 200,000 entries, and 100 times the compressed size (the inflate ratio below which Apache POI
// refuses a document as a zip bomb; ordinary source and binaries compress 2 to 10 times,
// deflate's own ceiling is about 1,032).
var DefaultLimits = Limits{Size: 8 << 30, Entries: 200_000, Ratio: 100}

// ratioFloor is the extracted size below which the ratio is not checked.
const ratioFloor = 1 << 20

// Option changes how an archive is extracted.
type Option func(*Limits)

// WithLimits replaces the default limits.
func WithLimits(l Limits) Option {
	return func(dst *Limits) { *dst = l }
}

func limitsOf(opts []Option) Limits {
	l := DefaultLimits
	for _, o := range opts {
		o(&l)
	}
	return l
}

// ErrLimit marks an archive refused by a Limits check. Retrying cannot fix it, so callers can
// report the action's failure as final; the message says which limit and how to raise it.
var ErrLimit = errors.New("over an extraction limit")

// checkLimits refuses an archive from its central directory, before anything is written. The
// sizes it reads are the ones archive/zip then enforces while inflating: an entry that inflates
// past its recorded size fails with zip.ErrFormat, so the recorded sizes bound what is written.
func checkLimits(files []*zip.File, l Limits) error {
	if l.Entries > 0 && len(files) > l.Entries {
		return fmt.Errorf("%d entries, more than the limit of %d (Limits.Entries): %w", len(files), l.Entries, ErrLimit)
	}
	var total, packed uint64
	for _, f := range files {
		total += f.UncompressedSize64
		packed += f.CompressedSize64
		if l.Size > 0 && total > uint64(l.Size) {
			return fmt.Errorf("expands to more than the limit of %d bytes (Limits.Size) by entry %q: %w", l.Size, f.Name, ErrLimit)
		}
		if err := checkRatio(fmt.Sprintf("entry %q", f.Name), f.UncompressedSize64, f.CompressedSize64, l.Ratio); err != nil {
			return err
		}
	}
	return checkRatio("the archive", total, packed, l.Ratio)
}

func checkRatio(what string, size, packed uint64, ratio int) error {
	if ratio <= 0 || size <= ratioFloor || size <= uint64(ratio)*packed {
		return nil
	}
	return fmt.Errorf("%s expands %d bytes to %d, more than %d times (Limits.Ratio): %w", what, packed, size, ratio, ErrLimit)
}
