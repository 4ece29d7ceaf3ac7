package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"lambdalab/store"
)

type ctxKey int

const (
	userKey ctxKey = iota
	nonceKey
	clientInfoKey
)

// styleNonce is the request's CSP nonce for <style> elements: the code
// editor (CodeMirror) injects its styles as <style> tags and tags them with
// the nonce the page hands it (EditorView.cspNonce). Empty outside a request.
func styleNonce(ctx context.Context) string {
	n, _ := ctx.Value(nonceKey).(string)
	return n
}

// userFrom returns the signed-in user, or nil for an anonymous reader.
func userFrom(ctx context.Context) *store.User {
	u, _ := ctx.Value(userKey).(*store.User)
	return u
}

// sessionCookie holds the random session token; the database keeps only
// its hash.
const sessionCookie = "lambdalab_session"

// loadSession puts the signed-in user, if any, into the request context.
// Paths that never show who is signed in skip the lookup.
func (s *Server) loadSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if skipSession(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		c, err := r.Cookie(sessionCookie)
		if err != nil || c.Value == "" {
			next.ServeHTTP(w, r)
			return
		}
		u, err := s.db.UseSession(r.Context(), c.Value, s.sessionTTL, s.sessionIdle)
		if errors.Is(err, store.ErrNotFound) {
			// Expired or signed out elsewhere: forget the cookie, carry on anonymous.
			clearSessionCookie(w, r)
			next.ServeHTTP(w, r)
			return
		}
		if err != nil {
			s.serverError(w, r, fmt.Errorf("look up session: %w", err))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey, &u)))
	})
}

func skipSession(path string) bool {
	return strings.HasPrefix(path, "/static/") || strings.HasPrefix(path, "/content/") ||
		path == "/healthz" || path == "/highlight.css" || path == "/_author/events"
}

// beginSession signs u in on this browser: a new session and its cookie.
// The session the browser's cookie held before, if any, is ended rather
// than left live beside the new one (signing in again, or as someone
// else, on a shared machine). Call it from every handler that signs in.
func (s *Server) beginSession(w http.ResponseWriter, r *http.Request, u store.User) error {
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		if err := s.db.DeleteSession(r.Context(), c.Value); err != nil {
			return fmt.Errorf("end previous session: %w", err)
		}
	}
	// The first deadline is the idle one; each use moves it (see loadSession).
	first := s.sessionTTL
	if s.sessionIdle > 0 && s.sessionIdle < first {
		first = s.sessionIdle
	}
	token, err := s.db.CreateSession(r.Context(), u.ID, first)
	if err != nil {
		return fmt.Errorf("create session for user %d: %w", u.ID, err)
	}
	// The cookie lasts the whole lifetime; an idle end is the server's to
	// enforce, and loadSession clears a cookie whose session has gone.
	setSessionCookie(w, r, token, s.sessionTTL)
	return nil
}

func setSessionCookie(w http.ResponseWriter, r *http.Request, token string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    token,
		Path:     "/",
		MaxAge:   int(ttl / time.Second),
		HttpOnly: true,
		Secure:   isHTTPS(r),
		SameSite: http.SameSiteLaxMode,
	})
}

func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   isHTTPS(r),
		SameSite: http.SameSiteLaxMode,
	})
}

// limitBody caps every request body; handlers see a *http.MaxBytesError
// when a client sends more.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := s.maxBody
		if strings.HasPrefix(r.URL.Path, "/labs/") && limit < maxLabBody {
			// Package and object uploads; each workspace route caps its own
			// body tighter (http.MaxBytesReader) where it takes less.
			limit = maxLabBody
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// maxLabBody caps a workspace request body: a 50 MB deployment package
// (Lambda's zipped limit) sent as a multipart form, with room to spare.
const maxLabBody = 60 << 20

// securityHeaders sets the headers every response carries. The policy
// allows only our own scripts, styles and images: lesson HTML is trusted,
// but nothing on the page needs anything else. The one exception is a
// per-request nonce for the <style> elements the code editor injects.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [16]byte
		rand.Read(b[:])
		nonce := base64.RawStdEncoding.EncodeToString(b[:])
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'nonce-"+nonce+"'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
		if isHTTPS(r) {
			// A year, and only this host: a class site often shares its
			// parent domain with hosts that are not ours to pin to HTTPS.
			// Browsers ignore the header on plain HTTP, so it is sent only
			// when it can take effect.
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), nonceKey, nonce)))
	})
}

// recoverPanics turns a panic in a handler into the 500 page.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.serverError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// logRequests writes one line per request. It logs the path (capped) and
// the client's address but not the query, cookies or body, so no token or
// password reaches the log.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		s.logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", capPath(r.URL.Path)),
			slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int64("bytes", sw.bytes),
			slog.String("client", clientIP(r)),
		)
	})
}

// maxLoggedPath is how much of a path a log line prints: enough for any
// page of the site, while a client's 64 KB path cannot flood the log.
const maxLoggedPath = 256

// capPath shortens a path past maxLoggedPath at a character boundary and
// says how much was left out.
func capPath(p string) string {
	if len(p) <= maxLoggedPath {
		return p
	}
	cut := maxLoggedPath
	for cut > 0 && !utf8.RuneStart(p[cut]) {
		cut--
	}
	return p[:cut] + fmt.Sprintf("…[%d more bytes]", len(p)-cut)
}

// statusWriter records what a handler sent. Unwrap lets
// http.ResponseController reach Flush and deadlines underneath.
type statusWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// allowProbes are the methods a 405's Allow header may name.
var allowProbes = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// withFallbacks serves mux, and answers what it has no route for with the
// site's pages: 405 and an Allow header when the path has routes for other
// methods (a form posted to a page, a bookmarked POST URL), else 404. The
// mux's own answers for these are bare text.
func (s *Server) withFallbacks(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// Asking the mux about each other method finds what the path allows
		// without keeping a second list of routes. It only runs on a miss.
		var allow []string
		for _, m := range allowProbes {
			probe := r.WithContext(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			s.notFoundPage(w, r)
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.errorPage(w, r, http.StatusMethodNotAllowed, "Not allowed here",
			"This address does not take that kind of request. If you followed a link or sent a form, go back and try again from the page.")
	})
}

// siteNotFound turns h's own 404 into the site's 404 page, for handlers
// (static files) that answer misses in plain text.
func (s *Server) siteNotFound(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nw := &notFoundWriter{ResponseWriter: w}
		h.ServeHTTP(nw, r)
		if nw.notFound {
			s.notFoundPage(w, r)
		}
	})
}

// notFoundWriter swallows a 404 and its body so that the caller can write
// its own page instead; any other response passes through.
type notFoundWriter struct {
	http.ResponseWriter
	notFound, started bool
}

func (w *notFoundWriter) WriteHeader(code int) {
	if !w.started && code == http.StatusNotFound {
		w.notFound = true
	}
	w.started = true
	if !w.notFound {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *notFoundWriter) Write(b []byte) (int, error) {
	w.started = true
	if w.notFound {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *notFoundWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
