package artifact

import "archive/zip"

// CheckEntries refuses an archive from its central directory as Unzip does, before anything
// is read: too many entries, too large once extracted, or expanding too much (opts, else
// DefaultLimits). For code that unpacks somewhere other than a directory (an S3 prefix).
func CheckEntries(files []*zip.File, opts ...Option) error {
	return checkLimits(files, limitsOf(opts))
}

// EntryName validates an entry's name as Unzip does (ErrUnsafe for an absolute name, one
// climbing out with "..", or one holding a backslash) and returns it cleaned, without a
// trailing slash; "." names the root itself.
func EntryName(raw string) (string, error) {
	return entryName(raw)
}
