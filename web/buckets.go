package web

// The Buckets panel (WORKSPACE.md): the learner's S3 buckets, browsed,
// uploaded to and downloaded from through an AWS SDK client of their own
// account (inproc.S3, signed with their newest access key, as the CLI
// would be), and the bucket notifications that connect a bucket to a
// function, a version or an alias. Bucket names are per account in
// lambdalab, so a name in a route is always looked up in the learner's own
// account: another learner's bucket of the same name is never reached.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/a-h/templ"
	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"lambdalab/cloud/inproc"
	"lambdalab/cloud/lambda"
	"lambdalab/web/ui"
)

const (
	// maxObjectUpload is the largest file the panel uploads in one go; the
	// CLI is there for more.
	maxObjectUpload = 50 << 20
	// maxTextView is how much of an object the panel shows as text.
	maxTextView = 256 << 10
	// objectsPerPage is how many keys one listing shows.
	objectsPerPage = 200
)

// triggerEvents are the event types the trigger form offers: the ones
// lambdalab's S3 emits (cloud/s3 notify.go).
var triggerEvents = []struct{ Value, Label string }{
	{"s3:ObjectCreated:*", "All object create events (s3:ObjectCreated:*)"},
	{"s3:ObjectCreated:Put", "Put only (s3:ObjectCreated:Put)"},
	{"s3:ObjectRemoved:*", "All object delete events (s3:ObjectRemoved:*)"},
}

func (s *Server) bucketRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /labs/{lab}/buckets/{bucket}", s.bucketPage)
	mux.HandleFunc("GET /labs/{lab}/buckets/{bucket}/object", s.downloadObject)
	mux.HandleFunc("POST /labs/{lab}/buckets/{bucket}/objects", s.uploadObject)
	mux.HandleFunc("POST /labs/{lab}/buckets/{bucket}/objects/delete", s.deleteObject)
	mux.HandleFunc("POST /labs/{lab}/buckets/{bucket}/triggers", s.saveTrigger)
	mux.HandleFunc("POST /labs/{lab}/buckets/{bucket}/triggers/delete", s.removeTrigger)
}

// errNoAccessKey: the learner's account has no key to sign with.
var errNoAccessKey = errors.New("the account has no access key")

// learnerS3 is an S3 client of the learner's own account, signed with its
// newest key as the learner's CLI would be.
func (s *Server) learnerS3(ctx context.Context, lc *labCtx) (*s3sdk.Client, error) {
	keys, err := s.db.AccountKeys(ctx, lc.Account)
	if err != nil {
		return nil, fmt.Errorf("access keys of account %s: %w", lc.Account, err)
	}
	if len(keys) == 0 {
		return nil, errNoAccessKey
	}
	return inproc.S3(s.cloud.Endpoint, keys[len(keys)-1]), nil
}

// s3Missing reports whether S3 answered that the bucket or key does not
// exist (HEAD requests answer a bare NotFound).
func s3Missing(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "NoSuchBucket", "NoSuchKey", "NotFound":
		return true
	}
	return false
}

// bucketPath is a route of one of the learner's buckets with query q (fn
// added, so that the page keeps the chosen function).
func bucketPath(lc *labCtx, bucket, sub string, q url.Values) string {
	u := "/labs/" + url.PathEscape(lc.Lab.ID) + "/buckets/" + url.PathEscape(bucket) + sub
	if q == nil {
		q = url.Values{}
	}
	if lc.Fn != nil {
		q.Set("fn", lc.Fn.Name)
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// bucketDone ends a bucket form that worked: back to the bucket at prefix
// (303), with flash shown there.
func (s *Server) bucketDone(w http.ResponseWriter, r *http.Request, lc *labCtx, bucket, prefix, flash string) {
	q := url.Values{}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	if len(flash) > 300 {
		flash = flash[:300]
	}
	if flash != "" {
		q.Set("note", flash)
	}
	http.Redirect(w, r, bucketPath(lc, bucket, "", q), http.StatusSeeOther)
}

// bucketPage is the lab page on the Buckets tab showing one bucket; a
// bucket, or an object to view, that the account does not have is a 404.
func (s *Server) bucketPage(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.labFromPath(w, r)
	if !ok {
		return
	}
	lc.Tab = "buckets"
	st := panelState{Flash: r.URL.Query().Get("note")}
	_, status, err := s.bucketsView(r, lc, st)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.renderLab(w, r, lc, status, st)
}

func (s *Server) bucketsPanel(r *http.Request, lc *labCtx, st panelState) (templ.Component, error) {
	v, _, err := s.bucketsView(r, lc, st)
	if err != nil {
		return nil, err
	}
	return ui.BucketsPanel(v), nil
}

// bucketsView gathers the panel and the status it answers with (404 when
// the route names a bucket or an object the account does not have).
func (s *Server) bucketsView(r *http.Request, lc *labCtx, st panelState) (ui.BucketsView, int, error) {
	ctx := r.Context()
	v := ui.BucketsView{
		Flash:  st.Flash,
		Err:    st.Err,
		Hidden: []ui.BucketField{{Name: "tab", Value: "buckets"}},
	}
	if lc.Fn != nil {
		v.Hidden = append(v.Hidden, ui.BucketField{Name: "fn", Value: lc.Fn.Name})
	}
	if st.Err != "" {
		v.ErrAt = st.Form.Get("form")
	}
	cl, err := s.learnerS3(ctx, lc)
	if errors.Is(err, errNoAccessKey) {
		v.Missing = "Your account has no access key, so the workspace cannot reach S3 for you. Make a key pair on your account page."
		return v, http.StatusOK, nil
	}
	if err != nil {
		return v, 0, err
	}
	lb, err := cl.ListBuckets(ctx, &s3sdk.ListBucketsInput{})
	if err != nil {
		return v, 0, fmt.Errorf("list buckets of %s: %w", lc.Account, err)
	}
	have := map[string]bool{}
	var others []string
	for _, b := range lb.Buckets {
		have[aws.ToString(b.Name)] = true
	}
	lab := map[string]bool{}
	for _, b := range lc.Lab.Resources.Buckets {
		lab[b.Name] = true
	}
	for name := range have {
		if !lab[name] {
			others = append(others, name)
		}
	}
	sort.Strings(others)

	q := r.URL.Query()
	bucket := r.PathValue("bucket")
	named := bucket != ""
	if bucket == "" {
		// The lab's first bucket the account has, else any.
		for _, b := range lc.Lab.Resources.Buckets {
			if have[b.Name] {
				bucket = b.Name
				break
			}
		}
		if bucket == "" && len(others) > 0 {
			bucket = others[0]
		}
	}
	for _, b := range lc.Lab.Resources.Buckets {
		v.Buckets = append(v.Buckets, ui.BucketLink{Name: b.Name, URL: bucketPath(lc, b.Name, "", nil),
			Lab: true, Exists: have[b.Name], Current: b.Name == bucket})
	}
	for _, name := range others {
		v.Buckets = append(v.Buckets, ui.BucketLink{Name: name, URL: bucketPath(lc, name, "", nil),
			Exists: true, Current: name == bucket})
	}
	switch {
	case bucket == "":
		v.Missing = "Your account has no buckets yet. Make one with the AWS CLI: aws s3 mb s3://my-bucket"
		return v, http.StatusOK, nil
	case !have[bucket]:
		v.Missing = "There is no bucket " + bucket + " in your account."
		if lab[bucket] {
			v.Missing += " The lab uses it: make it with aws s3 mb s3://" + bucket
		}
		status := http.StatusOK
		if named {
			status = http.StatusNotFound
		}
		return v, status, nil
	}
	v.Bucket = bucket

	prefix := q.Get("prefix")
	if prefix == "" {
		prefix = st.Form.Get("prefix")
	}
	v.Prefix, v.UploadKey = prefix, prefix
	if v.ErrAt == "upload" {
		v.UploadKey = st.Form.Get("key")
	}
	v.UploadAction = bucketPath(lc, bucket, "/objects", url.Values{"tab": {"buckets"}})
	v.DeleteAction = bucketPath(lc, bucket, "/objects/delete", nil)
	v.Crumbs = bucketCrumbs(lc, bucket, prefix)
	status := http.StatusOK
	if err := s.listObjects(ctx, cl, lc, &v, q.Get("token"), q.Get("view")); err != nil {
		return v, 0, err
	}
	if view := q.Get("view"); view != "" {
		t, found, err := s.objectText(ctx, cl, lc, bucket, prefix, view)
		if err != nil {
			return v, 0, err
		}
		if !found {
			status = http.StatusNotFound
			if v.Err == "" {
				v.Err, v.ErrAt = "There is no object "+view+" in "+bucket+".", "object"
			}
		} else {
			v.Text = t
		}
	}
	if err := s.bucketTriggers(ctx, cl, r, lc, &v, st); err != nil {
		return v, 0, err
	}
	return v, status, nil
}

// bucketCrumbs lead from the bucket's top to prefix, one per folder.
func bucketCrumbs(lc *labCtx, bucket, prefix string) []ui.BucketCrumb {
	crumbs := []ui.BucketCrumb{{Name: bucket, URL: bucketPath(lc, bucket, "", nil)}}
	at := 0
	for at < len(prefix) {
		end := strings.Index(prefix[at:], "/")
		if end < 0 {
			end = len(prefix)
		} else {
			end += at + 1
		}
		crumbs = append(crumbs, ui.BucketCrumb{Name: prefix[at:end], URL: bucketPath(lc, bucket, "", url.Values{"prefix": {prefix[:end]}})})
		at = end
	}
	return crumbs
}

// listObjects fills in the folders and objects directly under v.Prefix,
// one page from token on.
func (s *Server) listObjects(ctx context.Context, cl *s3sdk.Client, lc *labCtx, v *ui.BucketsView, token, viewing string) error {
	in := &s3sdk.ListObjectsV2Input{
		Bucket:    aws.String(v.Bucket),
		Prefix:    aws.String(v.Prefix),
		Delimiter: aws.String("/"),
		MaxKeys:   aws.Int32(objectsPerPage),
	}
	if token != "" {
		in.ContinuationToken = aws.String(token)
	}
	out, err := cl.ListObjectsV2(ctx, in)
	if msg, ok := refusal(err); ok {
		// A mangled continuation token, say: S3's reason, in place.
		if v.Err == "" {
			v.Err = msg
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("list objects of %s: %w", v.Bucket, err)
	}
	for _, p := range out.CommonPrefixes {
		pre := aws.ToString(p.Prefix)
		v.Folders = append(v.Folders, ui.BucketCrumb{Name: strings.TrimPrefix(pre, v.Prefix),
			URL: bucketPath(lc, v.Bucket, "", url.Values{"prefix": {pre}})})
	}
	for _, o := range out.Contents {
		key := aws.ToString(o.Key)
		if key == v.Prefix && strings.HasSuffix(key, "/") {
			continue // the folder's own marker object
		}
		row := ui.BucketObject{
			Key:         key,
			Name:        strings.TrimPrefix(key, v.Prefix),
			Size:        bucketSize(aws.ToInt64(o.Size)),
			DownloadURL: bucketPath(lc, v.Bucket, "/object", url.Values{"key": {key}}),
			ViewURL:     bucketPath(lc, v.Bucket, "", url.Values{"prefix": {v.Prefix}, "view": {key}}),
			Viewing:     key == viewing,
		}
		if o.LastModified != nil {
			row.Modified = bucketTime(*o.LastModified)
		}
		v.Objects = append(v.Objects, row)
	}
	if aws.ToBool(out.IsTruncated) && out.NextContinuationToken != nil {
		v.MoreURL = bucketPath(lc, v.Bucket, "", url.Values{"prefix": {v.Prefix}, "token": {*out.NextContinuationToken}})
	}
	return nil
}

// objectText reads the start of an object to show it in the panel: text
// that is valid UTF-8 without NUL bytes, else marked binary.
func (s *Server) objectText(ctx context.Context, cl *s3sdk.Client, lc *labCtx, bucket, prefix, key string) (*ui.BucketText, bool, error) {
	head, err := cl.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if s3Missing(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("head %s/%s: %w", bucket, key, err)
	}
	size := aws.ToInt64(head.ContentLength)
	t := &ui.BucketText{
		Key:         key,
		Size:        bucketSize(size),
		ContentType: aws.ToString(head.ContentType),
		DownloadURL: bucketPath(lc, bucket, "/object", url.Values{"key": {key}}),
		CloseURL:    bucketPath(lc, bucket, "", url.Values{"prefix": {prefix}}),
	}
	if size == 0 {
		t.Empty = true
		return t, true, nil
	}
	in := &s3sdk.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if size > maxTextView {
		in.Range = aws.String("bytes=0-" + strconv.Itoa(maxTextView-1))
		t.Truncated = true
		t.Shown = bucketSize(maxTextView)
	}
	out, err := cl.GetObject(ctx, in)
	if s3Missing(err) {
		return nil, false, nil // deleted between the two calls
	}
	if err != nil {
		return nil, false, fmt.Errorf("get %s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	b := make([]byte, 0, min(size, maxTextView))
	buf := make([]byte, 32<<10)
	for len(b) < maxTextView {
		n, err := out.Body.Read(buf[:min(len(buf), maxTextView-len(b))])
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	if t.Truncated {
		// The cut may fall inside a character.
		for i := 0; i < utf8.UTFMax-1 && len(b) > 0 && !utf8.Valid(b); i++ {
			b = b[:len(b)-1]
		}
	}
	if !utf8.Valid(b) || slices.Contains(b, 0) {
		t.Binary = true
		return t, true, nil
	}
	t.Text = string(b)
	return t, true, nil
}

// bucketSize is a byte count for people.
func bucketSize(n int64) string {
	switch {
	case n < 1024:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1<<20:
		return strconv.FormatFloat(float64(n)/1024, 'f', 1, 64) + " KB"
	default:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	}
}

// bucketTime is a time as the panels show it: in UTC, said so.
func bucketTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// downloadObject sends an object as a file. It is the learner's own data,
// but it may be HTML or script they uploaded, so it is never rendered by
// the browser in the site's origin: an attachment, nosniff (set for every
// response) and a sandboxing policy.
func (s *Server) downloadObject(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.labFromPath(w, r)
	if !ok {
		return
	}
	key := r.URL.Query().Get("key")
	if key == "" {
		s.notFoundPage(w, r)
		return
	}
	cl, err := s.learnerS3(r.Context(), lc)
	if errors.Is(err, errNoAccessKey) {
		s.notFoundPage(w, r)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	bucket := r.PathValue("bucket")
	out, err := cl.GetObject(r.Context(), &s3sdk.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if s3Missing(err) {
		s.notFoundPage(w, r)
		return
	}
	if err != nil {
		s.serverError(w, r, fmt.Errorf("download %s/%s: %w", bucket, key, err))
		return
	}
	defer out.Body.Close()
	h := w.Header()
	ct := aws.ToString(out.ContentType)
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(key)})
	if disp == "" {
		disp = "attachment"
	}
	h.Set("Content-Disposition", disp)
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Cache-Control", "no-store")
	if out.ContentLength != nil {
		h.Set("Content-Length", strconv.FormatInt(*out.ContentLength, 10))
	}
	if _, err := io.Copy(w, out.Body); err != nil {
		s.logger.InfoContext(r.Context(), "object download cut short", "bucket", bucket, "err", err)
	}
}

// uploadObject puts one file from a multipart form into the bucket, under
// the key given, or the current folder and the file's name.
func (s *Server) uploadObject(w http.ResponseWriter, r *http.Request) {
	// The form around the file is small; a few KB of slack over the limit
	// lets a file of exactly 50 MB through.
	r.Body = http.MaxBytesReader(w, r.Body, maxObjectUpload+64<<10)
	lc, ok := s.labFromPath(w, r)
	if !ok {
		return
	}
	if !s.allow(w, r, lc.User, actChange) {
		return
	}
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.actionRefused(w, r, lc, "buckets", http.StatusRequestEntityTooLarge,
				"The file is larger than 50 MB, the most the workspace uploads. Use the AWS CLI for larger files: aws s3 cp FILE s3://"+r.PathValue("bucket")+"/KEY")
			return
		}
		s.actionRefused(w, r, lc, "buckets", http.StatusBadRequest, "The upload did not arrive as a file form. Choose a file and send it again.")
		return
	}
	defer r.MultipartForm.RemoveAll()
	r.PostForm.Set("form", "upload")
	f, fh, err := r.FormFile("file")
	if err != nil {
		s.actionRefused(w, r, lc, "buckets", http.StatusUnprocessableEntity, "Choose a file to upload.")
		return
	}
	defer f.Close()
	if fh.Size > maxObjectUpload {
		s.actionRefused(w, r, lc, "buckets", http.StatusRequestEntityTooLarge,
			"The file is larger than 50 MB, the most the workspace uploads. Use the AWS CLI for larger files.")
		return
	}
	key := r.PostFormValue("key")
	if key == "" || strings.HasSuffix(key, "/") {
		key += path.Base(strings.ReplaceAll(fh.Filename, `\`, "/"))
	}
	ct := fh.Header.Get("Content-Type")
	if ct == "" || ct == "application/octet-stream" {
		if byExt := mime.TypeByExtension(path.Ext(key)); byExt != "" {
			ct = byExt
		}
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	cl, err := s.learnerS3(r.Context(), lc)
	if err != nil {
		s.bucketFailed(w, r, lc, err)
		return
	}
	bucket := r.PathValue("bucket")
	_, err = cl.PutObject(r.Context(), &s3sdk.PutObjectInput{
		Bucket:        aws.String(bucket),
		Key:           aws.String(key),
		Body:          f,
		ContentLength: aws.Int64(fh.Size),
		ContentType:   aws.String(ct),
	})
	if err != nil {
		s.bucketFailed(w, r, lc, fmt.Errorf("upload %s/%s: %w", bucket, key, err))
		return
	}
	dir := ""
	if i := strings.LastIndex(key, "/"); i >= 0 {
		dir = key[:i+1]
	}
	s.bucketDone(w, r, lc, bucket, dir, fmt.Sprintf("Uploaded %s (%s) to %s.", key, bucketSize(fh.Size), bucket))
}

// bucketFailed answers a bucket form that S3 refused with S3's reason in
// place; anything else is the platform failing.
func (s *Server) bucketFailed(w http.ResponseWriter, r *http.Request, lc *labCtx, err error) {
	if errors.Is(err, errNoAccessKey) {
		s.actionRefused(w, r, lc, "buckets", http.StatusConflict, "Your account has no access key: make a key pair on your account page first.")
		return
	}
	if s3Missing(err) {
		s.actionRefused(w, r, lc, "buckets", http.StatusNotFound, "There is no bucket "+r.PathValue("bucket")+" in your account.")
		return
	}
	if msg, ok := refusal(err); ok {
		s.actionRefused(w, r, lc, "buckets", http.StatusUnprocessableEntity, msg)
		return
	}
	s.serverError(w, r, err)
}

// deleteObject removes one object (the page asks first).
func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.labFromPath(w, r)
	if !ok {
		return
	}
	if !s.allow(w, r, lc.User, actChange) {
		return
	}
	r.PostForm.Set("form", "object")
	bucket, key := r.PathValue("bucket"), r.PostFormValue("key")
	cl, err := s.learnerS3(r.Context(), lc)
	if err != nil {
		s.bucketFailed(w, r, lc, err)
		return
	}
	// S3 deletes a missing key without complaint; the panel says so rather
	// than report a deletion that did not happen.
	_, err = cl.HeadObject(r.Context(), &s3sdk.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if s3Missing(err) || key == "" {
		s.actionRefused(w, r, lc, "buckets", http.StatusNotFound, "There is no object "+key+" in "+bucket+".")
		return
	}
	if err == nil {
		_, err = cl.DeleteObject(r.Context(), &s3sdk.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	}
	if err != nil {
		s.bucketFailed(w, r, lc, fmt.Errorf("delete %s/%s: %w", bucket, key, err))
		return
	}
	s.bucketDone(w, r, lc, bucket, r.PostFormValue("prefix"), "Deleted "+key+" from "+bucket+".")
}

// triggerTarget is a function, version or alias of the lab that a bucket
// may notify.
type triggerTarget struct {
	ARN, Label          string
	Function, Qualifier string
}

// triggerTargets are the lab's functions the account has, each
// unqualified, then its published versions and its aliases.
func (s *Server) triggerTargets(ctx context.Context, lc *labCtx) ([]triggerTarget, error) {
	var out []triggerTarget
	for _, fn := range lc.Lab.Functions {
		cfg, err := s.cloud.Lambda.GetFunctionConfiguration(ctx, lc.Account, fn.Name, "")
		if _, ok := lambda.AsError(err); ok {
			continue // not made yet
		}
		if err != nil {
			return nil, fmt.Errorf("trigger targets: %w", err)
		}
		arn := unqualifiedARN(cfg.FunctionArn)
		out = append(out, triggerTarget{ARN: arn, Label: fn.Name, Function: fn.Name})
		versions, err := s.cloud.Lambda.ListVersionsByFunction(ctx, lc.Account, fn.Name, "", 50)
		if err != nil {
			return nil, fmt.Errorf("trigger targets: versions of %s: %w", fn.Name, err)
		}
		for _, ver := range versions.Versions {
			if ver.Version == "$LATEST" {
				continue
			}
			out = append(out, triggerTarget{ARN: arn + ":" + ver.Version, Label: fn.Name + " version " + ver.Version,
				Function: fn.Name, Qualifier: ver.Version})
		}
		aliases, err := s.cloud.Lambda.ListAliases(ctx, lc.Account, fn.Name, "")
		if err != nil {
			return nil, fmt.Errorf("trigger targets: aliases of %s: %w", fn.Name, err)
		}
		for _, a := range aliases.Aliases {
			out = append(out, triggerTarget{ARN: arn + ":" + a.Name, Label: fn.Name + " alias " + a.Name + " (version " + a.FunctionVersion + ")",
				Function: fn.Name, Qualifier: a.Name})
		}
	}
	return out, nil
}

// unqualifiedARN drops a version or alias from a function ARN.
func unqualifiedARN(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) == 8 {
		return strings.Join(parts[:7], ":")
	}
	return arn
}

// functionOfARN is the function name and qualifier a function ARN names,
// or "" when it is not one.
func functionOfARN(arn string) (name, qualifier string) {
	parts := strings.Split(arn, ":")
	if len(parts) < 7 || len(parts) > 8 || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "function" {
		return "", ""
	}
	if len(parts) == 8 {
		qualifier = parts[7]
	}
	return parts[6], qualifier
}

// bucketTriggers fills in the bucket's notifications, the warnings about
// them and the add or edit form.
func (s *Server) bucketTriggers(ctx context.Context, cl *s3sdk.Client, r *http.Request, lc *labCtx, v *ui.BucketsView, st panelState) error {
	targets, err := s.triggerTargets(ctx, lc)
	if err != nil {
		return err
	}
	labels := map[string]string{}
	for _, t := range targets {
		labels[t.ARN] = t.Label
	}
	cfg, err := cl.GetBucketNotificationConfiguration(ctx, &s3sdk.GetBucketNotificationConfigurationInput{Bucket: aws.String(v.Bucket)})
	if err != nil {
		return fmt.Errorf("notifications of %s: %w", v.Bucket, err)
	}
	edit := r.URL.Query().Get("edit")
	form := ui.BucketTriggerForm{
		Action:       bucketPath(lc, v.Bucket, "/triggers", nil),
		RemoveAction: bucketPath(lc, v.Bucket, "/triggers/delete", nil),
		Allow:        true,
	}
	var editing *s3types.LambdaFunctionConfiguration
	for i, c := range cfg.LambdaFunctionConfigurations {
		arn := aws.ToString(c.LambdaFunctionArn)
		label := labels[arn]
		if label == "" {
			label = arn
		}
		id := aws.ToString(c.Id)
		row := ui.BucketTrigger{
			ID:        id,
			Events:    joinEvents(c.Events),
			Filter:    describeFilter(c.Filter),
			Target:    label,
			TargetARN: arn,
			EditURL:   bucketPath(lc, v.Bucket, "", url.Values{"prefix": {v.Prefix}, "edit": {id}}),
			Editing:   edit != "" && id == edit,
		}
		if row.Editing {
			editing = &cfg.LambdaFunctionConfigurations[i]
		}
		v.Triggers = append(v.Triggers, row)
	}
	v.Warnings, err = s.loopWarnings(ctx, lc, v.Bucket, cfg.LambdaFunctionConfigurations)
	if err != nil {
		return err
	}

	// What the form holds: the refused form as sent, the configuration
	// being edited, or a new one's defaults.
	events := map[string]bool{}
	target := ""
	switch {
	case st.Err != "" && st.Form.Get("form") == "trigger":
		form.OrigID, form.ID = st.Form.Get("orig"), st.Form.Get("id")
		form.Prefix, form.Suffix = st.Form.Get("prefix_filter"), st.Form.Get("suffix_filter")
		form.Allow = st.Form.Get("allow") != ""
		for _, e := range st.Form["events"] {
			events[e] = true
		}
		target = st.Form.Get("target")
	case editing != nil:
		form.OrigID, form.ID = aws.ToString(editing.Id), aws.ToString(editing.Id)
		form.Prefix, form.Suffix = filterAffixes(editing.Filter)
		for _, e := range editing.Events {
			events[string(e)] = true
		}
		target = aws.ToString(editing.LambdaFunctionArn)
	default:
		events["s3:ObjectCreated:*"] = true
	}
	if form.OrigID != "" {
		form.CancelURL = bucketPath(lc, v.Bucket, "", url.Values{"prefix": {v.Prefix}})
	}
	for _, e := range triggerEvents {
		form.Events = append(form.Events, ui.BucketChoice{Value: e.Value, Label: e.Label, Checked: events[e.Value]})
	}
	known := false
	for i, t := range targets {
		checked := t.ARN == target || (target == "" && i == 0)
		known = known || t.ARN == target
		form.Targets = append(form.Targets, ui.BucketChoice{Value: t.ARN, Label: t.Label, Checked: checked})
	}
	if target != "" && !known && editing != nil {
		// A target from outside the lab (set with the CLI) stays choosable
		// while its configuration is edited.
		form.Targets = append(form.Targets, ui.BucketChoice{Value: target, Label: target, Checked: true})
	}
	if len(form.Targets) == 0 {
		names := make([]string, len(lc.Lab.Functions))
		for i, fn := range lc.Lab.Functions {
			names[i] = fn.Name
		}
		form.NoTargets = "None of the lab's functions (" + strings.Join(names, ", ") + ") is in your account yet: deploy one to connect it to this bucket."
	}
	v.Trigger = form
	return nil
}

func joinEvents(events []s3types.Event) string {
	s := make([]string, len(events))
	for i, e := range events {
		s[i] = string(e)
	}
	return strings.Join(s, ", ")
}

func filterAffixes(f *s3types.NotificationConfigurationFilter) (prefix, suffix string) {
	if f == nil || f.Key == nil {
		return "", ""
	}
	for _, r := range f.Key.FilterRules {
		switch strings.ToLower(string(r.Name)) {
		case "prefix":
			prefix = aws.ToString(r.Value)
		case "suffix":
			suffix = aws.ToString(r.Value)
		}
	}
	return prefix, suffix
}

func describeFilter(f *s3types.NotificationConfigurationFilter) string {
	prefix, suffix := filterAffixes(f)
	var parts []string
	if prefix != "" {
		parts = append(parts, "keys starting "+prefix)
	}
	if suffix != "" {
		parts = append(parts, "keys ending "+suffix)
	}
	if len(parts) == 0 {
		return "every key"
	}
	return strings.Join(parts, ", ")
}

// loopWarnings are the recursive loops the bucket's triggers may make: a
// function notified of new objects whose environment names the bucket
// itself (it would write where it is triggered from), and any function
// Lambda has already stopped in a loop today (cloud/lambda recursion.go).
func (s *Server) loopWarnings(ctx context.Context, lc *labCtx, bucket string, cfgs []s3types.LambdaFunctionConfiguration) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, c := range cfgs {
		created := false
		for _, e := range c.Events {
			created = created || strings.HasPrefix(string(e), "s3:ObjectCreated:")
		}
		name, qualifier := functionOfARN(aws.ToString(c.LambdaFunctionArn))
		if name == "" || !created || seen[name+":"+qualifier] {
			continue
		}
		seen[name+":"+qualifier] = true
		fc, err := s.cloud.Lambda.GetFunctionConfiguration(ctx, lc.Account, name, qualifier)
		if _, ok := lambda.AsError(err); ok {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("loop check of %s: %w", name, err)
		}
		if fc.Environment != nil {
			vars := make([]string, 0, len(fc.Environment.Variables))
			for k, val := range fc.Environment.Variables {
				if val == bucket {
					vars = append(vars, k)
				}
			}
			sort.Strings(vars)
			for _, k := range vars {
				out = append(out, fmt.Sprintf("Recursive loop: %s is triggered by new objects in %s, and its environment variable %s names %s too. If it writes there, each write triggers it again, until Lambda stops the loop after about 16 rounds. Write to another bucket.",
					name, bucket, k, bucket))
			}
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		recs, err := s.db.Invocations(ctx, lc.Account, name, time.Now().Add(-24*time.Hour))
		if err != nil {
			return nil, err
		}
		stopped := 0
		for _, rec := range recs {
			if rec.Outcome == "recursion-stopped" {
				stopped++
			}
		}
		if stopped > 0 {
			out = append(out, fmt.Sprintf("Lambda stopped %d invocation(s) of %s in the last day because they were part of a recursive loop: something it wrote triggered it again.", stopped, name))
		}
	}
	return out, nil
}

// saveTrigger adds a notification configuration to the bucket, or
// replaces the one being edited, and, when asked, first lets this bucket
// invoke the target as S3 requires (AddPermission).
func (s *Server) saveTrigger(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.labFromPath(w, r)
	if !ok {
		return
	}
	if !s.allow(w, r, lc.User, actChange) {
		return
	}
	ctx := r.Context()
	r.PostForm.Set("form", "trigger")
	bucket := r.PathValue("bucket")
	cl, err := s.learnerS3(ctx, lc)
	if err != nil {
		s.bucketFailed(w, r, lc, err)
		return
	}
	cur, err := cl.GetBucketNotificationConfiguration(ctx, &s3sdk.GetBucketNotificationConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil {
		s.bucketFailed(w, r, lc, fmt.Errorf("notifications of %s: %w", bucket, err))
		return
	}
	targets, err := s.triggerTargets(ctx, lc)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	orig, target := r.PostFormValue("orig"), r.PostFormValue("target")
	// An edited configuration keeps its place; a new one goes last.
	lambdas := slices.Clone(cur.LambdaFunctionConfigurations)
	at := len(lambdas)
	found, allowed := orig == "", false
	for i, c := range lambdas {
		if orig != "" && aws.ToString(c.Id) == orig {
			found, at = true, i
			allowed = aws.ToString(c.LambdaFunctionArn) == target
		}
	}
	if !found {
		s.actionRefused(w, r, lc, "buckets", http.StatusNotFound, "The notification "+orig+" is no longer on "+bucket+": it was removed or renamed.")
		return
	}
	var chosen *triggerTarget
	for i := range targets {
		if targets[i].ARN == target {
			chosen = &targets[i]
		}
	}
	if chosen == nil && !allowed {
		s.actionRefused(w, r, lc, "buckets", http.StatusUnprocessableEntity, "Choose one of the lab's functions, versions or aliases to notify.")
		return
	}
	c := s3types.LambdaFunctionConfiguration{LambdaFunctionArn: aws.String(target), Events: []s3types.Event{}}
	if id := strings.TrimSpace(r.PostFormValue("id")); id != "" {
		c.Id = aws.String(id)
	}
	for _, e := range r.PostForm["events"] {
		c.Events = append(c.Events, s3types.Event(e))
	}
	var rules []s3types.FilterRule
	if p := r.PostFormValue("prefix_filter"); p != "" {
		rules = append(rules, s3types.FilterRule{Name: s3types.FilterRuleNamePrefix, Value: aws.String(p)})
	}
	if sfx := r.PostFormValue("suffix_filter"); sfx != "" {
		rules = append(rules, s3types.FilterRule{Name: s3types.FilterRuleNameSuffix, Value: aws.String(sfx)})
	}
	if len(rules) > 0 {
		c.Filter = &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{FilterRules: rules}}
	}
	granted := false
	if r.PostFormValue("allow") != "" && chosen != nil {
		granted, err = s.allowBucket(ctx, lc, bucket, *chosen)
		if err != nil {
			if msg, ok := refusal(err); ok {
				s.actionRefused(w, r, lc, "buckets", http.StatusUnprocessableEntity, msg)
				return
			}
			s.serverError(w, r, err)
			return
		}
	}
	if at < len(lambdas) {
		lambdas[at] = c
	} else {
		lambdas = append(lambdas, c)
	}
	_, err = cl.PutBucketNotificationConfiguration(ctx, &s3sdk.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(bucket), NotificationConfiguration: withLambdas(cur, lambdas)})
	if err != nil {
		if msg, ok := refusal(err); ok {
			if strings.Contains(msg, "Unable to validate the following destination configurations") {
				msg += ". S3 may invoke a function only when the function's resource policy allows s3.amazonaws.com for this bucket: tick “Also allow this bucket to invoke the function”, or run aws lambda add-permission as the lab shows."
			}
			s.actionRefused(w, r, lc, "buckets", http.StatusUnprocessableEntity, msg)
			return
		}
		s.serverError(w, r, fmt.Errorf("put notifications of %s: %w", bucket, err))
		return
	}
	flash := "Saved: new objects in " + bucket + " now notify " + target + "."
	if orig != "" {
		flash = "Saved the notification of " + bucket + "."
	} else if !anyCreated(c.Events) {
		flash = "Saved: " + bucket + " now notifies " + target + "."
	}
	if granted {
		flash += " Added a statement to the function's policy that lets S3 invoke it for this bucket."
	}
	s.bucketDone(w, r, lc, bucket, r.PostFormValue("prefix"), flash)
}

// withLambdas is the bucket's configuration cur with its function targets
// replaced: PutBucketNotificationConfiguration replaces the whole document.
func withLambdas(cur *s3sdk.GetBucketNotificationConfigurationOutput, lambdas []s3types.LambdaFunctionConfiguration) *s3types.NotificationConfiguration {
	if lambdas == nil {
		lambdas = []s3types.LambdaFunctionConfiguration{}
	}
	return &s3types.NotificationConfiguration{
		LambdaFunctionConfigurations: lambdas,
		TopicConfigurations:          cur.TopicConfigurations,
		QueueConfigurations:          cur.QueueConfigurations,
		EventBridgeConfiguration:     cur.EventBridgeConfiguration,
	}
}

func anyCreated(events []s3types.Event) bool {
	for _, e := range events {
		if strings.HasPrefix(string(e), "s3:ObjectCreated:") {
			return true
		}
	}
	return false
}

// allowBucket adds a statement to the target's resource policy that lets
// S3 invoke it for this bucket in the learner's account, as the lab's
// add-permission command does, unless the policy already allows it.
func (s *Server) allowBucket(ctx context.Context, lc *labCtx, bucket string, t triggerTarget) (bool, error) {
	source := "arn:aws:s3:::" + bucket
	ok, err := s.cloud.Lambda.ServiceAllowed(ctx, lc.Account, t.ARN, "s3.amazonaws.com", source, lc.Account)
	if err != nil {
		return false, fmt.Errorf("check the policy of %s: %w", t.ARN, err)
	}
	if ok {
		return false, nil
	}
	// Statement ids are letters, digits, - and _.
	sid := "s3-" + strings.NewReplacer(".", "-").Replace(bucket)
	for i := 1; ; i++ {
		id := sid
		if i > 1 {
			id = sid + "-" + strconv.Itoa(i)
		}
		_, err := s.cloud.Lambda.AddPermission(ctx, lc.Account, t.Function, t.Qualifier, lambda.AddPermissionInput{
			StatementID:   id,
			Action:        "lambda:InvokeFunction",
			Principal:     "s3.amazonaws.com",
			SourceArn:     source,
			SourceAccount: lc.Account,
		})
		// A statement of that id that allows something else: another id.
		if le, ok := lambda.AsError(err); ok && le.Type == "ResourceConflictException" && i < 5 {
			continue
		}
		return err == nil, err
	}
}

// removeTrigger drops one notification configuration from the bucket. The
// function's policy statement stays, as in AWS.
func (s *Server) removeTrigger(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.labFromPath(w, r)
	if !ok {
		return
	}
	if !s.allow(w, r, lc.User, actChange) {
		return
	}
	ctx := r.Context()
	r.PostForm.Set("form", "remove")
	bucket, id := r.PathValue("bucket"), r.PostFormValue("id")
	cl, err := s.learnerS3(ctx, lc)
	if err != nil {
		s.bucketFailed(w, r, lc, err)
		return
	}
	cur, err := cl.GetBucketNotificationConfiguration(ctx, &s3sdk.GetBucketNotificationConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil {
		s.bucketFailed(w, r, lc, fmt.Errorf("notifications of %s: %w", bucket, err))
		return
	}
	var kept []s3types.LambdaFunctionConfiguration
	found := false
	for _, c := range cur.LambdaFunctionConfigurations {
		if aws.ToString(c.Id) == id {
			found = true
			continue
		}
		kept = append(kept, c)
	}
	if !found {
		s.actionRefused(w, r, lc, "buckets", http.StatusNotFound, "There is no notification "+id+" on "+bucket+".")
		return
	}
	_, err = cl.PutBucketNotificationConfiguration(ctx, &s3sdk.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(bucket), NotificationConfiguration: withLambdas(cur, kept)})
	if err != nil {
		s.bucketFailed(w, r, lc, fmt.Errorf("put notifications of %s: %w", bucket, err))
		return
	}
	s.bucketDone(w, r, lc, bucket, r.PostFormValue("prefix"), "Removed the notification "+id+": "+bucket+" no longer invokes its function.")
}
