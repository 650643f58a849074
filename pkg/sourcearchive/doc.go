// Package sourcearchive turns a commit of a repository into the zip CodeBuild reads as its
// source, streamed from the provider into S3 without holding any file whole.
//
// The provider's tar.gz archive of the commit is downloaded (a zip could not be streamed:
// its directory is at its end), converted entry by entry into a zip through an io.Pipe, and
// uploaded in parts by the S3 transfer manager, with a full-object CRC32 that the SDK
// computes per part and S3 checks (see Result.Checksum). Memory is bounded by the part size
// times (workers + 2) (the transfer manager's pool of workers + 1 part buffers, and the
// first part, read before the pool exists and freed once uploaded), plus about 2 MiB of fixed
// buffers and the zip's central directory, which grows by about 200 bytes and the path per
// entry (some 25 MiB for 100,000 files), never with the size of a file.
//
// The zip is laid out as Info-ZIP lays it out and as pkg/artifact writes local artifacts:
// paths at the root (the top-level directory GitHub and Bitbucket Cloud add is removed), one
// entry per directory, Unix modes in the external attributes (so executables stay
// executable), and symbolic links stored as links, whose content is the target, exactly as
// git stores them. Files whose first 8 KiB look incompressible (images, archives, binaries)
// are stored, the rest deflated at the fastest level: the stream is bound by CPU, and the
// zip only travels inside one region.
//
// Providers: GitHub (and GitHub Enterprise Server), Bitbucket Cloud and Bitbucket Data
// Center, each behind Archiver. AWS CodeCommit has no archive API: CodeCommit (a Tree) reads
// the commit one directory (GetFolder) and one blob (GetBlob) at a time, and ZipTree writes
// the same zip from that walk, reading a bounded number of blobs at once (StreamTree).
package sourcearchive
