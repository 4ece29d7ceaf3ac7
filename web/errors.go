package web

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/a-h/templ"

	"lambdalab/web/ui"
)

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render writes a component as a complete HTML response. It renders into a
// buffer first so a failure can still become a clean 500 page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := c.Render(r.Context(), buf); err != nil {
		s.serverError(w, r, fmt.Errorf("render page: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (s *Server) siteFor(r *http.Request) ui.Site {
	site := s.site(userFrom(r.Context()))
	site.StyleNonce = styleNonce(r.Context())
	return site
}

// serverError logs err under a short reference and shows the reader only
// that reference.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	var b [3]byte
	rand.Read(b[:])
	ref := hex.EncodeToString(b[:])
	s.logger.ErrorContext(r.Context(), "request failed", "ref", ref, "method", r.Method, "path", r.URL.Path, "err", err)
	page := ui.ErrorPage(s.siteFor(r), http.StatusInternalServerError, "Something went wrong",
		"The cause has been logged. Please try again in a moment.", ref)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusInternalServerError)
	if err := page.Render(r.Context(), w); err != nil {
		s.logger.ErrorContext(r.Context(), "render error page", "ref", ref, "err", err)
	}
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	s.render(w, r, status, ui.ErrorPage(s.siteFor(r), status, heading, message, ""))
}

func (s *Server) notFoundPage(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, http.StatusNotFound, "Page not found",
		"There is no page at this address. It may have moved, or the link may be mistyped.")
}

func (s *Server) forbidden(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, http.StatusForbidden, "Not allowed",
		"This page is for instructors. Your account does not have access to it.")
}

func (s *Server) crossOriginDenied(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, http.StatusForbidden, "Request refused",
		"This form was sent from another site, so it was refused to protect your account. Go back to lambdalab and try again there.")
}

// badForm answers a form that could not be read: too large, or malformed.
func (s *Server) badForm(w http.ResponseWriter, r *http.Request, err error) {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		s.errorPage(w, r, http.StatusRequestEntityTooLarge, "Too much data",
			"The form you sent is larger than this site accepts. Nothing was saved.")
		return
	}
	s.errorPage(w, r, http.StatusBadRequest, "Unreadable form",
		"The form you sent could not be read. Nothing was saved; please try again.")
}
