package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/textproto"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/rclone/gofakes3"

	"lambdalab/cloud"
	"lambdalab/store"
)

// backend is the gofakes3 Backend on store: each call acts in the account
// the request context carries.
type backend struct{ s *Service }

var (
	_ gofakes3.Backend              = (*backend)(nil)
	_ gofakes3.MultipartBackend     = (*backend)(nil)
	_ gofakes3.ObjectTaggingBackend = (*backend)(nil)
)

// minPartSize is S3's smallest part but the last (EntityTooSmall).
const minPartSize = 5 << 20

func (b *backend) account(ctx context.Context) (string, error) {
	p, ok := cloud.PrincipalFrom(ctx)
	if !ok || p.AccountID == "" {
		return "", errCode("AccessDenied", "Access Denied")
	}
	return p.AccountID, nil
}

// checkKey refuses a key that no object can have, as S3 does: S3 takes
// only keys of UTF-8 and answers one that is not (sent percent-encoded, as
// every SDK sends keys) with 400 InvalidURI; a NUL is refused alike, since
// the store keeps none (PostgreSQL's text cannot hold one; see
// store.checkS3Key). Without this check the store's ErrInvalid would be a
// 500, which the SDKs retry.
func checkKey(key string) error {
	if utf8.ValidString(key) && strings.IndexByte(key, 0) < 0 {
		return nil
	}
	return errCode(string(gofakes3.ErrInvalidURI), "Couldn't parse the specified URI.")
}

// internal logs a platform failure and answers it as S3 does.
func (b *backend) internal(ctx context.Context, op string, err error) error {
	b.s.logger.ErrorContext(ctx, "s3 "+op, "err", err)
	return gofakes3.ErrInternal
}

func (b *backend) ListBuckets(ctx context.Context) ([]gofakes3.BucketInfo, error) {
	acct, err := b.account(ctx)
	if err != nil {
		return nil, err
	}
	bs, err := b.s.db.ListS3Buckets(ctx, acct)
	if err != nil {
		return nil, b.internal(ctx, "list buckets", err)
	}
	out := make([]gofakes3.BucketInfo, len(bs))
	for i, bk := range bs {
		out[i] = gofakes3.BucketInfo{Name: bk.Name, CreationDate: gofakes3.NewContentTime(bk.CreatedAt)}
	}
	return out, nil
}

// CreateBucket creates a bucket in the caller's account. Recreating one's
// own bucket succeeds in us-east-1, as S3 does there for legacy reasons
// (CreateBucket API reference), and is BucketAlreadyOwnedByYou elsewhere.
func (b *backend) CreateBucket(ctx context.Context, name string) error {
	acct, err := b.account(ctx)
	if err != nil {
		return err
	}
	err = b.s.db.CreateS3Bucket(ctx, acct, name, b.s.limits.MaxBuckets)
	switch {
	case errors.Is(err, store.ErrExists):
		if cloud.Region == "us-east-1" {
			return nil
		}
		return errCode("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.")
	case errors.Is(err, store.ErrQuota):
		return gofakes3.ErrorMessagef(gofakes3.ErrTooManyBuckets, "You have attempted to create more buckets than allowed (%d).", b.s.limits.MaxBuckets)
	case err != nil:
		return b.internal(ctx, "create bucket", err)
	}
	return nil
}

func (b *backend) BucketExists(ctx context.Context, name string) (bool, error) {
	acct, err := b.account(ctx)
	if err != nil {
		return false, err
	}
	_, err = b.s.db.S3Bucket(ctx, acct, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, b.internal(ctx, "look up bucket", err)
	}
	return true, nil
}

func (b *backend) DeleteBucket(ctx context.Context, name string) error {
	acct, err := b.account(ctx)
	if err != nil {
		return err
	}
	parts, err := b.s.db.DeleteS3Bucket(ctx, acct, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return gofakes3.BucketNotFound(name)
	case errors.Is(err, store.ErrInUse):
		return gofakes3.ResourceError(gofakes3.ErrBucketNotEmpty, name)
	case err != nil:
		return b.internal(ctx, "delete bucket", err)
	}
	b.s.files.remove(parts...)
	return nil
}

// ListBucket lists keys in byte order with S3's prefix and delimiter rules,
// which the library's helper gets wrong for a prefix that ends inside a
// path segment: each key that has the delimiter after the prefix counts
// once, as the common prefix up to and including that delimiter. A marker
// (start-after, continuation token) need not be a key; a common prefix
// already returned on an earlier page is not returned again.
func (b *backend) ListBucket(ctx context.Context, name string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	acct, err := b.account(ctx)
	if err != nil {
		return nil, err
	}
	if ok, err := b.BucketExists(ctx, name); err != nil || !ok {
		if err == nil {
			err = gofakes3.BucketNotFound(name)
		}
		return nil, err
	}
	var pre, delim string
	if prefix != nil {
		pre, delim = prefix.Prefix, prefix.Delimiter
	}
	maxKeys := int(page.MaxKeys)
	if maxKeys <= 0 {
		maxKeys = gofakes3.DefaultMaxBucketKeys
	}
	out := gofakes3.NewObjectList()
	start, inclusive := page.Marker, false
	count, last := 0, ""
	for {
		objs, err := b.s.db.ListS3Objects(ctx, acct, name, pre, start, inclusive, min(maxKeys+1, 1000))
		if err != nil {
			return nil, b.internal(ctx, "list objects", err)
		}
		if len(objs) == 0 {
			return out, nil
		}
		jumped := false
		for _, o := range objs {
			if delim != "" {
				if i := strings.Index(o.Key[len(pre):], delim); i >= 0 {
					cp := o.Key[:len(pre)+i+len(delim)]
					end, ok := prefixEnd(cp)
					if !(page.HasMarker && cp <= page.Marker) {
						if count == maxKeys {
							out.IsTruncated, out.NextMarker = true, last
							return out, nil
						}
						out.AddPrefix(cp)
						count, last = count+1, cp
					}
					if !ok {
						return out, nil
					}
					start, inclusive, jumped = end, true, true
					break
				}
			}
			if count == maxKeys {
				out.IsTruncated, out.NextMarker = true, last
				return out, nil
			}
			out.Add(&gofakes3.Content{
				Key:          o.Key,
				LastModified: gofakes3.NewContentTime(o.ModifiedAt),
				ETag:         `"` + o.ETag + `"`,
				Size:         o.Size,
				StorageClass: gofakes3.StorageStandard,
			})
			count, last = count+1, o.Key
			start, inclusive = o.Key, false
		}
		if !jumped && len(objs) < min(maxKeys+1, 1000) {
			return out, nil
		}
	}
}

// prefixEnd is the least string above every string that starts with p.
func prefixEnd(p string) (string, bool) {
	s := []byte(p)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] < 0xff {
			s[i]++
			return string(s[:i+1]), true
		}
	}
	return "", false
}

func (b *backend) object(ctx context.Context, bucket, key string, withData bool) (store.S3Object, error) {
	acct, err := b.account(ctx)
	if err != nil {
		return store.S3Object{}, err
	}
	// The front door checked the key in the URL; a copy's source key comes
	// from a header, decoded by the library.
	if err := checkKey(key); err != nil {
		return store.S3Object{}, err
	}
	o, err := b.s.db.S3Object(ctx, acct, bucket, key, withData)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if ok, err := b.BucketExists(ctx, bucket); err == nil && !ok {
			return store.S3Object{}, gofakes3.BucketNotFound(bucket)
		}
		return store.S3Object{}, gofakes3.KeyNotFound(key)
	case err != nil:
		return store.S3Object{}, b.internal(ctx, "read object", err)
	}
	return o, nil
}

func toLibObject(o store.S3Object) *gofakes3.Object {
	hash, _ := hex.DecodeString(o.ETag)
	return &gofakes3.Object{
		Name:      o.Key,
		Metadata:  encodeMetadata(o.Metadata),
		Size:      o.Size,
		Hash:      hash,
		PartSizes: o.PartSizes,
		Contents:  io.NopCloser(bytes.NewReader(nil)),
	}
}

func (b *backend) HeadObject(ctx context.Context, bucket, key string) (*gofakes3.Object, error) {
	o, err := b.object(ctx, bucket, key, false)
	if err != nil {
		return nil, err
	}
	return toLibObject(o), nil
}

func (b *backend) GetObject(ctx context.Context, bucket, key string, rnge *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	// A concurrent overwrite may remove the file between reading the row and
	// opening the file; the row read again then names the new body.
	for attempt := 0; ; attempt++ {
		o, err := b.object(ctx, bucket, key, true)
		if err != nil {
			return nil, err
		}
		obj := toLibObject(o)
		r, err := rnge.Range(o.Size)
		if err != nil {
			return nil, err
		}
		obj.Range = r
		off, n := int64(0), o.Size
		if r != nil {
			off, n = r.Start, r.Length
		}
		if o.File == "" {
			obj.Contents = io.NopCloser(bytes.NewReader(o.Data[off : off+n]))
			return obj, nil
		}
		f, err := b.s.files.open(o.File)
		if errors.Is(err, os.ErrNotExist) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, b.internal(ctx, "open object body", err)
		}
		obj.Contents = &objectBody{file: f, r: io.NewSectionReader(f, off, n)}
		return obj, nil
	}
}

// receive reads an upload's body, checked as the front door set it up,
// and the trailing checksums of an aws-chunked one.
func (b *backend) receive(ctx context.Context, input io.Reader) (body, map[string]string, error) {
	var trailers map[string]string
	check := func() error {
		st := requestFrom(ctx)
		if st == nil || st.body == nil {
			return nil
		}
		t, err := st.body.finish()
		trailers = t
		return err
	}
	got, err := b.s.files.receive(input, b.s.limits.MaxObjectSize, check)
	if err != nil {
		return body{}, nil, err
	}
	return got, trailers, nil
}

func (b *backend) PutObject(ctx context.Context, bucket, key string, meta map[string]string, input io.Reader, size int64) (gofakes3.PutObjectResult, error) {
	acct, err := b.account(ctx)
	if err != nil {
		return gofakes3.PutObjectResult{}, err
	}
	if err := checkKey(key); err != nil {
		return gofakes3.PutObjectResult{}, err
	}
	if size > b.s.limits.MaxObjectSize {
		return gofakes3.PutObjectResult{}, gofakes3.ErrEntityTooLarge
	}
	got, trailers, err := b.receive(ctx, input)
	if err != nil {
		return gofakes3.PutObjectResult{}, err
	}
	meta = decodeMetadata(meta)
	for k, v := range trailers {
		if strings.HasPrefix(k, "X-Amz-Checksum-") {
			meta[k] = v
		}
	}
	o := store.S3Object{AccountID: acct, Bucket: bucket, Key: key, Size: got.size, ETag: hex.EncodeToString(got.md5),
		Metadata: meta, Data: got.data, File: got.file, ModifiedAt: b.s.cfg.Now()}
	if err := b.put(ctx, o); err != nil {
		return gofakes3.PutObjectResult{}, err
	}
	return gofakes3.PutObjectResult{}, nil
}

// put commits o, removing the body it replaces, or removes o's own body
// when the commit fails; and records the write for notifications.
func (b *backend) put(ctx context.Context, o store.S3Object) error {
	if o.File == "" && o.Data == nil {
		o.Data = []byte{}
	}
	old, _, err := b.s.db.PutS3Object(ctx, o, b.storeLimits())
	if err != nil {
		b.s.files.remove(o.File)
		return b.writeErr(ctx, o.Bucket, err)
	}
	b.s.files.remove(old.File)
	if st := requestFrom(ctx); st != nil {
		st.events = append(st.events, objectEvent{bucket: o.Bucket, key: o.Key, size: o.Size, etag: o.ETag})
	}
	return nil
}

func (b *backend) storeLimits() store.S3Limits {
	return store.S3Limits{Objects: b.s.limits.MaxObjects, Bytes: b.s.limits.MaxBytes}
}

// writeErr answers a refused write. S3 has no per-account storage quota;
// QuotaExceeded (403) is the code S3-compatible stores use for one (Ceph's
// RGW), and a 403 keeps the SDKs from retrying. Keys are checked before
// they reach the store (checkKey), so its ErrInvalid here is a fault of
// ours, not the client's, and stays a 500.
func (b *backend) writeErr(ctx context.Context, bucket string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return gofakes3.BucketNotFound(bucket)
	case errors.Is(err, store.ErrQuota):
		_, why, _ := strings.Cut(err.Error(), store.ErrQuota.Error()+": ")
		return errCode("QuotaExceeded", "This write would exceed your lambdalab S3 quota: "+why+".")
	}
	return b.internal(ctx, "write object", err)
}

func (b *backend) DeleteObject(ctx context.Context, bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	// DeleteMulti reports a key it refuses in its result; one key alone is
	// refused as a request.
	if err := checkKey(key); err != nil {
		return gofakes3.ObjectDeleteResult{}, err
	}
	_, err := b.DeleteMulti(ctx, bucket, key)
	return gofakes3.ObjectDeleteResult{}, err
}

func (b *backend) DeleteMulti(ctx context.Context, bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	acct, err := b.account(ctx)
	if err != nil {
		return gofakes3.MultiDeleteResult{}, err
	}
	// A key no object can have is answered in the result, as S3 answers
	// each key it cannot delete, and the others are deleted: the store
	// would refuse the whole batch for it.
	var res gofakes3.MultiDeleteResult
	valid := make([]string, 0, len(keys))
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			e := gofakes3.ErrorResultFromError(err)
			e.Key = k
			res.Error = append(res.Error, e)
			continue
		}
		valid = append(valid, k)
	}
	if len(valid) == 0 {
		return res, nil
	}
	gone, err := b.s.db.DeleteS3Objects(ctx, acct, bucket, valid...)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return gofakes3.MultiDeleteResult{}, gofakes3.BucketNotFound(bucket)
	case err != nil:
		return gofakes3.MultiDeleteResult{}, b.internal(ctx, "delete objects", err)
	}
	st := requestFrom(ctx)
	for _, o := range gone {
		b.s.files.remove(o.File)
		if st != nil {
			st.events = append(st.events, objectEvent{bucket: bucket, key: o.Key, deleted: true})
		}
	}
	// S3 reports every key deleted, whether or not it existed.
	for _, k := range valid {
		res.Deleted = append(res.Deleted, gofakes3.ObjectID{Key: k})
	}
	return res, nil
}

func (b *backend) CopyObject(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	acct, err := b.account(ctx)
	if err != nil {
		return gofakes3.CopyObjectResult{}, err
	}
	if err := checkKey(dstKey); err != nil {
		return gofakes3.CopyObjectResult{}, err
	}
	src, err := b.object(ctx, srcBucket, srcKey, true)
	if err != nil {
		return gofakes3.CopyObjectResult{}, err
	}
	if src.Size > b.s.limits.MaxObjectSize {
		return gofakes3.CopyObjectResult{}, gofakes3.ErrEntityTooLarge
	}
	o := store.S3Object{AccountID: acct, Bucket: dstBucket, Key: dstKey, Size: src.Size, ETag: src.ETag,
		Metadata: decodeMetadata(meta), Data: src.Data, ModifiedAt: b.s.cfg.Now()}
	if src.File != "" {
		// The file is immutable, so a second name for it is a copy.
		if o.File, err = b.s.files.link(src.File); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return gofakes3.CopyObjectResult{}, gofakes3.KeyNotFound(srcKey)
			}
			return gofakes3.CopyObjectResult{}, b.internal(ctx, "copy object body", err)
		}
		o.Data = nil
	}
	if err := b.put(ctx, o); err != nil {
		return gofakes3.CopyObjectResult{}, err
	}
	return gofakes3.CopyObjectResult{ETag: `"` + o.ETag + `"`, LastModified: gofakes3.NewContentTime(o.ModifiedAt)}, nil
}

// SetObjectTagging changes only the tags in the object's metadata.
func (b *backend) SetObjectTagging(ctx context.Context, bucket, key, tagging string) error {
	o, err := b.object(ctx, bucket, key, false)
	if err != nil {
		return err
	}
	meta := o.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	if tagging == "" {
		delete(meta, gofakes3.TaggingMetadataKey)
	} else {
		meta[gofakes3.TaggingMetadataKey] = tagging
	}
	err = b.s.db.SetS3ObjectMetadata(ctx, o.AccountID, bucket, key, meta)
	if errors.Is(err, store.ErrNotFound) {
		return gofakes3.KeyNotFound(key)
	}
	if err != nil {
		return b.internal(ctx, "tag object", err)
	}
	return nil
}

func (b *backend) CreateMultipartUpload(ctx context.Context, bucket, key string, meta map[string]string) (gofakes3.UploadID, error) {
	acct, err := b.account(ctx)
	if err != nil {
		return "", err
	}
	if err := checkKey(key); err != nil {
		return "", err
	}
	id := rand.Text() + rand.Text()
	err = b.s.db.CreateS3Upload(ctx, store.S3Upload{ID: id, AccountID: acct, Bucket: bucket, Key: key,
		Metadata: decodeMetadata(meta), CreatedAt: b.s.cfg.Now()})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", gofakes3.BucketNotFound(bucket)
	case err != nil:
		return "", b.internal(ctx, "create upload", err)
	}
	return gofakes3.UploadID(id), nil
}

func (b *backend) UploadPart(ctx context.Context, bucket, key string, id gofakes3.UploadID, number int, size int64, input io.Reader) (string, error) {
	acct, err := b.account(ctx)
	if err != nil {
		return "", err
	}
	if size > b.s.limits.MaxObjectSize {
		return "", gofakes3.ErrEntityTooLarge
	}
	got, _, err := b.receive(ctx, input)
	if err != nil {
		return "", err
	}
	if got.size != size {
		b.s.files.remove(got.file)
		return "", gofakes3.ErrIncompleteBody
	}
	if got.file == "" {
		// Parts always live in files, which assembling concatenates.
		t, err := b.s.files.create()
		if err == nil {
			if _, err = t.Write(got.data); err == nil {
				got.file, err = t.commit()
			} else {
				t.abort()
			}
		}
		if err != nil {
			return "", b.internal(ctx, "store part", err)
		}
	}
	etag := hex.EncodeToString(got.md5)
	old, err := b.s.db.PutS3Part(ctx, store.S3Part{UploadID: string(id), Number: number, AccountID: acct,
		Size: got.size, ETag: etag, File: got.file}, b.storeLimits())
	if err != nil {
		b.s.files.remove(got.file)
		if errors.Is(err, store.ErrNotFound) {
			return "", gofakes3.ErrNoSuchUpload
		}
		return "", b.writeErr(ctx, bucket, err)
	}
	b.s.files.remove(old)
	return `"` + etag + `"`, nil
}

// CompleteMultipartUpload assembles the listed parts into one file. The
// object's ETag is the MD5 of the whole body, so that it is the same on the
// completion, on GET and HEAD and in listings (S3's own multipart ETags,
// "md5-of-md5s-N", cannot be expressed through the library's Object.Hash).
func (b *backend) CompleteMultipartUpload(ctx context.Context, bucket, key string, id gofakes3.UploadID, in *gofakes3.CompleteMultipartUploadRequest) (gofakes3.VersionID, string, error) {
	acct, err := b.account(ctx)
	if err != nil {
		return "", "", err
	}
	if err := checkKey(key); err != nil {
		return "", "", err
	}
	up, err := b.s.db.S3Upload(ctx, acct, string(id))
	if errors.Is(err, store.ErrNotFound) {
		return "", "", gofakes3.ErrNoSuchUpload
	}
	if err != nil {
		return "", "", b.internal(ctx, "read upload", err)
	}
	parts, err := b.s.db.S3Parts(ctx, string(id))
	if err != nil {
		return "", "", b.internal(ctx, "read parts", err)
	}
	byNumber := map[int]store.S3Part{}
	for _, p := range parts {
		byNumber[p.Number] = p
	}
	if len(in.Parts) == 0 {
		return "", "", gofakes3.ErrorMessage(gofakes3.ErrMalformedXML, "You must specify at least one part")
	}
	var files []string
	var sizes []int64
	for i, cp := range in.Parts {
		if i > 0 && cp.PartNumber <= in.Parts[i-1].PartNumber {
			return "", "", gofakes3.ErrInvalidPartOrder
		}
		p, ok := byNumber[cp.PartNumber]
		if !ok || strings.Trim(cp.ETag, `"`) != p.ETag {
			return "", "", gofakes3.ErrorMessage(gofakes3.ErrInvalidPart, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
		}
		if i < len(in.Parts)-1 && p.Size < minPartSize {
			return "", "", errCode("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
		}
		files = append(files, p.File)
		sizes = append(sizes, p.Size)
	}
	name, sum, size, err := b.s.files.assemble(files)
	if err != nil {
		return "", "", b.internal(ctx, "assemble upload", err)
	}
	o := store.S3Object{AccountID: acct, Bucket: bucket, Key: key, Size: size, ETag: hex.EncodeToString(sum),
		Metadata: up.Metadata, PartSizes: sizes, File: name, ModifiedAt: b.s.cfg.Now()}
	if o.Metadata == nil {
		o.Metadata = map[string]string{}
	}
	o.Metadata["Last-Modified"] = o.ModifiedAt.UTC().Format("Mon, 02 Jan 2006 15:04:05") + " GMT"
	old, _, used, err := b.s.db.CompleteS3Upload(ctx, string(id), o, b.storeLimits())
	if err != nil {
		b.s.files.remove(name)
		if errors.Is(err, store.ErrNotFound) {
			return "", "", gofakes3.ErrNoSuchUpload
		}
		return "", "", b.writeErr(ctx, bucket, err)
	}
	b.s.files.remove(used...)
	b.s.files.remove(old.File)
	if st := requestFrom(ctx); st != nil {
		st.events = append(st.events, objectEvent{bucket: bucket, key: key, size: size, etag: o.ETag})
	}
	return "", `"` + o.ETag + `"`, nil
}

func (b *backend) AbortMultipartUpload(ctx context.Context, bucket, key string, id gofakes3.UploadID) error {
	acct, err := b.account(ctx)
	if err != nil {
		return err
	}
	files, err := b.s.db.DeleteS3Upload(ctx, acct, string(id))
	if errors.Is(err, store.ErrNotFound) {
		return gofakes3.ErrNoSuchUpload
	}
	if err != nil {
		return b.internal(ctx, "abort upload", err)
	}
	b.s.files.remove(files...)
	return nil
}

// User metadata that is not US-ASCII: S3 decodes RFC 2047 encoded words
// before storing a value and encodes a value with other than US-ASCII
// characters as RFC 2047 before returning it (S3 User Guide, "Working with
// object metadata"). Storing decoded and answering encoded is what keeps
// clients that read headers as Latin-1 (Python's) from garbling it.
var wordDecoder = mime.WordDecoder{}

func decodeMetadata(meta map[string]string) map[string]string {
	out := make(map[string]string, len(meta))
	for k, v := range meta {
		if strings.HasPrefix(textproto.CanonicalMIMEHeaderKey(k), "X-Amz-Meta-") && strings.Contains(v, "=?") {
			if d, err := wordDecoder.DecodeHeader(v); err == nil {
				v = d
			}
		}
		out[k] = v
	}
	return out
}

func encodeMetadata(meta map[string]string) map[string]string {
	out := make(map[string]string, len(meta))
	for k, v := range meta {
		if strings.HasPrefix(textproto.CanonicalMIMEHeaderKey(k), "X-Amz-Meta-") && !isASCII(v) && utf8.ValidString(v) {
			// Q with an upper-case Q, as S3-compatible stores answer.
			v = strings.ReplaceAll(mime.QEncoding.Encode("UTF-8", v), "=?UTF-8?q?", "=?UTF-8?Q?")
		}
		out[k] = v
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
