package sigv4

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestChunkSigner compares the chain with aws-sdk-go-v2's StreamSigner,
// which with no event-stream headers signs exactly S3's chunk string
// (its headers hash is then sha256("")).
func TestChunkSigner(t *testing.T) {
	r := serverRequest(t, "PUT /bkt/k HTTP/1.1\r\nHost: h\r\nX-Amz-Date: 20261201T093000Z\r\n"+
		"X-Amz-Content-Sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD\r\nContent-Encoding: aws-chunked\r\n"+
		"Authorization: AWS4-HMAC-SHA256 Credential="+oracleKey+"/20261201/eu-west-1/s3/aws4_request, "+
		"SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date, "+
		"Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9\r\n\r\n")
	a, err := Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := hex.DecodeString(a.Signature)
	oracle := v4.NewStreamSigner(aws.Credentials{AccessKeyID: oracleKey, SecretAccessKey: oracleSecret}, "s3", "eu-west-1", seed)
	chunks := [][]byte{bytes.Repeat([]byte("a"), 65536), []byte("x"), bytes.Repeat([]byte{0, 1, 2}, 1000), nil}
	var sigs []string
	for _, chunk := range chunks {
		want, err := oracle.GetSignature(context.Background(), nil, chunk, a.Time)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, hex.EncodeToString(want))
	}

	c := a.ChunkSigner(oracleSecret)
	prev := a.Signature
	for i, chunk := range chunks {
		if got := c.Signature(prev, chunk); got != sigs[i] {
			t.Errorf("chunk %d: Signature = %s, want %s", i, got, sigs[i])
		}
		prev = sigs[i]
	}

	// In order, every chunk verifies.
	c = a.ChunkSigner(oracleSecret)
	for i, chunk := range chunks {
		if err := c.VerifyChunk(sigs[i], chunk); err != nil {
			t.Fatalf("chunk %d: VerifyChunk = %v", i, err)
		}
	}
	// A changed byte, a skipped chunk or a wrong secret does not.
	changed := bytes.Clone(chunks[1])
	changed[0]++
	for name, run := range map[string]func(c *ChunkSigner) error{
		"changed byte": func(c *ChunkSigner) error {
			c.VerifyChunk(sigs[0], chunks[0])
			return c.VerifyChunk(sigs[1], changed)
		},
		"skipped chunk": func(c *ChunkSigner) error { return c.VerifyChunk(sigs[1], chunks[1]) },
		"wrong secret": func(*ChunkSigner) error {
			return a.ChunkSigner(oracleSecret+"x").VerifyChunk(sigs[0], chunks[0])
		},
	} {
		if err := run(a.ChunkSigner(oracleSecret)); code(err) != "SignatureDoesNotMatch" {
			t.Errorf("%s: VerifyChunk = %v, want SignatureDoesNotMatch", name, err)
		}
	}

	// The trailer signature chains from the final chunk's. Computed here
	// straight from the S3 documentation's string to sign.
	trailer := []byte("x-amz-checksum-crc32:sOO8/Q==\n")
	k := deriveKey(oracleSecret, "20261201", "eu-west-1", "s3")
	th := sha256.Sum256(trailer)
	mac := hmac.New(sha256.New, k[:])
	mac.Write([]byte("AWS4-HMAC-SHA256-TRAILER\n20261201T093000Z\n20261201/eu-west-1/s3/aws4_request\n" + sigs[3] + "\n" + hex.EncodeToString(th[:])))
	trailerSig := hex.EncodeToString(mac.Sum(nil))
	if err := c.VerifyTrailer(trailerSig, trailer); err != nil {
		t.Errorf("VerifyTrailer = %v, want nil", err)
	}
	c2 := a.ChunkSigner(oracleSecret)
	if err := c2.VerifyTrailer(trailerSig, trailer); code(err) != "SignatureDoesNotMatch" {
		t.Errorf("VerifyTrailer before the chunks = %v, want SignatureDoesNotMatch", err)
	}
}

// The example of the S3 documentation's "Signature Calculations for the
// Authorization Header: Transferring Payload in Multiple Chunks".
func TestChunkSignerDocumentationExample(t *testing.T) {
	r := serverRequest(t, "PUT /examplebucket/chunkObject.txt HTTP/1.1\r\nHost: s3.amazonaws.com\r\n"+
		"X-Amz-Date: 20130524T000000Z\r\nX-Amz-Content-Sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD\r\n"+
		"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "+
		"SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class, "+
		"Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9\r\n\r\n")
	a, err := Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	c := a.ChunkSigner("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	for i, tt := range []struct {
		data []byte
		sig  string
	}{
		{bytes.Repeat([]byte("a"), 65536), "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"},
		{bytes.Repeat([]byte("a"), 1024), "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"},
		{nil, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"},
	} {
		if err := c.VerifyChunk(tt.sig, tt.data); err != nil {
			t.Errorf("chunk %d: VerifyChunk = %v", i, err)
		}
	}
}
