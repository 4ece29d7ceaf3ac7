package s3_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestPresigned(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	a := w.account()
	c := w.client(a)
	mkBucket(t, c, "share")
	body := []byte("presigned body")
	pc := s3.NewPresignClient(c)

	pput := must[*v4.PresignedHTTPRequest](t, "PresignPutObject")(pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("share"), Key: aws.String("up load.txt")}))
	req, _ := http.NewRequest(pput.Method, pput.URL, bytes.NewReader(body))
	for k, vs := range pput.SignedHeader {
		if k != "Host" {
			req.Header[k] = vs
		}
	}
	resp := must[*http.Response](t, "presigned PUT")(http.DefaultClient.Do(req))
	if resp.StatusCode != 200 {
		t.Fatalf("presigned PUT: %d %s", resp.StatusCode, readAll(t, resp.Body))
	}
	resp.Body.Close()

	pget := must[*v4.PresignedHTTPRequest](t, "PresignGetObject")(pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("share"), Key: aws.String("up load.txt")}))
	resp = must[*http.Response](t, "presigned GET")(http.Get(pget.URL))
	if got := readAll(t, resp.Body); resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Errorf("presigned GET: %d %q", resp.StatusCode, got)
	}
	// A tampered presigned URL is refused.
	resp = must[*http.Response](t, "tampered GET")(http.Get(strings.Replace(pget.URL, "up%20load", "up%20loaf", 1)))
	if got := readAll(t, resp.Body); resp.StatusCode != 403 || xmlCode(got) != "SignatureDoesNotMatch" {
		t.Errorf("tampered presigned GET: %d %s", resp.StatusCode, got)
	}

	// SigV2 query authentication, as boto3 presigns in us-east-1: HMAC-SHA1
	// over "GET\n\n\n<expires>\n/bucket/key" (S3 API reference, "Signing
	// and authenticating REST requests").
	sigv2 := func(resource string, expires int64) string {
		mac := hmac.New(sha1.New, []byte(a.key.Secret))
		fmt.Fprintf(mac, "GET\n\n\n%d\n%s", expires, resource)
		return url.QueryEscape(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	exp := time.Now().Add(time.Hour).Unix()
	v2URL := fmt.Sprintf("%s/share/up%%20load.txt?AWSAccessKeyId=%s&Expires=%d&Signature=%s", w.srv.URL, a.key.ID, exp, sigv2("/share/up%20load.txt", exp))
	resp = must[*http.Response](t, "SigV2 GET")(http.Get(v2URL))
	if got := readAll(t, resp.Body); resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Errorf("SigV2 presigned GET: %d %q", resp.StatusCode, got)
	}
	expired := time.Now().Add(-time.Minute).Unix()
	resp = must[*http.Response](t, "expired SigV2 GET")(http.Get(fmt.Sprintf("%s/share/up%%20load.txt?AWSAccessKeyId=%s&Expires=%d&Signature=%s",
		w.srv.URL, a.key.ID, expired, sigv2("/share/up%20load.txt", expired))))
	if got := readAll(t, resp.Body); resp.StatusCode != 403 || xmlCode(got) != "AccessDenied" {
		t.Errorf("expired SigV2 URL: %d %s", resp.StatusCode, got)
	}
	// SigV2 over a virtual host signs /bucket/key all the same.
	_, port, _ := net.SplitHostPort(w.srv.Listener.Addr().String())
	req, _ = http.NewRequest("GET", fmt.Sprintf("%s/up%%20load.txt?AWSAccessKeyId=%s&Expires=%d&Signature=%s", w.srv.URL, a.key.ID, exp, sigv2("/share/up%20load.txt", exp)), nil)
	req.Host = "share.localhost:" + port
	resp = must[*http.Response](t, "SigV2 virtual-host GET")(http.DefaultClient.Do(req))
	if got := readAll(t, resp.Body); resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Errorf("SigV2 presigned GET on a virtual host: %d %q", resp.StatusCode, got)
	}
}

func TestVirtualHostAddressing(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	a := w.account()
	vc := w.virtualClient(a)
	mkBucket(t, vc, "vhost")
	put(t, vc, "vhost", "dir/file.txt", []byte("virtual"))
	if got := get(t, w.client(a), "vhost", "dir/file.txt"); string(got) != "virtual" {
		t.Errorf("path-style read of a virtual-host write: %q", got)
	}
	out := must[*s3.ListObjectsV2Output](t, "ListObjectsV2")(vc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("vhost")}))
	if len(out.Contents) != 1 || *out.Contents[0].Key != "dir/file.txt" {
		t.Errorf("virtual-host listing: %+v", out.Contents)
	}
	must[*s3.DeleteObjectOutput](t, "DeleteObject")(vc.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/file.txt")}))
	must[*s3.DeleteBucketOutput](t, "DeleteBucket")(vc.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("vhost")}))
}

func TestMultipart(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	a := w.account()
	c := w.client(a)
	mkBucket(t, c, "big")
	whole := randomBytes(20 << 20)
	sizes := []int{8 << 20, 8 << 20, 4 << 20}
	up := must[*s3.CreateMultipartUploadOutput](t, "CreateMultipartUpload")(c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String("big"), Key: aws.String("movie.bin"), ContentType: aws.String("video/mp4")}))
	var done []types.CompletedPart
	off := 0
	for i, n := range sizes {
		p := must[*s3.UploadPartOutput](t, "UploadPart")(c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("big"), Key: aws.String("movie.bin"),
			UploadId: up.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(whole[off : off+n])}))
		done = append(done, types.CompletedPart{ETag: p.ETag, PartNumber: aws.Int32(int32(i + 1))})
		off += n
	}
	parts := must[*s3.ListPartsOutput](t, "ListParts")(c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("big"), Key: aws.String("movie.bin"), UploadId: up.UploadId}))
	if len(parts.Parts) != 3 {
		t.Errorf("ListParts: %d parts", len(parts.Parts))
	}
	if u, _ := w.db.S3Usage(ctx, a.id); u.Bytes != 20<<20 {
		t.Errorf("usage while uploading = %d bytes, want the parts' %d", u.Bytes, 20<<20)
	}
	fin := must[*s3.CompleteMultipartUploadOutput](t, "CompleteMultipartUpload")(c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String("big"), Key: aws.String("movie.bin"), UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}))
	if got := get(t, c, "big", "movie.bin"); !bytes.Equal(got, whole) {
		t.Fatalf("assembled object: %d bytes, not the %d uploaded", len(got), len(whole))
	}
	head := must[*s3.HeadObjectOutput](t, "HeadObject")(c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("big"), Key: aws.String("movie.bin")}))
	if aws.ToString(head.ETag) != aws.ToString(fin.ETag) || aws.ToString(head.ContentType) != "video/mp4" {
		t.Errorf("HeadObject: ETag %s (completion said %s), type %s", aws.ToString(head.ETag), aws.ToString(fin.ETag), aws.ToString(head.ContentType))
	}
	r := must[*s3.GetObjectOutput](t, "ranged GET")(c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("big"), Key: aws.String("movie.bin"),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", 8<<20-10, 8<<20+9))}))
	if got := readAll(t, r.Body); !bytes.Equal(got, whole[8<<20-10:8<<20+10]) {
		t.Error("ranged GET across a part boundary differs")
	}
	p2 := must[*s3.GetObjectOutput](t, "GET partNumber 2")(c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("big"), Key: aws.String("movie.bin"), PartNumber: aws.Int32(2)}))
	if got := readAll(t, p2.Body); !bytes.Equal(got, whole[8<<20:16<<20]) {
		t.Error("GET with partNumber=2 is not the second part")
	}
	if u, _ := w.db.S3Usage(ctx, a.id); u.Bytes != 20<<20 || u.Objects != 1 {
		t.Errorf("usage after completing = %+v", u)
	}

	// Parts but the last must be 5 MiB; an aborted upload leaves nothing.
	up2 := must[*s3.CreateMultipartUploadOutput](t, "CreateMultipartUpload 2")(c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("big"), Key: aws.String("small")}))
	var small []types.CompletedPart
	for i := range 2 {
		p := must[*s3.UploadPartOutput](t, "UploadPart small")(c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("big"), Key: aws.String("small"),
			UploadId: up2.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(randomBytes(1000))}))
		small = append(small, types.CompletedPart{ETag: p.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("big"), Key: aws.String("small"),
		UploadId: up2.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: small}})
	wantCode(t, "parts under 5 MiB", err, "EntityTooSmall")
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("big"), Key: aws.String("small"),
		UploadId: up2.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: aws.String(`"00"`), PartNumber: aws.Int32(1)}}}})
	wantCode(t, "wrong part ETag", err, "InvalidPart")
	must[*s3.AbortMultipartUploadOutput](t, "AbortMultipartUpload")(c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("big"), Key: aws.String("small"), UploadId: up2.UploadId}))
	if u, _ := w.db.S3Usage(ctx, a.id); u.Bytes != 20<<20 {
		t.Errorf("usage after abort = %d, want %d", u.Bytes, 20<<20)
	}
	if n := countFiles(t, filepath.Join(w.dir, "s3", "objects")); n != 1 {
		t.Errorf("%d body files on disk, want 1 (the assembled object)", n)
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// TestTruncatedBody sends a body shorter than its Content-Length and
// half-closes the connection: the old object must stay, and no file with it.
func TestTruncatedBody(t *testing.T) {
	w := newWorld(t)
	a := w.account()
	c := w.client(a)
	mkBucket(t, c, "bkt")
	old := randomBytes(1 << 20)
	put(t, c, "bkt", "k", old)
	for _, tt := range []struct {
		name     string
		declared int
		sent     int
		hash     string
	}{
		{"unsigned payload, file-sized", 3 << 20, 1 << 20, "UNSIGNED-PAYLOAD"},
		{"unsigned payload, row-sized", 1000, 10, "UNSIGNED-PAYLOAD"},
		{"hashed payload", 3 << 20, 2 << 20, sha256Hex(make([]byte, 3<<20))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("PUT", w.srv.URL+"/bkt/k", nil)
			req.ContentLength = int64(tt.declared)
			req.Header.Set("X-Amz-Content-Sha256", tt.hash)
			if err := v4.NewSigner().SignHTTP(context.Background(), a.creds(), req, tt.hash, "s3", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			conn, err := net.Dial("tcp", w.srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "PUT /bkt/k HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.Host, tt.declared)
			for k, vs := range req.Header {
				fmt.Fprintf(conn, "%s: %s\r\n", k, vs[0])
			}
			conn.Write([]byte("\r\n"))
			conn.Write(make([]byte, tt.sent))
			conn.(*net.TCPConn).CloseWrite()
			resp, err := http.ReadResponse(bufio.NewReader(conn), req)
			if err == nil {
				got := readAll(t, resp.Body)
				if resp.StatusCode/100 == 2 {
					t.Errorf("truncated PUT answered %d", resp.StatusCode)
				}
				if c := xmlCode(got); c != "IncompleteBody" {
					t.Logf("truncated PUT: %d %s", resp.StatusCode, c)
				}
			}
			if got := get(t, c, "bkt", "k"); !bytes.Equal(got, old) {
				t.Errorf("after a truncated PUT the object has %d bytes, want the old %d", len(got), len(old))
			}
			if n := countFiles(t, filepath.Join(w.dir, "s3", "tmp")); n != 0 {
				t.Errorf("%d partial files left in tmp", n)
			}
		})
	}
}

// sniffer records the payload hash and content encoding of S3 PUTs.
type sniffer struct {
	mu   sync.Mutex
	seen []string
	next http.Handler
}

func (s *sniffer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == "PUT" {
		s.mu.Lock()
		s.seen = append(s.seen, r.Header.Get("X-Amz-Content-Sha256")+" "+r.Header.Get("Content-Encoding")+" "+r.Header.Get("X-Amz-Trailer"))
		s.mu.Unlock()
	}
	s.next.ServeHTTP(w, r)
}

// TestChunkedOverTLS: over HTTPS the Go SDK sends aws-chunked bodies with
// an unsigned payload and a trailing CRC32, which must be decoded (not
// stored with its framing) and checked.
func TestChunkedOverTLS(t *testing.T) {
	ctx := context.Background()
	w := newWorldServer(t, true)
	sn := &sniffer{next: w.srv.Config.Handler}
	w.srv.Config.Handler = sn
	a := w.account()
	c := w.client(a)
	mkBucket(t, c, "tls")
	for _, n := range []int{0, 100, 300 << 10, 3 << 20} {
		body := randomBytes(n)
		key := "obj" + strconv.Itoa(n)
		put(t, c, "tls", key, body)
		out := must[*s3.GetObjectOutput](t, "GetObject")(c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("tls"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled}))
		if got := readAll(t, out.Body); !bytes.Equal(got, body) {
			t.Errorf("%d-byte object over TLS came back as %d bytes", n, len(got))
		}
		if n > 0 {
			want := make([]byte, 4)
			crc := crc32.ChecksumIEEE(body)
			want[0], want[1], want[2], want[3] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
			if got := aws.ToString(out.ChecksumCRC32); got != base64.StdEncoding.EncodeToString(want) {
				t.Errorf("%d-byte object: stored CRC32 %q, want the trailer's %q", n, got, base64.StdEncoding.EncodeToString(want))
			}
		}
	}
	sn.mu.Lock()
	seen := strings.Join(sn.seen, "\n")
	sn.mu.Unlock()
	if !strings.Contains(seen, "STREAMING-UNSIGNED-PAYLOAD-TRAILER aws-chunked x-amz-checksum-crc32") {
		t.Errorf("the SDK sent no aws-chunked body over TLS; PUTs were:\n%s", seen)
	}

	// A trailer whose checksum is wrong is refused and stores nothing.
	payload := []byte("hello chunks")
	enc := fmt.Sprintf("%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", len(payload), payload)
	resp := w.raw(a, "PUT", "/tls/bad", []byte(enc), "STREAMING-UNSIGNED-PAYLOAD-TRAILER", map[string]string{
		"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": strconv.Itoa(len(payload)), "X-Amz-Trailer": "x-amz-checksum-crc32"})
	if got := readAll(t, resp.Body); resp.StatusCode != 400 || xmlCode(got) != "BadDigest" {
		t.Errorf("wrong trailing checksum: %d %s", resp.StatusCode, got)
	}
	_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("tls"), Key: aws.String("bad")})
	wantCode(t, "object with a bad trailer", err, "NotFound")
}

// TestSignedChunks sends STREAMING-AWS4-HMAC-SHA256-PAYLOAD bodies whose
// chunk signatures come from the SDK's stream signer, seeded with the
// header signature.
func TestSignedChunks(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	a := w.account()
	c := w.client(a)
	mkBucket(t, c, "signed")
	data := randomBytes(200 << 10)
	send := func(key string, tamper bool) (int, string) {
		now := time.Now()
		const chunk = 64 << 10
		var chunks [][]byte
		for off := 0; off < len(data); off += chunk {
			chunks = append(chunks, data[off:min(off+chunk, len(data))])
		}
		chunks = append(chunks, nil)
		encLen := 0
		for _, ch := range chunks {
			encLen += len(fmt.Sprintf("%x;chunk-signature=%064x\r\n", len(ch), 0)) + len(ch) + 2
		}
		req, _ := http.NewRequest("PUT", w.srv.URL+"/signed/"+key, nil)
		req.ContentLength = int64(encLen)
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
		req.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
		if err := v4.NewSigner().SignHTTP(ctx, a.creds(), req, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "s3", "us-east-1", now); err != nil {
			t.Fatal(err)
		}
		_, seedHex, _ := strings.Cut(req.Header.Get("Authorization"), "Signature=")
		seed, _ := hex.DecodeString(seedHex)
		ss := v4.NewStreamSigner(a.creds(), "s3", "us-east-1", seed)
		var body bytes.Buffer
		for i, ch := range chunks {
			sig, _ := ss.GetSignature(ctx, nil, ch, now)
			if tamper && i == 1 {
				ch = append([]byte{ch[0] ^ 1}, ch[1:]...)
			}
			fmt.Fprintf(&body, "%x;chunk-signature=%x\r\n", len(ch), sig)
			body.Write(ch)
			body.WriteString("\r\n")
		}
		req.Body = readCloser(body.Bytes())
		resp := must[*http.Response](t, "signed-chunk PUT")(w.srv.Client().Do(req))
		got := readAll(t, resp.Body)
		return resp.StatusCode, xmlCode(got)
	}
	if status, code := send("good", false); status != 200 {
		t.Fatalf("signed chunks: %d %s", status, code)
	}
	if got := get(t, c, "signed", "good"); !bytes.Equal(got, data) {
		t.Errorf("signed-chunk object: %d bytes back, want the %d sent", len(got), len(data))
	}
	if status, code := send("bad", true); status != 403 || code != "SignatureDoesNotMatch" {
		t.Errorf("tampered chunk: %d %s, want 403 SignatureDoesNotMatch", status, code)
	}
	_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("signed"), Key: aws.String("bad")})
	wantCode(t, "object with a tampered chunk", err, "NotFound")
}

type bodyReader struct{ *bytes.Reader }

func (bodyReader) Close() error { return nil }

func readCloser(b []byte) bodyReader { return bodyReader{bytes.NewReader(b)} }
