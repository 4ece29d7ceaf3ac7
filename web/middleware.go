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

	"lambdalab/store"
)

type ctxKey int

const (
	userKey ctxKey = iota
	nonceKey
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
		u, err := s.db.SessionUser(r.Context(), c.Value)
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

func setSessionCookie(w http.ResponseWriter, r *http.Request, token string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    token,
		Path:     "/",
		MaxAge:   int(ttl / time.Second),
		HttpOnly: true,
		Secure:   r.TLS != nil,
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
		Secure:   r.TLS != nil,
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

// logRequests writes one line per request. It logs the path but not the
// query, cookies or body, so no token or password reaches the log.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		s.logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int64("bytes", sw.bytes),
		)
	})
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
