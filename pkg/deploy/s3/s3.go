// Package s3 is the s3 deploy provider: an input artifact unpacked into a bucket prefix, each
// file with its content type (or, with extract: false, the artifact written as one object),
// optionally deleting the keys under the prefix the artifact no longer holds. It finishes
// within Start: there is nothing to wait for.
package s3

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/stepline/stepline/pkg/artifact"
	"github.com/stepline/stepline/pkg/deploy"
)

// Name is the provider's name in pipeline files and in Wait.Provider.
const Name = "s3"

// Defaults of a Provider (WithConcurrency, WithSmallObject).
const (
	DefaultConcurrency = 8
	// DefaultSmallObject is the largest file read whole and sent with one PutObject; larger
	// ones go through the transfer manager in parts of this size.
	DefaultSmallObject = 5 << 20
)

// API is what the provider needs of S3, with the SDK's signatures: the transfer manager's
// calls (PutObject and the multipart ones) plus listing and deleting for delete_removed.
// *s3.Client is one.
type API interface {
	transfermanager.S3APIClient
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
}

var _ API = (*s3.Client)(nil)

// ZipArtifact is an input artifact the provider can unpack: its zip read at random, so only
// the central directory and the files being uploaded are in memory, whatever the artifact's
// size. An artifact on disk is an *os.File; one in S3 can be a downloaded temporary file.
type ZipArtifact interface {
	deploy.Artifact
	// Zip returns the artifact's zip and its size in bytes.
	Zip(ctx context.Context) (io.ReaderAt, int64, error)
}

// Provider deploys artifacts to S3.
type Provider struct {
	api         API
	tm          *transfermanager.Client
	concurrency int
	small       int64
	limits      []artifact.Option
	now         func() time.Time
}

var _ deploy.Provider = (*Provider)(nil)

// Option configures a Provider.
type Option func(*Provider)

// WithConcurrency sets how many files are uploaded at once (default DefaultConcurrency).
func WithConcurrency(n int) Option { return func(p *Provider) { p.concurrency = max(1, n) } }

// WithSmallObject sets the size up to which a file is sent in one PutObject, and the part
// size of larger ones (default DefaultSmallObject, at least S3's 5 MiB part minimum).
func WithSmallObject(n int64) Option { return func(p *Provider) { p.small = max(5<<20, n) } }

// WithLimits bounds what an artifact may unpack to (default artifact.DefaultLimits).
func WithLimits(opts ...artifact.Option) Option { return func(p *Provider) { p.limits = opts } }

// WithClock sets the clock Wait.Started reads.
func WithClock(now func() time.Time) Option { return func(p *Provider) { p.now = now } }

// New returns a Provider writing through api. Memory is bounded by about concurrency × 3 ×
// the small-object size: a small file is one buffer, a large one the transfer manager's
// part buffers (one part at a time per file).
func New(api API, opts ...Option) *Provider {
	p := &Provider{api: api, concurrency: DefaultConcurrency, small: DefaultSmallObject, now: time.Now}
	for _, o := range opts {
		o(p)
	}
	p.tm = transfermanager.New(api, func(o *transfermanager.Options) {
		o.PartSizeBytes = p.small
		o.MultipartUploadThreshold = p.small
		o.Concurrency = 1
	})
	return p
}

// ErrConfig marks an action that cannot deploy as configured (a key climbing out of its
// prefix, an entry named with "..", no input): retrying cannot help.
var ErrConfig = errors.New("invalid s3 action")

// config is an action's configuration, read from Request.Config.
type config struct {
	bucket        string
	key           string
	extract       bool
	deleteRemoved bool
}

func readConfig(c map[string]any) (config, error) {
	cfg := config{extract: true}
	cfg.bucket, _ = c["bucket"].(string)
	cfg.key, _ = c["key"].(string)
	if v, ok := c["extract"].(bool); ok {
		cfg.extract = v
	}
	cfg.deleteRemoved, _ = c["delete_removed"].(bool)
	if cfg.bucket == "" {
		return config{}, fmt.Errorf("%w: bucket is required", ErrConfig)
	}
	if cfg.key != "" {
		clean, err := artifact.EntryName(cfg.key)
		if err != nil || clean == "." || strings.HasPrefix(cfg.key, "/") {
			return config{}, fmt.Errorf("%w: key %q must be a relative path without \"..\" or backslashes", ErrConfig, cfg.key)
		}
		cfg.key = clean
	}
	if !cfg.extract {
		if cfg.key == "" {
			return config{}, fmt.Errorf("%w: extract: false needs key, the object to write", ErrConfig)
		}
		if cfg.deleteRemoved {
			return config{}, fmt.Errorf("%w: delete_removed needs extract: true (it deletes what an unpacked artifact no longer holds)", ErrConfig)
		}
	}
	return cfg, nil
}

// prefix is where files of an unpacked artifact go: the key as a folder ("" is the bucket's
// root).
func (c config) prefix() string {
	if c.key == "" {
		return ""
	}
	return c.key + "/"
}

// Start writes the request's one input artifact to the bucket and returns a finished Wait.
func (p *Provider) Start(ctx context.Context, req deploy.Request) (deploy.Wait, error) {
	cfg, err := readConfig(req.Config)
	if err != nil {
		return deploy.Wait{}, err
	}
	if len(req.Inputs) != 1 {
		return deploy.Wait{}, fmt.Errorf("%w: an s3 action deploys exactly one input artifact, found %d", ErrConfig, len(req.Inputs))
	}
	var name string
	var in deploy.Artifact
	for n, a := range req.Inputs {
		name, in = n, a
	}
	za, ok := in.(ZipArtifact)
	if !ok {
		return deploy.Wait{}, fmt.Errorf("input artifact %s cannot be read as a zip (%T)", name, in)
	}
	ra, size, err := za.Zip(ctx)
	if err != nil {
		return deploy.Wait{}, fmt.Errorf("open input artifact %s: %w", name, err)
	}
	w := deploy.Wait{Provider: Name, Key: "s3://" + cfg.bucket + "/" + cfg.key, Resource: "arn:aws:s3:::" + cfg.bucket, Done: true, Started: p.now()}
	if !cfg.extract {
		w.What = fmt.Sprintf("artifact %s written to s3://%s/%s", name, cfg.bucket, cfg.key)
		if err := p.put(ctx, cfg.bucket, cfg.key, "application/zip", io.NewSectionReader(ra, 0, size), size); err != nil {
			return deploy.Wait{}, err
		}
		w.Outcome = deploy.Outcome{Done: true, Succeeded: true, Message: fmt.Sprintf("wrote s3://%s/%s (%d bytes)", cfg.bucket, cfg.key, size)}
		return w, nil
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return deploy.Wait{}, fmt.Errorf("%w: input artifact %s is not a zip: %v", ErrConfig, name, err)
	}
	if err := artifact.CheckEntries(zr.File, p.limits...); err != nil {
		return deploy.Wait{}, fmt.Errorf("%w: input artifact %s: %w", ErrConfig, name, err)
	}
	files, err := entries(zr, cfg.prefix())
	if err != nil {
		return deploy.Wait{}, fmt.Errorf("%w: input artifact %s: %w", ErrConfig, name, err)
	}
	w.What = fmt.Sprintf("artifact %s unpacked into s3://%s/%s", name, cfg.bucket, cfg.prefix())
	if err := p.upload(ctx, cfg.bucket, files); err != nil {
		return deploy.Wait{}, err
	}
	msg := fmt.Sprintf("wrote %d files to s3://%s/%s", len(files), cfg.bucket, cfg.prefix())
	if cfg.deleteRemoved {
		n, err := p.deleteRemoved(ctx, cfg.bucket, cfg.prefix(), files)
		if err != nil {
			return deploy.Wait{}, err
		}
		msg += fmt.Sprintf(", deleted %d no longer in the artifact", n)
	}
	w.Outcome = deploy.Outcome{Done: true, Succeeded: true, Message: msg}
	return w, nil
}

// Poll returns the outcome Start reached: an s3 deploy is always finished by then.
func (p *Provider) Poll(_ context.Context, w deploy.Wait) (deploy.Outcome, error) {
	if !w.Done {
		return deploy.Outcome{}, fmt.Errorf("an s3 deploy finishes within Start; wait %q is not finished", w.Key)
	}
	return w.Outcome, nil
}

// file is one entry of the artifact and the key it goes to.
type file struct {
	zf  *zip.File
	key string
}

// entries lists the regular files of the zip with their keys under prefix. A name that would
// leave the prefix ("..", an absolute path, a backslash) refuses the whole artifact, as does a
// symbolic link, which S3 cannot hold.
func entries(zr *zip.Reader, prefix string) (map[string]file, error) {
	out := make(map[string]file, len(zr.File))
	for _, zf := range zr.File {
		name, err := artifact.EntryName(zf.Name)
		if err != nil {
			return nil, err
		}
		mode := zf.Mode()
		if mode.IsDir() || strings.HasSuffix(zf.Name, "/") {
			continue
		}
		if mode&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("entry %q is a symbolic link, which an S3 bucket cannot hold", zf.Name)
		}
		key := prefix + name
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("entry %q appears twice", zf.Name)
		}
		out[key] = file{zf: zf, key: key}
	}
	return out, nil
}

// upload writes files, at most concurrency at once; the first failure stops the others.
func (p *Provider) upload(parent context.Context, bucket string, files map[string]file) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		sem   = make(chan struct{}, p.concurrency)
	)
	fail := func(err error) {
		once.Do(func() { first = err; cancel() })
	}
	for _, f := range files {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := p.uploadFile(ctx, bucket, f); err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return parent.Err()
}

func (p *Provider) uploadFile(ctx context.Context, bucket string, f file) error {
	rc, err := f.zf.Open()
	if err != nil {
		return fmt.Errorf("%w: read entry %q: %v", ErrConfig, f.zf.Name, err)
	}
	defer rc.Close()
	size := int64(f.zf.UncompressedSize64)
	var body io.Reader = rc
	if size <= p.small {
		// Read whole, so PutObject gets a seekable body it can sign and size.
		buf, err := io.ReadAll(rc)
		if err != nil {
			return fmt.Errorf("%w: read entry %q: %v", ErrConfig, f.zf.Name, err)
		}
		body = bytes.NewReader(buf)
	}
	return p.put(ctx, bucket, f.key, ContentType(f.key), body, size)
}

// put writes one object: a seekable body of at most the small-object size with PutObject,
// anything else in parts through the transfer manager.
func (p *Provider) put(ctx context.Context, bucket, key, contentType string, body io.Reader, size int64) error {
	var err error
	if rs, ok := body.(io.ReadSeeker); ok && size <= p.small {
		_, err = p.api.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: rs, ContentLength: aws.Int64(size), ContentType: aws.String(contentType)})
	} else {
		// Hide Seek: the transfer manager then reads the body once, part by part.
		_, err = p.tm.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: struct{ io.Reader }{body}, ContentType: aws.String(contentType)})
	}
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// deleteRemoved deletes the keys under prefix that are not in keep, after every upload
// succeeded, so the site never lacks a file it links to; it returns how many it deleted.
func (p *Provider) deleteRemoved(ctx context.Context, bucket, prefix string, keep map[string]file) (int, error) {
	var gone []s3types.ObjectIdentifier
	pages := s3.NewListObjectsV2Paginator(p.api, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			if _, ok := keep[aws.ToString(o.Key)]; !ok {
				gone = append(gone, s3types.ObjectIdentifier{Key: o.Key})
			}
		}
	}
	// DeleteObjects takes at most 1,000 keys a call.
	// https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
	for batch := range slices.Chunk(gone, 1000) {
		out, err := p.api.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &s3types.Delete{Objects: batch, Quiet: aws.Bool(true)}})
		if err != nil {
			return 0, fmt.Errorf("delete removed files from s3://%s/%s: %w", bucket, prefix, err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return 0, fmt.Errorf("delete s3://%s/%s: %s: %s (and %d more)", bucket, aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message), len(out.Errors)-1)
		}
	}
	return len(gone), nil
}

// contentTypes are the types Go's table lacks or that a system's mime.types may name
// differently (application/x-javascript, say): a site's files get the same type everywhere.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".json":        "application/json",
	".map":         "application/json",
	".svg":         "image/svg+xml",
	".wasm":        "application/wasm",
	".webmanifest": "application/manifest+json",
}

// ContentType is the Content-Type a file is written with, by its extension (case-insensitive);
// application/octet-stream when nothing knows it.
func ContentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}
