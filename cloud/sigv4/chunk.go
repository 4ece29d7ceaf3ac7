package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// ChunkSigner checks the chained signatures of a
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD body (Content-Encoding: aws-chunked).
// Each chunk's signature covers
//
//	AWS4-HMAC-SHA256-PAYLOAD \n X-Amz-Date \n scope \n previous signature \n sha256("") \n sha256(chunk)
//
// where the first chunk's previous signature is the request's own (the
// seed) and the final empty chunk is signed too. A ChunkSigner is only as
// good as its seed: make it after Verify accepted the request.
type ChunkSigner struct {
	key     [32]byte
	prefix  string // X-Amz-Date \n scope \n
	prev    string
	service string
}

// ChunkSigner returns a ChunkSigner seeded with a's signature, for the
// chunks of the body of the request a was parsed from.
func (a *Auth) ChunkSigner(secret string) *ChunkSigner {
	return &ChunkSigner{
		key:     signingKey(secret, a.Date, a.Region, a.Service),
		prefix:  a.Time.UTC().Format(amzDateLayout) + "\n" + a.Scope() + "\n",
		prev:    a.Signature,
		service: a.Service,
	}
}

// Signature is the signature a chunk with data must carry when the one
// before it carried prevSig.
func (c *ChunkSigner) Signature(prevSig string, data []byte) string {
	body := sha256.Sum256(data)
	return c.sign("AWS4-HMAC-SHA256-PAYLOAD\n", prevSig, EmptySHA256, body[:])
}

// VerifyChunk checks the next chunk's signature sig over data and, when it
// matches, makes it the previous signature for the chunk after.
func (c *ChunkSigner) VerifyChunk(sig string, data []byte) error {
	return c.check(sig, c.Signature(c.prev, data))
}

// VerifyTrailer checks the signature of the trailing headers that end a
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER body; trailer is their
// canonical form, "x-amz-checksum-crc32:...\n" for each.
func (c *ChunkSigner) VerifyTrailer(sig string, trailer []byte) error {
	h := sha256.Sum256(trailer)
	var b []byte
	b = append(b, "AWS4-HMAC-SHA256-TRAILER\n"...)
	b = append(b, c.prefix...)
	b = append(b, c.prev...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, h[:])
	return c.check(sig, macHex(c.key[:], b))
}

func (c *ChunkSigner) sign(alg, prevSig, headersHash string, body []byte) string {
	b := make([]byte, 0, 256)
	b = append(b, alg...)
	b = append(b, c.prefix...)
	b = append(b, prevSig...)
	b = append(b, '\n')
	b = append(b, headersHash...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, body)
	return macHex(c.key[:], b)
}

func (c *ChunkSigner) check(sig, want string) error {
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return mismatch(c.service)
	}
	c.prev = sig
	return nil
}

func macHex(key, msg []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(msg)
	return hex.EncodeToString(mac.Sum(nil))
}
