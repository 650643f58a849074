package sourcearchive

import (
	"archive/tar"
	"archive/zip"
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strings"
	"sync"
)

const (
	// sniffSize is how much of a file decides whether it is deflated or stored.
	sniffSize = 8 << 10
	// storeEntropy is the order-0 entropy, in bits per byte, from which a file is stored:
	// text and code sit near 4.5 to 6, compressed formats and random data near 8.
	storeEntropy = 7.5
	// copySize is the buffer file contents move through.
	copySize = 256 << 10
)

// Convert reads the tar.gz archive r and writes it to w as a zip, entry by entry, holding no
// file whole. With topDir, every entry must sit under one top-level directory, which is
// removed. It returns the number of entries written.
//
// An archive that cannot become a source zip is ErrInvalidArchive: not gzip or tar, a
// corrupt stream, an unsafe path ("..", absolute), an entry outside the top-level directory,
// a symbolic link with no target, or an entry that is neither a file, a directory nor a
// symbolic link. A stream cut short is io.ErrUnexpectedEOF, and a failing r's error is
// returned as it is, so a download that broke is told apart from an archive that is broken.
func Convert(ctx context.Context, w io.Writer, r io.Reader, topDir bool) (int, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return 0, readError("open the gzip stream", err)
	}
	c := &converter{topDir: topDir, sniff: make([]byte, sniffSize), buf: make([]byte, copySize)}
	c.zw = zip.NewWriter(w)
	c.zw.RegisterCompressor(zip.Deflate, fastDeflate)
	tr := tar.NewReader(gz)
	for {
		if err := ctx.Err(); err != nil {
			return c.entries, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return c.entries, readError("read the tar stream", err)
		}
		if err := c.add(hdr, tr); err != nil {
			return c.entries, err
		}
	}
	// Reading to the end checks the gzip trailer's CRC and length, which tar's end marker
	// comes before.
	if _, err := io.CopyBuffer(io.Discard, gz, c.buf); err != nil {
		return c.entries, readError("read the end of the gzip stream", err)
	}
	if err := c.zw.Close(); err != nil {
		return c.entries, fmt.Errorf("finish the zip: %w", err)
	}
	return c.entries, nil
}

// readError tells a broken archive (ErrInvalidArchive) from a broken download, which keeps
// its own error: io.ErrUnexpectedEOF, a network error, a canceled context.
func readError(what string, err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.As(err, &corrupt),
		errors.Is(err, tar.ErrHeader), errors.Is(err, tar.ErrFieldTooLong), errors.Is(err, tar.ErrInsecurePath):
		return fmt.Errorf("%w: %s: %w", ErrInvalidArchive, what, err)
	case errors.Is(err, io.EOF):
		// An empty download is not gzip at all.
		return fmt.Errorf("%w: %s: the archive is empty", ErrInvalidArchive, what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

type converter struct {
	topDir  bool
	prefix  string
	zw      *zip.Writer
	sniff   []byte
	buf     []byte
	entries int
}

// add writes one tar entry into the zip.
func (c *converter) add(hdr *tar.Header, tr io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		// git archive's pax_global_header, carrying the commit id.
		return nil
	}
	name, err := c.name(hdr.Name, hdr.Typeflag == tar.TypeDir)
	if err != nil || name == "" {
		return err
	}
	fh := &zip.FileHeader{Name: name, Method: zip.Store}
	if !hdr.ModTime.IsZero() {
		fh.Modified = hdr.ModTime.UTC()
	}
	perm := fs.FileMode(hdr.Mode).Perm()
	switch hdr.Typeflag {
	case tar.TypeDir:
		fh.Name += "/"
		fh.SetMode(fs.ModeDir | perm)
		_, err = c.zw.CreateHeader(fh)
	case tar.TypeSymlink:
		if hdr.Linkname == "" {
			return fmt.Errorf("%w: symbolic link %q has no target", ErrInvalidArchive, name)
		}
		// Info-ZIP's layout: the link's mode, and its target as the stored content.
		fh.SetMode(fs.ModeSymlink | 0o777)
		var ew io.Writer
		if ew, err = c.zw.CreateHeader(fh); err == nil {
			_, err = io.WriteString(ew, hdr.Linkname)
		}
	case tar.TypeReg:
		fh.SetMode(perm)
		err = c.file(fh, hdr.Size, tr)
	default:
		return fmt.Errorf("%w: %q is a %s, which a source archive cannot hold", ErrInvalidArchive, name, kind(hdr.Typeflag))
	}
	if err != nil {
		return err
	}
	c.entries++
	return nil
}

// file writes a regular file, deflated unless its first bytes look incompressible.
func (c *converter) file(fh *zip.FileHeader, size int64, r io.Reader) error {
	sample := c.sniff[:min(size, int64(len(c.sniff)))]
	if _, err := io.ReadFull(r, sample); err != nil {
		return readError("read "+fh.Name, err)
	}
	if len(sample) > 0 && entropy(sample) < storeEntropy {
		fh.Method = zip.Deflate
	}
	ew, err := c.zw.CreateHeader(fh)
	if err != nil {
		return err
	}
	if _, err := ew.Write(sample); err != nil {
		return err
	}
	for {
		n, rerr := r.Read(c.buf)
		if n > 0 {
			// A write error comes from the consumer of the zip (the upload gave up).
			if _, err := ew.Write(c.buf[:n]); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return readError("read "+fh.Name, rerr)
		}
	}
}

// name checks an entry's path and removes the top-level directory. It returns "" for the
// top-level directory itself.
func (c *converter) name(raw string, dir bool) (string, error) {
	n := strings.TrimSuffix(raw, "/")
	if c.topDir {
		top, rest, nested := strings.Cut(n, "/")
		switch {
		case top == "" || top == "." || top == ".." || (!nested && !dir):
			return "", fmt.Errorf("%w: entry %q has no top-level directory", ErrInvalidArchive, clip(raw))
		case c.prefix == "":
			c.prefix = top
		case top != c.prefix:
			return "", fmt.Errorf("%w: entry %q is outside the top-level directory %q", ErrInvalidArchive, clip(raw), c.prefix)
		}
		n = rest
		if n == "" {
			return "", nil
		}
	}
	if !fs.ValidPath(n) || n == "." {
		return "", fmt.Errorf("%w: entry %q has an unsafe path", ErrInvalidArchive, clip(raw))
	}
	return n, nil
}

// kind names a tar entry type in an error.
func kind(t byte) string {
	switch t {
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "named pipe"
	}
	return fmt.Sprintf("tar entry of type %q", t)
}

// entropy is the order-0 Shannon entropy of b in bits per byte, a cheap stand-in for "would
// deflate gain anything": one pass over at most sniffSize bytes and 256 table lookups.
func entropy(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	// Four tables, so that runs of one byte value do not wait on each other's increments.
	var counts [4][256]uint32
	i := 0
	for ; i+4 <= len(b); i += 4 {
		counts[0][b[i]]++
		counts[1][b[i+1]]++
		counts[2][b[i+2]]++
		counts[3][b[i+3]]++
	}
	for ; i < len(b); i++ {
		counts[0][b[i]]++
	}
	// H = log2(n) - Σ c·log2(c) / n, with c·log2(c) from a table.
	clog := cLog2C()
	var sum float64
	for v := range 256 {
		sum += clog[counts[0][v]+counts[1][v]+counts[2][v]+counts[3][v]]
	}
	n := len(b)
	return clog[n]/float64(n) - sum/float64(n)
}

// cLog2C is the table of c·log2(c) for every count a sample can have.
var cLog2C = sync.OnceValue(func() []float64 {
	t := make([]float64, sniffSize+1)
	for c := 2; c <= sniffSize; c++ {
		t[c] = float64(c) * math.Log2(float64(c))
	}
	return t
})

// deflaters recycles flate writers between entries and archives: each costs about a
// megabyte, which a repository of many small files would otherwise allocate per file.
var deflaters sync.Pool

// fastDeflate is a zip.Compressor at flate.BestSpeed, pooled as archive/zip pools its own.
func fastDeflate(w io.Writer) (io.WriteCloser, error) {
	if fw, ok := deflaters.Get().(*flate.Writer); ok {
		fw.Reset(w)
		return &pooledDeflater{fw: fw}, nil
	}
	fw, err := flate.NewWriter(w, flate.BestSpeed)
	if err != nil {
		return nil, err
	}
	return &pooledDeflater{fw: fw}, nil
}

type pooledDeflater struct{ fw *flate.Writer }

func (p *pooledDeflater) Write(b []byte) (int, error) { return p.fw.Write(b) }

func (p *pooledDeflater) Close() error {
	err := p.fw.Close()
	deflaters.Put(p.fw)
	p.fw = nil
	return err
}
