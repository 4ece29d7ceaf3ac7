package s3

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/rclone/gofakes3"

	"lambdalab/cloud/sigv4"
)

// The payload hashes that announce an aws-chunked body
// (reference/aws-clients.md, "S3 uploads on the wire").
const (
	streamingSigned        = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsigned      = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// maxChunk caps one chunk of a signed aws-chunked body, which is held
// whole while its signature is checked. The SDKs send 64 KiB chunks; the
// largest any client documents is 8 MiB.
const maxChunk = 16 << 20

// checkedBody is a request body on its way to the backend, checked as it
// streams: the hex x-amz-content-sha256, the length the client declared,
// and for aws-chunked bodies every chunk signature and the trailing
// checksum. Errors come out of Read as S3 errors; finish reports the checks
// that can only be made at the end. The backend commits a write only after
// finish returns nil, so a body that fails any check leaves nothing behind.
type checkedBody struct {
	r       io.Reader
	n       int64 // bytes of payload delivered
	want    int64 // declared payload length; -1 when unknown
	sha     hash.Hash
	wantSHA []byte
	chunked *chunkDecoder
	done    bool
	err     error
}

// newCheckedBody prepares r's body for streaming and rewrites r's headers
// to describe the decoded payload, as the protocol library expects. chunks
// checks the signatures of a signed aws-chunked body; nil skips them (the
// calls from inside an instance, whose signatures prove nothing).
func newCheckedBody(r *http.Request, chunks *sigv4.ChunkSigner) (*checkedBody, error) {
	b := &checkedBody{r: r.Body, want: r.ContentLength}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	switch payload {
	case streamingSigned, streamingSignedTrailer, streamingUnsigned:
		n, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
		if err != nil || n < 0 {
			return nil, gofakes3.ErrMissingContentLength
		}
		b.want = n
		dec := &chunkDecoder{br: bufio.NewReaderSize(r.Body, 64<<10), signed: payload != streamingUnsigned}
		if dec.signed {
			dec.signer = chunks
		}
		if payload != streamingSigned {
			if err := dec.expectTrailer(r.Header.Get("X-Amz-Trailer")); err != nil {
				return nil, err
			}
		}
		b.chunked, b.r = dec, dec
		// The library must see a plain body of the decoded length.
		r.Header.Set("X-Amz-Content-Sha256", sigv4.UnsignedPayload)
		r.Header.Del("X-Amz-Decoded-Content-Length")
		r.Header.Set("Content-Length", strconv.FormatInt(n, 10))
		r.ContentLength = n
	case "", sigv4.UnsignedPayload:
	default:
		if strings.HasPrefix(payload, "STREAMING-") {
			return nil, gofakes3.ErrorMessage(gofakes3.ErrNotImplemented, "lambdalab does not verify "+payload+" bodies; sign with SigV4 or send UNSIGNED-PAYLOAD")
		}
		sum, err := hex.DecodeString(payload)
		if err != nil || len(sum) != sha256.Size {
			return nil, errCode("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-... or a SHA-256 in hex")
		}
		b.sha, b.wantSHA = sha256.New(), sum
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" {
		if v := removeToken(enc, "aws-chunked"); v != "" {
			r.Header.Set("Content-Encoding", v)
		} else {
			r.Header.Del("Content-Encoding")
		}
	}
	return b, nil
}

func (b *checkedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.sha != nil {
		b.sha.Write(p[:n])
	}
	if b.want >= 0 && b.n > b.want {
		return n, b.fail(gofakes3.ErrorMessage(gofakes3.ErrIncompleteBody, "The request body is longer than the declared length."))
	}
	switch {
	case err == io.EOF:
		b.done = true
	case err != nil:
		return n, b.fail(bodyError(err))
	}
	return n, err
}

func (b *checkedBody) fail(err error) error {
	if b.err == nil {
		b.err = err
	}
	return b.err
}

// finish reads what is left of the body (the end of an aws-chunked body:
// its final chunk and trailer) and makes the checks that need all of it.
// It returns the trailing checksum headers of an aws-chunked body, by
// canonical name, for the caller to store as if they had been headers.
func (b *checkedBody) finish() (map[string]string, error) {
	if b.err != nil {
		return nil, b.err
	}
	if !b.done {
		var buf [512]byte
		for {
			_, err := b.Read(buf[:])
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
		}
	}
	if b.want >= 0 && b.n != b.want {
		return nil, b.fail(gofakes3.ErrorMessage(gofakes3.ErrIncompleteBody, "You did not provide the number of bytes specified by the Content-Length HTTP header."))
	}
	if b.sha != nil && !bytes.Equal(b.sha.Sum(nil), b.wantSHA) {
		return nil, b.fail(errCode("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."))
	}
	if b.chunked != nil {
		return b.chunked.trailers, nil
	}
	return nil, nil
}

// bodyError turns a failure to read the request body into S3's answer.
func bodyError(err error) error {
	var se interface{ ErrorCode() gofakes3.ErrorCode }
	if errors.As(err, &se) {
		return err
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return gofakes3.ErrEntityTooLarge
	}
	return gofakes3.ErrorMessage(gofakes3.ErrIncompleteBody, "The request body ended before the declared length: "+err.Error())
}

// chunkDecoder decodes an aws-chunked body:
//
//	hex-size[;chunk-signature=sig] CRLF data CRLF ... 0[;chunk-signature=sig] CRLF [trailers CRLF] CRLF
//
// checking each chunk's signature (signed forms) and, at the end, the
// trailing checksum against the decoded data.
type chunkDecoder struct {
	br     *bufio.Reader
	signed bool
	signer *sigv4.ChunkSigner // nil: signatures not checked

	remain int64  // bytes left in the current chunk
	chunk  []byte // the current signed chunk, held whole
	off    int
	sig    string
	first  bool // a chunk has been read (its CRLF is pending)
	eof    bool

	trailerName string // canonical x-amz-checksum-* header expected in the trailer
	algorithm   string
	sum         hash.Hash
	trailers    map[string]string
}

// checksumHashes are the algorithms of the x-amz-checksum-* headers.
var checksumHashes = map[string]func() hash.Hash{
	"crc32":     func() hash.Hash { return crc32.NewIEEE() },
	"crc32c":    func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
	"crc64nvme": func() hash.Hash { return crc64.New(crc64.MakeTable(0x9a6c9329ac4bc9b5)) },
	"sha1":      sha1.New,
	"sha256":    sha256.New,
}

func (d *chunkDecoder) expectTrailer(names string) error {
	for name := range strings.SplitSeq(names, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		alg, ok := strings.CutPrefix(name, "x-amz-checksum-")
		newHash := checksumHashes[alg]
		if !ok || newHash == nil || d.sum != nil {
			return errCode("InvalidRequest", "The value specified in the x-amz-trailer header is not supported")
		}
		d.trailerName, d.algorithm, d.sum = http.CanonicalHeaderKey(name), alg, newHash()
	}
	return nil
}

func (d *chunkDecoder) Read(p []byte) (int, error) {
	for {
		if d.eof {
			return 0, io.EOF
		}
		if d.chunk != nil && d.off < len(d.chunk) {
			n := copy(p, d.chunk[d.off:])
			d.off += n
			return n, nil
		}
		if !d.signed && d.remain > 0 {
			if int64(len(p)) > d.remain {
				p = p[:d.remain]
			}
			n, err := d.br.Read(p)
			d.remain -= int64(n)
			if d.sum != nil {
				d.sum.Write(p[:n])
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		if err := d.next(); err != nil {
			return 0, err
		}
	}
}

// next reads the next chunk header (and for signed bodies the whole chunk,
// checking its signature); at the final chunk it reads and checks the
// trailer and sets eof.
func (d *chunkDecoder) next() error {
	if d.first {
		if err := d.crlf(); err != nil {
			return err
		}
	}
	d.first = true
	line, err := d.line()
	if err != nil {
		return err
	}
	sizeText, ext, _ := strings.Cut(line, ";")
	size, err := strconv.ParseInt(strings.TrimSpace(sizeText), 16, 64)
	if err != nil || size < 0 {
		return malformedChunk("bad chunk size")
	}
	d.sig = ""
	if d.signed {
		sig, ok := strings.CutPrefix(ext, "chunk-signature=")
		if !ok {
			return malformedChunk("missing chunk-signature")
		}
		d.sig = sig
		if size > maxChunk {
			return malformedChunk("chunk larger than 16 MiB")
		}
		buf := make([]byte, size)
		if _, err := io.ReadFull(d.br, buf); err != nil {
			return bodyError(io.ErrUnexpectedEOF)
		}
		if d.signer != nil {
			if err := d.signer.VerifyChunk(d.sig, buf); err != nil {
				return fromSigv4(err)
			}
		}
		if d.sum != nil {
			d.sum.Write(buf)
		}
		d.chunk, d.off = buf, 0
	} else {
		d.remain = size
	}
	if size == 0 {
		return d.end()
	}
	return nil
}

// end reads the trailer after the final chunk.
func (d *chunkDecoder) end() error {
	var canonical []byte
	trailerSig := ""
	for {
		line, err := d.line()
		if err != nil {
			return err
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return malformedChunk("bad trailer line")
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if name == "x-amz-trailer-signature" {
			trailerSig = value
			continue
		}
		if d.trailers == nil {
			d.trailers = map[string]string{}
		}
		d.trailers[http.CanonicalHeaderKey(name)] = value
		canonical = append(canonical, name+":"+value+"\n"...)
	}
	if d.signed && d.signer != nil && d.trailerName != "" {
		if err := d.signer.VerifyTrailer(trailerSig, canonical); err != nil {
			return fromSigv4(err)
		}
	}
	if d.sum != nil {
		got := d.trailers[d.trailerName]
		want, err := base64.StdEncoding.DecodeString(got)
		if got == "" || err != nil {
			return errCode("InvalidRequest", "The trailer "+strings.ToLower(d.trailerName)+" announced in x-amz-trailer is missing or malformed")
		}
		if !bytes.Equal(d.sum.Sum(nil), want) {
			return gofakes3.ErrorMessagef(gofakes3.ErrBadDigest, "The %s you specified did not match the calculated checksum.", strings.ToUpper(d.algorithm))
		}
	}
	d.eof = true
	return nil
}

func (d *chunkDecoder) line() (string, error) {
	line, err := d.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return "", malformedChunk("line too long")
	}
	if err != nil {
		return "", bodyError(io.ErrUnexpectedEOF)
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

func (d *chunkDecoder) crlf() error {
	line, err := d.line()
	if err != nil {
		return err
	}
	if line != "" {
		return malformedChunk("chunk longer than its size")
	}
	return nil
}

func malformedChunk(why string) error {
	return errCode("IncompleteBody", "The aws-chunked body is malformed: "+why)
}

// removeToken removes token from a comma-separated header value.
func removeToken(v, token string) string {
	var out []string
	for t := range strings.SplitSeq(v, ",") {
		if t = strings.TrimSpace(t); t != "" && !strings.EqualFold(t, token) {
			out = append(out, t)
		}
	}
	return strings.Join(out, ", ")
}
