// Package s3artifact is the deploy.Artifact of an input artifact kept in S3 as a zip: a deploy
// provider reads one file of it (imagedefinitions.json, taskdef.json, a template) without
// downloading the whole artifact. The zip is read through an io.ReaderAt whose reads are
// ranged GetObject calls (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html,
// Range), so only the zip's directory and the one file's bytes travel, a block at a time.
package s3artifact

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stepline/stepline/pkg/deploy"
)

// ObjectReader is the part of the S3 API the artifact calls; *s3.Client is one
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html and GetObject).
type ObjectReader interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

var _ ObjectReader = (*s3.Client)(nil)

// Defaults: a block is what one GetObject fetches (the zip's readers ask for 4 KiB at a time);
// a file larger than MaxFile is refused rather than held in memory.
const (
	DefaultBlock   = 1 << 20
	DefaultMaxFile = deploy.MaxFile
)

// Artifact is a zip in S3.
type Artifact struct {
	client  ObjectReader
	loc     deploy.Location
	block   int64
	maxFile int64
}

var _ deploy.Artifact = (*Artifact)(nil)

// Option changes an Artifact.
type Option func(*Artifact)

// WithBlock sets how many bytes one ranged GetObject fetches (at least 512).
func WithBlock(n int64) Option { return func(a *Artifact) { a.block = max(n, 512) } }

// WithMaxFile sets the largest file ReadFile returns.
func WithMaxFile(n int64) Option { return func(a *Artifact) { a.maxFile = n } }

// New returns the artifact at loc.
func New(client ObjectReader, loc deploy.Location, opts ...Option) *Artifact {
	a := &Artifact{client: client, loc: loc, block: DefaultBlock, maxFile: DefaultMaxFile}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Location is where the artifact is.
func (a *Artifact) Location() deploy.Location { return a.loc }

// ReadFile returns one file of the zip, by its slash-separated path. A missing file is an
// error that wraps fs.ErrNotExist and names the files the artifact has.
func (a *Artifact) ReadFile(ctx context.Context, name string) ([]byte, error) {
	where := fmt.Sprintf("artifact s3://%s/%s", a.loc.Bucket, a.loc.Key)
	head, err := a.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(a.loc.Bucket), Key: aws.String(a.loc.Key)})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	r := &rangeReader{ctx: ctx, a: a, size: aws.ToInt64(head.ContentLength), etag: aws.ToString(head.ETag)}
	zr, err := zip.NewReader(r, r.size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, errors.Join(r.err, err))
	}
	b, err := deploy.ReadZipEntry(zr, name, a.maxFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, errors.Join(r.err, err))
	}
	return b, nil
}

// Zip returns the whole zip as an io.ReaderAt whose reads are ranged GetObject calls, and its
// size, for the s3 provider (pkg/deploy/s3), which unpacks every file: only the blocks read
// travel, and the object is never held whole. Reads use ctx.
func (a *Artifact) Zip(ctx context.Context) (io.ReaderAt, int64, error) {
	head, err := a.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(a.loc.Bucket), Key: aws.String(a.loc.Key)})
	if err != nil {
		return nil, 0, fmt.Errorf("artifact s3://%s/%s: %w", a.loc.Bucket, a.loc.Key, err)
	}
	r := &rangeReader{ctx: ctx, a: a, size: aws.ToInt64(head.ContentLength), etag: aws.ToString(head.ETag)}
	return r, r.size, nil
}

// rangeReader reads the object with ranged GetObject calls of one block each, keeping the last
// block, and asks for the ETag HeadObject saw so a replaced object fails instead of mixing.
type rangeReader struct {
	ctx   context.Context
	a     *Artifact
	size  int64
	etag  string
	start int64
	buf   []byte
	err   error
}

// ReadAt implements io.ReaderAt.
func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= r.size {
			return n, io.EOF
		}
		if r.buf == nil || pos < r.start || pos >= r.start+int64(len(r.buf)) {
			if err := r.fetch(pos - pos%r.a.block); err != nil {
				return n, err
			}
		}
		n += copy(p[n:], r.buf[pos-r.start:])
	}
	return n, nil
}

func (r *rangeReader) fetch(start int64) error {
	end := min(start+r.a.block, r.size) - 1
	in := &s3.GetObjectInput{
		Bucket: aws.String(r.a.loc.Bucket),
		Key:    aws.String(r.a.loc.Key),
		Range:  aws.String(fmt.Sprintf("bytes=%d-%d", start, end)),
	}
	if r.etag != "" {
		in.IfMatch = aws.String(r.etag)
	}
	out, err := r.a.client.GetObject(r.ctx, in)
	if err != nil {
		r.err = fmt.Errorf("get bytes %d-%d: %w", start, end, err)
		return r.err
	}
	defer out.Body.Close()
	buf := make([]byte, end-start+1)
	if _, err := io.ReadFull(out.Body, buf); err != nil {
		r.err = fmt.Errorf("get bytes %d-%d: %w", start, end, err)
		return r.err
	}
	r.start, r.buf = start, buf
	return nil
}
