package web

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"time"

	"lambdalab/content"
	"lambdalab/store"
	"lambdalab/web/ui"
)

// course returns the course to serve. In author mode a failed load is shown
// as a page naming the file and line, and ok is false.
func (s *Server) course(w http.ResponseWriter, r *http.Request) (*content.Course, bool) {
	st := s.state.Load()
	switch {
	case st == nil:
		s.errorPage(w, r, http.StatusServiceUnavailable, "Course loading", "The course is still loading. Try again in a moment.")
		return nil, false
	case st.err != nil:
		s.render(w, r, http.StatusInternalServerError, ui.ContentError(s.siteFor(r), st.err.Error()))
		return nil, false
	}
	return st.course, true
}

// lessonFromPath is the lesson named by the {slug} path value, or a 404
// page (or the course's load-error page) already written.
func (s *Server) lessonFromPath(w http.ResponseWriter, r *http.Request) (*content.Course, *content.Lesson, bool) {
	c, ok := s.course(w, r)
	if !ok {
		return nil, nil, false
	}
	l, ok := c.Lesson(r.PathValue("slug"))
	if !ok {
		s.notFoundPage(w, r)
		return nil, nil, false
	}
	return c, l, true
}

// progress returns the user's progress, or empty progress for a reader who
// is not signed in. The maps are shared with the cache: read them only.
func (s *Server) progress(ctx context.Context, u *store.User) (store.Progress, error) {
	if u == nil {
		return store.Progress{}, nil
	}
	p, version, ok := s.progressCache.get(u.ID)
	if ok {
		return p, nil
	}
	p, err := s.db.Progress(ctx, u.ID)
	if err != nil {
		return store.Progress{}, fmt.Errorf("progress of user %d: %w", u.ID, err)
	}
	s.progressCache.put(u.ID, version, p)
	return p, nil
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	c, ok := s.course(w, r)
	if !ok {
		return
	}
	u := userFrom(r.Context())
	p, err := s.progress(r.Context(), u)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	states, err := s.labStates(r.Context(), u)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, ui.Home(s.site(u), homeView(c, p, u != nil), courseLabs(s.allLabs(), states, u != nil)))
}

func (s *Server) lesson(w http.ResponseWriter, r *http.Request) {
	c, l, ok := s.lessonFromPath(w, r)
	if !ok {
		return
	}
	u := userFrom(r.Context())
	p, err := s.progress(r.Context(), u)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := ui.LessonView{Lesson: l, SignedIn: u != nil, Nav: navView(c, p, l)}
	site := s.site(u)
	v.Calculators, site.Scripts = lessonCalculators(l, r.URL.Query())
	if u != nil {
		if r.Method != http.MethodHead {
			// A HEAD (a link checker, a preview) reads no lesson.
			s.recordVisit(r.Context(), u.ID, l.Slug)
		}
		if at, done := p.Completed[l.Slug]; done {
			v.Done, v.DoneAt = true, formatTime(at)
		}
		v.Results = quizResults(l, p, r.URL.Query().Get("retry"))
	}
	states, err := s.labStates(r.Context(), u)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, ui.LessonPage(site, v, courseLabs(s.allLabs(), states, u != nil)))
}

// recordVisit remembers the lesson for the home page's resume link. Reading
// the same lesson again changes nothing, so only a move to another lesson
// is written; a failure costs only the resume hint, so it is logged, not shown.
func (s *Server) recordVisit(ctx context.Context, userID int64, slug string) {
	s.visits.Lock()
	same := s.lastSeen[userID] == slug
	s.lastSeen[userID] = slug
	s.visits.Unlock()
	if same {
		return
	}
	err := s.db.RecordVisit(ctx, userID, slug)
	s.progressCache.invalidate(userID)
	if err != nil {
		s.logger.WarnContext(ctx, "record visit", "user_id", userID, "lesson", slug, "err", err)
		s.visits.Lock()
		delete(s.lastSeen, userID)
		s.visits.Unlock()
	}
}

func (s *Server) courseAsset(w http.ResponseWriter, r *http.Request) {
	c, ok := s.course(w, r)
	if !ok {
		return
	}
	name := r.PathValue("path")
	// Only images are served: lessons and quiz sources stay private, so quiz
	// answers cannot be fetched from /content/.
	if !fs.ValidPath(name) || !content.IsImage(name) || c.Assets == nil {
		s.notFoundPage(w, r)
		return
	}
	info, err := fs.Stat(c.Assets, name)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !info.Mode().IsRegular()) {
		s.notFoundPage(w, r)
		return
	}
	if err != nil {
		s.serverError(w, r, fmt.Errorf("stat course asset %s: %w", name, err))
		return
	}
	// An SVG opened on its own could run script; sandbox it.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	w.Header().Set("Cache-Control", "public, max-age=300")
	http.ServeFileFS(w, r, c.Assets, name)
}

func (s *Server) highlight(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("ETag", `"`+s.highlightETag+`"`)
	if r.URL.Query().Get("v") == s.highlightETag {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	if r.Header.Get("If-None-Match") == `"`+s.highlightETag+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(s.highlightCSS)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.db.Ping(ctx); err != nil {
		s.logger.WarnContext(ctx, "health check failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "database unavailable")
		return
	}
	fmt.Fprintln(w, "ok")
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2 Jan 2006 15:04")
}
