package web

// The workspace's Code tab: each learner's draft of each function's code,
// kept on the server (store drafts) so that a reload or another browser
// loses nothing; file operations, a zip upload and download, reset to the
// starter, and Deploy, which zips the draft into the function's $LATEST.
// Setting up the lab (its functions from the starter, its buckets) starts
// here too. Everything acts in the signed-in learner's own draft and
// account: no route names another's.

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"testing/fstest"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/a-h/templ"

	"lambdalab/cloud/codepkg"
	"lambdalab/cloud/lambda"
	"lambdalab/grader"
	"lambdalab/labs"
	"lambdalab/store"
	"lambdalab/web/ui"
)

func (s *Server) codeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /labs/{lab}/start", s.codeStart)
	mux.HandleFunc("POST /labs/{lab}/draft", s.codeSave)
	mux.HandleFunc("POST /labs/{lab}/draft/new", s.codeAdd)
	mux.HandleFunc("POST /labs/{lab}/draft/rename", s.codeRename)
	mux.HandleFunc("POST /labs/{lab}/draft/delete", s.codeDelete)
	mux.HandleFunc("POST /labs/{lab}/draft/upload", s.codeUpload)
	mux.HandleFunc("POST /labs/{lab}/draft/reset", s.codeReset)
	mux.HandleFunc("GET /labs/{lab}/download", s.codeDownload)
	mux.HandleFunc("POST /labs/{lab}/deploy", s.codeDeploy)
}

const (
	// codeMaxEdit bounds a file edited in the browser; larger files come
	// in an upload and are kept, not edited.
	codeMaxEdit = 1 << 20
	// codeMaxUpload is Lambda's own limit on a zipped package.
	codeMaxUpload = codepkg.MaxZipped
)

// codeLimits says what a draft holds, for the panel.
var codeLimits = fmt.Sprintf("A draft holds up to %d files and %s in all; a file edited here is at most %s of UTF-8 text. An upload is a .zip of at most %s (Lambda's limit) that replaces the whole draft.",
	store.MaxDraftFiles, codeBytes(store.MaxDraftBytes), codeBytes(codeMaxEdit), codeBytes(codeMaxUpload))

// codeCtx is the workspace request of a Code route: its lab, learner and
// function, with the function's draft started (seeded from the starter the
// first time). A lab without functions has no code: 404.
func (s *Server) codeCtx(w http.ResponseWriter, r *http.Request) (*labCtx, store.DraftKey, bool) {
	lc, ok := s.labFromPath(w, r)
	if !ok {
		return nil, store.DraftKey{}, false
	}
	if lc.Fn == nil {
		s.notFoundPage(w, r)
		return nil, store.DraftKey{}, false
	}
	k, err := s.startDraft(r.Context(), lc)
	if err != nil {
		s.serverError(w, r, err)
		return nil, store.DraftKey{}, false
	}
	return lc, k, true
}

// startDraft is the learner's draft of lc's function, seeded from the
// starter's files for it if this is its first use.
func (s *Server) startDraft(ctx context.Context, lc *labCtx) (store.DraftKey, error) {
	k := store.DraftKey{UserID: lc.User.ID, Lab: lc.Lab.ID, Function: lc.Fn.Name}
	_, err := s.db.StartDraft(ctx, k, func() ([]store.DraftFile, error) { return codeStarterFiles(lc.Lab, *lc.Fn) })
	return k, err
}

// codeStarterFiles are the files of fn's code folder in the lab's starter,
// as the grader packages them: without the grader's own files (actions.yaml
// and the like) and interpreter caches.
func codeStarterFiles(lab *labs.Lab, fn labs.Function) ([]store.DraftFile, error) {
	if lab.Starter == nil {
		return nil, nil
	}
	dir := fn.Code
	if dir == "" {
		dir = "."
	}
	root, err := fs.Sub(lab.FS, path.Join(lab.Starter.Dir, dir))
	if err != nil {
		return nil, err
	}
	var out []store.DraftFile
	err = fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		base := path.Base(name)
		if name != "." && (base == "__pycache__" || base == ".DS_Store" || strings.HasSuffix(base, ".pyc")) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		if slices.Contains([]string{"actions.yaml", "answers.yaml", "expect.yaml"}, name) {
			return nil
		}
		b, err := fs.ReadFile(root, name)
		if err != nil {
			return err
		}
		out = append(out, store.DraftFile{Path: name, Body: b})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("starter of %s in %s: %w", fn.Name, lab.ID, err)
	}
	return out, nil
}

// codeDone ends a Code form that worked: back to the Code tab on file,
// with flash (303, so a reload does not post again).
func (s *Server) codeDone(w http.ResponseWriter, r *http.Request, lc *labCtx, file, flash string) {
	u := labURL(lc.Lab.ID, "code", lc.fnName())
	q := url.Values{}
	if file != "" {
		q.Set("file", file)
	}
	if flash != "" {
		if len(flash) > 300 {
			flash = flash[:300]
		}
		q.Set("note", flash)
	}
	if len(q) > 0 {
		if strings.Contains(u, "?") {
			u += "&" + q.Encode()
		} else {
			u += "?" + q.Encode()
		}
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// codeRefused answers a refused Code form: the page with the reason, or,
// for the editor's autosave, the reason as plain text.
func (s *Server) codeRefused(w http.ResponseWriter, r *http.Request, lc *labCtx, status int, reason string) {
	if r.Header.Get("X-Autosave") == "1" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		io.WriteString(w, reason)
		return
	}
	s.actionRefused(w, r, lc, "code", status, reason)
}

// codePathProblem says what is wrong with a draft file path, or "".
func codePathProblem(p string) string {
	switch {
	case p == "":
		return "Give the file a name, such as app.py or lib/helpers.py."
	case len(p) > store.MaxDraftPath:
		return fmt.Sprintf("A file path is at most %d bytes; this one is %d.", store.MaxDraftPath, len(p))
	case !utf8.ValidString(p):
		return "A file path must be UTF-8 text."
	case strings.ContainsFunc(p, unicode.IsControl):
		return "A file path cannot contain control characters such as tabs or line breaks."
	case strings.Contains(p, `\`):
		return fmt.Sprintf("%q uses a backslash: separate folders with / instead.", p)
	case strings.HasPrefix(p, "/"):
		return fmt.Sprintf("%q is an absolute path: give it relative to the function's folder, without the leading /.", p)
	}
	for _, part := range strings.Split(p, "/") {
		switch part {
		case "..":
			return fmt.Sprintf("%q uses .. to leave the function's folder: files stay inside it.", p)
		case "", ".":
			return fmt.Sprintf("%q has an empty or . part: write folders as lib/helpers.py.", p)
		}
	}
	return ""
}

// codeBodyProblem says why body cannot be saved as an edited file, or "".
func codeBodyProblem(p string, body []byte) string {
	if len(body) > codeMaxEdit {
		return fmt.Sprintf("%s is %s; a file edited here is at most %s. Put larger files in a zip and upload it.", p, codeBytes(int64(len(body))), codeBytes(codeMaxEdit))
	}
	if !codeIsText(body) {
		return fmt.Sprintf("%s is not UTF-8 text; only text files can be edited here (binary files come in an upload).", p)
	}
	return ""
}

func codeIsText(b []byte) bool { return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 }

// codeFullMessage is the refusal of a write that would take the draft over
// its bounds.
func codeFullMessage() string {
	return fmt.Sprintf("That would take the draft over %d files or %s in all; nothing was changed. Delete files you do not need first.",
		store.MaxDraftFiles, codeBytes(store.MaxDraftBytes))
}

// codeBody is the editor's text as a file: browsers send a textarea's line
// breaks as CRLF, which would change every line of a file written with LF
// (and break a shell script), so they are made LF again.
func codeBody(s string) []byte {
	return []byte(strings.ReplaceAll(s, "\r\n", "\n"))
}

// codeSaveFile saves the editor's file, or returns why not (with a status).
func (s *Server) codeSaveFile(ctx context.Context, k store.DraftKey, p string, body []byte) (int, string, error) {
	if msg := codePathProblem(p); msg != "" {
		return http.StatusUnprocessableEntity, msg, nil
	}
	if msg := codeBodyProblem(p, body); msg != "" {
		return http.StatusRequestEntityTooLarge, msg, nil
	}
	err := s.db.SaveDraftFile(ctx, k, p, body, false)
	if errors.Is(err, store.ErrDraftFull) {
		return http.StatusRequestEntityTooLarge, codeFullMessage(), nil
	}
	return 0, "", err
}

func (s *Server) codeSave(w http.ResponseWriter, r *http.Request) {
	lc, k, ok := s.codeCtx(w, r)
	if !ok {
		return
	}
	if !s.allow(w, r, lc.User, actChange) {
		return
	}
	p := r.PostFormValue("path")
	status, msg, err := s.codeSaveFile(r.Context(), k, p, codeBody(r.PostFormValue("body")))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if msg != "" {
		if status == http.StatusRequestEntityTooLarge && r.Header.Get("X-Autosave") != "1" {
			status = http.StatusUnprocessableEntity // the page comes back with the text kept
		}
		s.codeRefused(w, r, lc, status, msg)
		return
	}
	if r.Header.Get("X-Autosave") == "1" {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.codeDone(w, r, lc, p, "Saved "+p+".")
}

func (s *Server) codeAdd(w http.ResponseWriter, r *http.Request) {
	lc, k, ok := s.codeCtx(w, r)
	if !ok {
		return
	}
	if !s.allow(w, r, lc.User, actChange) {
		return
	}
	p := strings.TrimSpace(r.PostFormValue("path"))
	if msg := codePathProblem(p); msg != "" {
		s.codeRefused(w, r, lc, http.StatusUnprocessableEntity, msg)
		return
	}
	err := s.db.SaveDraftFile(r.Context(), k, p, nil, true)
	switch {
	case errors.Is(err, store.ErrExists):
		s.codeRefused(w, r, lc, http.StatusConflict, fmt.Sprintf("The draft already has a file %s; pick another name.", p))
	case errors.Is(err, store.ErrDraftFull):
		s.codeRefused(w, r, lc, http.StatusUnprocessableEntity, codeFullMessage())
	case err != nil:
		s.serverError(w, r, err)
	default:
		s.codeDone(w, r, lc, p, "Added "+p+".")
	}
}

func (s *Server) codeRename(w http.ResponseWriter, r *http.Request) {
	lc, k, ok := s.codeCtx(w, r)
	if !ok {
		return
	}
	if !s.allow(w, r, lc.User, actChange) {
		return
	}
	from, to := r.PostFormValue("path"), strings.TrimSpace(r.PostFormValue("to"))
	if msg := codePathProblem(to); msg != "" {
		s.codeRefused(w, r, lc, http.StatusUnprocessableEntity, msg)
		return
	}
	if to == from {
		s.codeRefused(w, r, lc, http.StatusUnprocessableEntity, fmt.Sprintf("%s already has that name.", from))
		return
	}
	err := s.db.RenameDraftFile(r.Context(), k, from, to)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.codeRefused(w, r, lc, http.StatusConflict, fmt.Sprintf("The draft has no file %s (was it renamed or deleted in another window?).", from))
	case errors.Is(err, store.ErrExists):
		s.codeRefused(w, r, lc, http.StatusConflict, fmt.Sprintf("The draft already has a file %s; pick another name.", to))
	case errors.Is(err, store.ErrInvalid):
		s.codeRefused(w, r, lc, http.StatusUnprocessableEntity, fmt.Sprintf("%q cannot be a file path.", to))
	case err != nil:
		s.serverError(w, r, err)
	default:
		s.codeDone(w, r, lc, to, fmt.Sprintf("Renamed %s to %s.", from, to))
	}
}

func (s *Server) codeDelete(w http.ResponseWriter, r *http.Request) {
	lc, k, ok := s.codeCtx(w, r)
	if !ok {
		return
	}
	if !s.allow(w, r, lc.User, actChange) {
		return
	}
	p := r.PostFormValue("path")
	err := s.db.DeleteDraftFile(r.Context(), k, p)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.codeRefused(w, r, lc, http.StatusConflict, fmt.Sprintf("The draft has no file %s (was it renamed or deleted in another window?).", p))
	case err != nil:
		s.serverError(w, r, err)
	default:
		s.codeDone(w, r, lc, "", "Deleted "+p+".")
	}
}

func (s *Server) codeReset(w http.ResponseWriter, r *http.Request) {
	lc, k, ok := s.codeCtx(w, r)
	if !ok {
		return
	}
	if !s.allow(w, r, lc.User, actChange) {
		return
	}
	files, err := codeStarterFiles(lc.Lab, *lc.Fn)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if err := s.db.ReplaceDraft(r.Context(), k, files); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.codeDone(w, r, lc, "", fmt.Sprintf("Your draft of %s is the starter code again (%s). Deploy to run it.", lc.Fn.Name, codeCount(len(files), "file")))
}

// codeUpload replaces the draft with a zip's files. Anything wrong with
// the zip refuses all of it, with the reason, and the draft stays as it
// was.
func (s *Server) codeUpload(w http.ResponseWriter, r *http.Request) {
	lc, k, ok := s.codeCtx(w, r)
	if !ok {
		return
	}
	if !s.allow(w, r, lc.User, actChange) {
		return
	}
	tooBig := fmt.Sprintf("The zip is larger than %s, Lambda's limit for a package; your draft is unchanged.", codeBytes(codeMaxUpload))
	if r.ContentLength > codeMaxUpload+1<<20 {
		s.codeRefused(w, r, lc, http.StatusRequestEntityTooLarge, tooBig)
		return
	}
	f, hdr, err := r.FormFile("package")
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.codeRefused(w, r, lc, http.StatusRequestEntityTooLarge, tooBig)
			return
		}
		s.codeRefused(w, r, lc, http.StatusUnprocessableEntity, "Choose a .zip file to upload.")
		return
	}
	defer f.Close()
	if hdr.Size > codeMaxUpload {
		s.codeRefused(w, r, lc, http.StatusRequestEntityTooLarge, tooBig)
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, codeMaxUpload+1))
	if err != nil {
		s.serverError(w, r, fmt.Errorf("read upload: %w", err))
		return
	}
	if len(data) > codeMaxUpload {
		s.codeRefused(w, r, lc, http.StatusRequestEntityTooLarge, tooBig)
		return
	}
	files, msg := codeUnzip(data)
	if msg != "" {
		s.codeRefused(w, r, lc, http.StatusUnprocessableEntity, msg+" Your draft is unchanged.")
		return
	}
	err = s.db.ReplaceDraft(r.Context(), k, files)
	if errors.Is(err, store.ErrDraftFull) {
		s.codeRefused(w, r, lc, http.StatusUnprocessableEntity, codeFullMessage())
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	var total int64
	for _, f := range files {
		total += int64(len(f.Body))
	}
	s.codeDone(w, r, lc, "", fmt.Sprintf("Uploaded %s: your draft of %s is now its %s (%s). Deploy to run it.",
		path.Base(hdr.Filename), lc.Fn.Name, codeCount(len(files), "file"), codeBytes(total)))
}

// codeUnzip reads an uploaded package into draft files, or says (for the
// learner) why it will not: not a zip, a damaged one, entries that are
// links, absolute or leave the folder (zip slip), too many files or too
// many bytes. Sizes are checked as declared before anything is unpacked,
// and again as read, since a zip can lie about them.
func codeUnzip(data []byte) ([]store.DraftFile, string) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, "That file is not a zip archive that can be read."
	}
	var declared uint64
	var entries []*zip.File
	for _, f := range zr.File {
		name := f.Name
		mode := f.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			return nil, fmt.Sprintf("The zip entry %q is a symbolic link; a draft holds only regular files.", name)
		case strings.Contains(name, `\`):
			return nil, fmt.Sprintf("The zip entry %q uses backslashes in its path; zip paths use /.", name)
		case strings.HasPrefix(name, "/") || (len(name) > 1 && name[1] == ':'):
			return nil, fmt.Sprintf("The zip entry %q has an absolute path; entries must be relative to the package's top.", name)
		}
		clean := strings.TrimPrefix(name, "./")
		for _, part := range strings.Split(clean, "/") {
			if part == ".." {
				return nil, fmt.Sprintf("The zip entry %q points outside the package with .. (a zip slip).", name)
			}
		}
		if mode.IsDir() || strings.HasSuffix(clean, "/") {
			continue
		}
		if !mode.IsRegular() {
			return nil, fmt.Sprintf("The zip entry %q is not a regular file.", name)
		}
		if msg := codePathProblem(clean); msg != "" {
			return nil, "In the zip: " + msg
		}
		declared += f.UncompressedSize64
		entries = append(entries, f)
	}
	switch {
	case len(entries) == 0:
		return nil, "The zip holds no files."
	case len(entries) > store.MaxDraftFiles:
		return nil, fmt.Sprintf("The zip holds %d files; a draft holds at most %d.", len(entries), store.MaxDraftFiles)
	case declared > codepkg.MaxUnzipped:
		return nil, fmt.Sprintf("The zip unpacks to %s, over Lambda's limit of %s unzipped.", codeBytes(int64(declared)), codeBytes(codepkg.MaxUnzipped))
	case declared > store.MaxDraftBytes:
		return nil, fmt.Sprintf("The zip unpacks to %s; a draft holds at most %s of files.", codeBytes(int64(declared)), codeBytes(store.MaxDraftBytes))
	}
	seen := map[string]bool{}
	var files []store.DraftFile
	var total int64
	for _, f := range entries {
		p := strings.TrimPrefix(f.Name, "./")
		if seen[p] {
			return nil, fmt.Sprintf("The zip holds %s twice.", p)
		}
		seen[p] = true
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Sprintf("The zip entry %q cannot be unpacked (an unknown compression method or encryption).", f.Name)
		}
		b, err := io.ReadAll(io.LimitReader(rc, store.MaxDraftBytes-total+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Sprintf("The zip is damaged: %q cannot be unpacked.", f.Name)
		}
		if total += int64(len(b)); total > store.MaxDraftBytes {
			return nil, fmt.Sprintf("The zip unpacks to more than %s; a draft holds at most that much.", codeBytes(store.MaxDraftBytes))
		}
		files = append(files, store.DraftFile{Path: p, Body: b})
	}
	return files, ""
}

// codeZip is the draft packed as Lambda gets it (and as it downloads):
// the grader's deterministic zipper, so a draft zips to the same bytes,
// and the same CodeSha256, every time.
func codeZip(files []store.DraftFile) ([]byte, error) {
	fsys := fstest.MapFS{}
	for _, f := range files {
		fsys[f.Path] = &fstest.MapFile{Data: f.Body, Mode: 0o644}
	}
	return grader.ZipFolder(fsys)
}

func (s *Server) codeDownload(w http.ResponseWriter, r *http.Request) {
	lc, k, ok := s.codeCtx(w, r)
	if !ok {
		return
	}
	files, err := s.db.Draft(r.Context(), k)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	zip, err := codeZip(files)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("zip draft of %s: %w", lc.Fn.Name, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.zip"`, lc.Fn.Name))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", fmt.Sprint(len(zip)))
	w.Write(zip)
}

// setUpTimeout bounds setting a lab up: its seed objects and functions.
const setUpTimeout = 2 * time.Minute

// codeStart sets the lab up in the learner's account.
func (s *Server) codeStart(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.labFromPath(w, r)
	if !ok {
		return
	}
	runner := s.runner()
	if runner == nil {
		s.actionRefused(w, r, lc, "code", http.StatusServiceUnavailable,
			"The sandbox is still starting, so the lab cannot be set up yet. Try again in a moment.")
		return
	}
	if !s.allow(w, r, lc.User, actDeploy) {
		return
	}
	// Set-up goes on when the learner's browser gives up on the request (a
	// second click, a navigation): stopping halfway would leave buckets
	// without their seed objects until the next start.
	setUpCtx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), setUpTimeout)
	defer cancel()
	if err := runner.SetUp(setUpCtx, *lc.User, lc.Lab); err != nil {
		s.serverError(w, r, fmt.Errorf("set up lab %s: %w", lc.Lab.ID, err))
		return
	}
	var made []string
	for _, f := range lc.Lab.Functions {
		made = append(made, f.Name)
	}
	for _, b := range lc.Lab.Resources.Buckets {
		made = append(made, b.Name)
	}
	s.actionDone(w, r, lc, "code", "The lab is set up: "+strings.Join(made, ", ")+" are in your account.")
}

// codeDeploy zips the draft into the function's $LATEST. From the editor's
// form, the file in the editor is saved first, so what the learner sees is
// what is deployed. A function missing from the account is made first, as
// starting the lab makes it (the lab's configuration).
func (s *Server) codeDeploy(w http.ResponseWriter, r *http.Request) {
	lc, k, ok := s.codeCtx(w, r)
	if !ok {
		return
	}
	if !s.allow(w, r, lc.User, actDeploy) {
		return
	}
	ctx := r.Context()
	if r.PostForm.Has("path") && r.PostForm.Has("body") {
		_, msg, err := s.codeSaveFile(ctx, k, r.PostFormValue("path"), codeBody(r.PostFormValue("body")))
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if msg != "" {
			s.codeRefused(w, r, lc, http.StatusUnprocessableEntity, msg+" Nothing was deployed.")
			return
		}
	}
	files, err := s.db.Draft(ctx, k)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	zip, err := codeZip(files)
	var failure *grader.Failure
	if errors.As(err, &failure) {
		s.codeRefused(w, r, lc, http.StatusUnprocessableEntity, failure.Msg)
		return
	}
	if err != nil {
		s.serverError(w, r, fmt.Errorf("zip draft of %s: %w", lc.Fn.Name, err))
		return
	}
	fn := lc.Fn.Name
	if _, err := s.cloud.Lambda.GetFunctionConfiguration(ctx, lc.Account, fn, ""); codeMissing(err) {
		runner := s.runner()
		if runner == nil {
			s.codeRefused(w, r, lc, http.StatusServiceUnavailable,
				fmt.Sprintf("%s is not in your account yet, and the sandbox that creates it is still starting. Try again in a moment.", fn))
			return
		}
		setUpCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), setUpTimeout)
		defer cancel()
		if err := runner.SetUp(setUpCtx, *lc.User, lc.Lab); err != nil {
			s.serverError(w, r, fmt.Errorf("set up lab %s: %w", lc.Lab.ID, err))
			return
		}
	} else if err != nil {
		s.serverError(w, r, err)
		return
	}
	cfg, err := s.cloud.Lambda.UpdateFunctionCode(ctx, lc.Account, fn, lambda.UpdateCodeInput{ZipFile: zip})
	if msg, ok := refusal(err); ok {
		s.codeRefused(w, r, lc, http.StatusUnprocessableEntity, "Lambda refused the deployment: "+msg)
		return
	}
	if err != nil {
		s.serverError(w, r, fmt.Errorf("deploy %s: %w", fn, err))
		return
	}
	s.codeDone(w, r, lc, r.PostFormValue("file"), fmt.Sprintf("Deployed %s: CodeSha256 %s, CodeSize %s.", fn, cfg.CodeSha256, codeBytesExact(cfg.CodeSize)))
}

// codeMissing reports whether err is Lambda saying the function does not
// exist.
func codeMissing(err error) bool {
	le, ok := lambda.AsError(err)
	return ok && le.Type == "ResourceNotFoundException"
}

// codePanel renders the Code tab for lc's function.
func (s *Server) codePanel(r *http.Request, lc *labCtx, st panelState) (templ.Component, error) {
	if lc.Fn == nil {
		return templ.Raw(`<p class="notice">This lab has no function to write code for.</p>`), nil
	}
	ctx := r.Context()
	k, err := s.startDraft(ctx, lc)
	if err != nil {
		return nil, err
	}
	files, err := s.db.Draft(ctx, k)
	if err != nil {
		return nil, err
	}
	v := ui.CodePanelView{Lab: lc.Lab.ID, Fn: lc.Fn.Name, Limits: codeLimits, Starting: s.runner() == nil}
	for _, f := range lc.Lab.Functions {
		cfg, err := s.cloud.Lambda.GetFunctionConfiguration(ctx, lc.Account, f.Name, "")
		switch {
		case codeMissing(err):
			v.Missing = append(v.Missing, f.Name)
		case err != nil:
			return nil, fmt.Errorf("function %s: %w", f.Name, err)
		case f.Name == lc.Fn.Name:
			v.Deployed = &ui.CodeDeployed{CodeSha256: cfg.CodeSha256, CodeSize: codeBytesExact(cfg.CodeSize), LastModified: cfg.LastModified}
		}
	}
	if v.Deployed != nil {
		sha, err := codeDraftSha(k, files)
		if err == nil {
			v.Deployed.Same = sha == v.Deployed.CodeSha256
		}
	}
	var total int64
	for _, f := range files {
		total += f.Size
	}
	v.DraftSize = codeCount(len(files), "file") + ", " + codeBytes(total)

	want := r.FormValue("file")
	chosen := -1
	for i, f := range files {
		if f.Path == want {
			chosen = i
		}
	}
	if chosen < 0 {
		chosen = codeDefaultFile(files, *lc.Fn)
	}
	for i, f := range files {
		cf := ui.CodeFile{
			Path:     f.Path,
			URL:      codeFileURL(lc, f.Path),
			Size:     codeBytes(f.Size),
			Editable: f.Size <= codeMaxEdit && codeIsText(f.Body),
			Language: codeLanguage(f.Path),
			Current:  i == chosen,
		}
		if !cf.Editable {
			cf.Why = "binary"
			if codeIsText(f.Body) {
				cf.Why = "over " + codeBytes(codeMaxEdit)
			}
		}
		v.Files = append(v.Files, cf)
	}
	if chosen >= 0 {
		v.File = &v.Files[chosen]
		v.Body = string(files[chosen].Body)
		// A refused save comes back with what was typed, so nothing is lost.
		if st.Form != nil && st.Form.Has("body") && st.Form.Get("path") == v.File.Path {
			v.Body = string(codeBody(st.Form.Get("body")))
		}
	}
	if st.Form != nil {
		if strings.HasSuffix(r.URL.Path, "/draft/new") {
			v.NewPath = st.Form.Get("path")
		}
		v.RenameTo = st.Form.Get("to")
	}
	return ui.CodePanel(v), nil
}

// codeFileURL is the Code tab showing file p.
func codeFileURL(lc *labCtx, p string) string {
	u := labURL(lc.Lab.ID, "code", lc.fnName())
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "file=" + url.QueryEscape(p)
}

// codeDefaultFile is the file to show first: the one the handler names
// (app.py for app.handler), else the first; -1 for an empty draft.
func codeDefaultFile(files []store.DraftFile, fn labs.Function) int {
	if len(files) == 0 {
		return -1
	}
	module := fn.Handler
	if i := strings.LastIndex(module, "."); i > 0 {
		module = module[:i]
	}
	for _, ext := range []string{".py", ".mjs", ".js", ".cjs"} {
		for i, f := range files {
			if f.Path == module+ext {
				return i
			}
		}
	}
	for i, f := range files {
		if f.Path == "bootstrap" {
			return i
		}
	}
	return 0
}

// codeLanguage is the editor's highlighting for a file.
func codeLanguage(p string) string {
	switch strings.ToLower(path.Ext(p)) {
	case ".py":
		return "python"
	case ".js", ".mjs", ".cjs":
		return "javascript"
	case ".json":
		return "json"
	}
	return "text"
}

// codeShas remembers each draft's CodeSha256 for the files it was zipped
// from, so that showing the panel does not zip an unchanged draft again.
var codeShas struct {
	sync.Mutex
	m map[store.DraftKey][2]string // fingerprint, sha
}

// codeDraftSha is the CodeSha256 the draft would deploy as.
func codeDraftSha(k store.DraftKey, files []store.DraftFile) (string, error) {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%q %d %d\n", f.Path, f.Size, f.UpdatedAt.UnixNano())
	}
	fp := hex.EncodeToString(h.Sum(nil))
	codeShas.Lock()
	got, ok := codeShas.m[k]
	codeShas.Unlock()
	if ok && got[0] == fp {
		return got[1], nil
	}
	zip, err := codeZip(files)
	if err != nil {
		return "", err
	}
	sha := codeSha256(zip)
	codeShas.Lock()
	defer codeShas.Unlock()
	if codeShas.m == nil || len(codeShas.m) >= 4096 {
		codeShas.m = map[store.DraftKey][2]string{}
	}
	codeShas.m[k] = [2]string{fp, sha}
	return sha, nil
}

// codeSha256 is a package's CodeSha256 as Lambda reports it: the
// base64 SHA-256 of the zip.
func codeSha256(zip []byte) string {
	sum := sha256.Sum256(zip)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// codeBytes is a size for people: "512 bytes", "1.2 KB", "50 MB".
func codeBytes(n int64) string {
	switch {
	case n < 1<<10:
		return codeCount(int(n), "byte")
	case n < 1<<20:
		return codeUnit(float64(n)/(1<<10), "KB")
	default:
		return codeUnit(float64(n)/(1<<20), "MB")
	}
}

func codeUnit(x float64, unit string) string {
	if x >= 10 || x == float64(int64(x)) {
		return fmt.Sprintf("%.0f %s", x, unit)
	}
	return fmt.Sprintf("%.1f %s", x, unit)
}

// codeBytesExact is a size in bytes, as Lambda reports it, with the
// rounded size beside it once that says more.
func codeBytesExact(n int64) string {
	exact := codeCount(int(n), "byte")
	if n < 1<<10 {
		return exact
	}
	return exact + " (" + codeBytes(n) + ")"
}

// codeCount is n things: "1 file", "3 files".
func codeCount(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
