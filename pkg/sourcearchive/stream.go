package sourcearchive

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Limits and defaults of a Streamer. Memory is bounded by the part size times (concurrency
// + 2): see MemoryBound.
const (
	// MinPartSize is S3's smallest part but the last.
	MinPartSize = 5 << 20
	// MaxPartSize is S3's largest part.
	MaxPartSize = 5 << 30
	// DefaultPartSize allows objects up to 78 GiB (10,000 parts).
	DefaultPartSize = 8 << 20
	// DefaultConcurrency is the number of parts uploaded at once.
	DefaultConcurrency = 5
	// DefaultFailTimeout bounds the abort of a failed upload, which runs on a fresh
	// context so that it happens even when the caller's context is what failed.
	DefaultFailTimeout = 30 * time.Second
	// readBuffer is how much of the download one read asks for.
	readBuffer = 256 << 10
	// writeBuffer is how much of the zip goes through the pipe at once.
	writeBuffer = 1 << 20
)

// s3API is what the transfer manager needs of S3, AbortMultipartUpload included.
type s3API = transfermanager.S3APIClient

var _ s3API = (*s3.Client)(nil)

// Streamer streams commits from an Archiver into S3 as source zips. It is safe for
// concurrent use.
type Streamer struct {
	s3          s3API
	tm          *transfermanager.Client
	partSize    int64
	concurrency int
	failTimeout time.Duration
}

// Option configures a Streamer.
type Option func(*Streamer)

// WithPartSize sets the size of an upload part (default DefaultPartSize; between
// MinPartSize and MaxPartSize).
func WithPartSize(n int64) Option { return func(s *Streamer) { s.partSize = n } }

// WithConcurrency sets how many parts are uploaded at once (default DefaultConcurrency).
func WithConcurrency(n int) Option { return func(s *Streamer) { s.concurrency = n } }

// WithFailTimeout sets how long the abort of a failed upload may take (default
// DefaultFailTimeout).
func WithFailTimeout(d time.Duration) Option { return func(s *Streamer) { s.failTimeout = d } }

// New returns a Streamer uploading through client. It fails on a part size or a concurrency
// out of range.
func New(client s3API, opts ...Option) (*Streamer, error) {
	s := &Streamer{s3: client, partSize: DefaultPartSize, concurrency: DefaultConcurrency, failTimeout: DefaultFailTimeout}
	for _, o := range opts {
		o(s)
	}
	if s.partSize < MinPartSize || s.partSize > MaxPartSize {
		return nil, fmt.Errorf("part size %d is not between %d (5 MiB) and %d (5 GiB)", s.partSize, MinPartSize, int64(MaxPartSize))
	}
	if s.concurrency < 1 || s.concurrency > 64 {
		return nil, fmt.Errorf("concurrency %d is not between 1 and 64", s.concurrency)
	}
	s.tm = transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes = s.partSize
		// The first part is read whole before the upload starts; a threshold above the part
		// size would buffer more than one part.
		o.MultipartUploadThreshold = s.partSize
		o.Concurrency = s.concurrency
		o.FailTimeout = s.failTimeout
	})
	return s, nil
}

// MemoryBound is the most the part buffers take: part size × (concurrency + 2). The transfer
// manager keeps a pool of concurrency + 1 buffers, and reads the first part into one more
// before it makes the pool; that one is freed once uploaded.
func (s *Streamer) MemoryBound() int64 { return s.partSize * int64(s.concurrency+2) }

// Location is where an object goes.
type Location struct {
	Bucket string
	Key    string
}

// Result describes an uploaded source zip.
type Result struct {
	Location
	// Size is the zip's length in bytes.
	Size int64
	// Checksum is the zip's full-object CRC32 (CRC-32/ISO-HDLC, zlib's) as S3 answered the
	// upload: base64 of its 4 bytes, big-endian. S3 checked each part against the CRC the SDK
	// sent with it and combined the parts' into this one, the value `aws s3api head-object
	// --checksum-mode ENABLED` shows as ChecksumCRC32. It is empty when the store answers
	// none, as S3 stand-ins that ignore checksums do: no value is made up in its place.
	Checksum string
	// Entries counts the zip's files, directories and links.
	Entries int
}

// errUploadEnded stops a conversion whose upload no longer reads.
var errUploadEnded = errors.New("the upload stopped reading the zip")

// Stream downloads commit of repo from src and uploads it to dst as a zip. On any failure the
// multipart upload is aborted, so no parts are left behind to be billed, and the error says
// what failed first: the download (an *scm.APIError, io.ErrUnexpectedEOF, a network error),
// the archive (ErrInvalidArchive) or S3.
func (s *Streamer) Stream(parent context.Context, src Archiver, repo, commit string, dst Location) (Result, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	arc, err := src.Open(ctx, repo, commit)
	if err != nil {
		return Result{}, err
	}
	defer arc.Body.Close()
	return s.upload(parent, ctx, cancel, repo, commit, dst, func(ctx context.Context, w io.Writer) (int, error) {
		// Fewer, larger reads of the download (gzip would read it 4 KiB at a time).
		return Convert(ctx, w, bufio.NewReaderSize(arc.Body, readBuffer), arc.TopDir)
	})
}

// StreamTree walks commit of repo through src, a provider without an archive API, and uploads
// it to dst as the same zip Stream makes, with the same guarantees: bounded memory, the
// upload aborted on any failure, the first failure reported.
func (s *Streamer) StreamTree(parent context.Context, src Tree, repo, commit string, dst Location) (Result, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	return s.upload(parent, ctx, cancel, repo, commit, dst, func(ctx context.Context, w io.Writer) (int, error) {
		return ZipTree(ctx, w, src, repo, commit)
	})
}

// upload runs zip, which writes the source zip, in a goroutine, and uploads what it writes
// to dst. ctx (derived from parent, canceled by cancel) stops zip when the upload fails.
func (s *Streamer) upload(parent, ctx context.Context, cancel context.CancelFunc, repo, commit string, dst Location,
	zip func(ctx context.Context, w io.Writer) (int, error)) (Result, error) {
	pr, pw := io.Pipe()
	type converted struct {
		entries int
		err     error
	}
	done := make(chan converted, 1)
	go func() {
		// Fewer, larger hand-overs through the pipe (the zip comes in 32 KiB writes).
		out := bufio.NewWriterSize(pw, writeBuffer)
		n, err := zip(ctx, out)
		if err == nil {
			err = out.Flush()
		}
		pw.CloseWithError(err)
		done <- converted{n, err}
	}()
	zipped := &counter{r: pr}

	// The SDK computes each part's CRC32 as it sends it (hash/crc32 runs an order of magnitude
	// faster than hash/crc64 or SHA-256), S3 checks it, and the transfer manager lists the
	// parts' CRCs on completion, from which S3 combines the whole zip's (FULL_OBJECT: not a
	// CRC of the parts' CRCs): a checksum S3 vouches for, with no pass of our own over the zip.
	up, upErr := s.tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
		Bucket:            aws.String(dst.Bucket),
		Key:               aws.String(dst.Key),
		Body:              zipped,
		ContentType:       aws.String("application/zip"),
		ChecksumAlgorithm: tmtypes.ChecksumAlgorithmCrc32,
		ChecksumType:      tmtypes.ChecksumTypeFullObject,
	})
	if upErr != nil {
		cancel() // stops the download
	}
	pr.CloseWithError(errUploadEnded)
	conv := <-done

	// What failed first: after a failed upload, the conversion stops because of it (a
	// closed pipe, a canceled download), which says nothing new.
	consequence := errors.Is(conv.err, errUploadEnded) ||
		(upErr != nil && parent.Err() == nil && errors.Is(conv.err, context.Canceled))
	var err error
	switch {
	case conv.err != nil && !consequence:
		err = fmt.Errorf("archive %s at %.12s: %w", repo, commit, conv.err)
	case upErr != nil:
		err = fmt.Errorf("upload %s at %.12s to s3://%s/%s: %w", repo, commit, dst.Bucket, dst.Key, upErr)
	case conv.err != nil:
		err = fmt.Errorf("archive %s at %.12s: %w", repo, commit, conv.err)
	default:
		return Result{Location: dst, Size: zipped.n, Checksum: aws.ToString(up.ChecksumCRC32), Entries: conv.entries}, nil
	}
	if aerr := s.abort(parent, dst, upErr); aerr != nil {
		err = fmt.Errorf("%w (and the multipart upload could not be aborted: %v)", err, aerr)
	}
	return Result{}, err
}

// abort makes sure a failed multipart upload leaves no parts. The transfer manager aborts
// on its own, on a fresh context bounded by FailTimeout; this second call covers an abort
// that failed, and answers NoSuchUpload when the first one worked.
func (s *Streamer) abort(ctx context.Context, dst Location, upErr error) error {
	var mpu transfermanager.MultipartUploadError
	if !errors.As(upErr, &mpu) || mpu.UploadID() == "" {
		return nil
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.failTimeout)
	defer cancel()
	_, err := s.s3.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(dst.Bucket), Key: aws.String(dst.Key), UploadId: aws.String(mpu.UploadID()),
	})
	if ae := smithy.APIError(nil); err == nil || errors.As(err, &ae) && ae.ErrorCode() == "NoSuchUpload" {
		return nil
	}
	return fmt.Errorf("upload %s: %w", mpu.UploadID(), err)
}

// counter counts what is read through it.
type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}
