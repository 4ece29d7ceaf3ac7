package web

import (
	"encoding/json"
	"fmt"
	"net/http"

	"lambdalab/store"
	"lambdalab/web/ui"
)

// requireUser returns the signed-in user, or sends the reader to sign in
// (coming back to back) and returns nil.
func (s *Server) requireUser(w http.ResponseWriter, r *http.Request, back string) *store.User {
	u := userFrom(r.Context())
	if u == nil {
		http.Redirect(w, r, "/login?next="+urlQueryEscape(back), http.StatusSeeOther)
	}
	return u
}

// submitQuiz grades a quiz on the server, keeps the attempt, and sends the
// student back to the lesson, where the graded result replaces the form.
func (s *Server) submitQuiz(w http.ResponseWriter, r *http.Request) {
	_, l, ok := s.lessonFromPath(w, r)
	if !ok {
		return
	}
	quizID := r.PathValue("quiz")
	quiz, ok := l.Quiz(quizID)
	if !ok {
		s.notFoundPage(w, r)
		return
	}
	u := s.requireUser(w, r, ui.LessonURL(l.Slug)+"#quiz-"+quizID)
	if u == nil {
		return
	}
	if err := r.ParseForm(); err != nil {
		s.badForm(w, r, err)
		return
	}
	answers := make(map[string][]string, len(quiz.Questions))
	for _, q := range quiz.Questions {
		answers[q.ID] = r.PostForm[q.ID]
	}
	g := quiz.Grade(answers)
	// Keep only what grading recognised: valid choice ids, in choice order.
	kept := make(map[string][]string, len(g.Questions))
	for _, qg := range g.Questions {
		if len(qg.Chosen) > 0 {
			kept[qg.Question.ID] = qg.Chosen
		}
	}
	js, err := json.Marshal(kept)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("encode quiz answers: %w", err))
		return
	}
	res := store.QuizResult{UserID: u.ID, Lesson: l.Slug, Quiz: quiz.ID, Score: g.Score, Total: g.Total, Answers: string(js)}
	err = s.db.SaveQuizResult(r.Context(), res)
	s.progressCache.invalidate(u.ID)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("save quiz %s of %s: %w", quiz.ID, l.Slug, err))
		return
	}
	http.Redirect(w, r, ui.LessonURL(l.Slug)+"#quiz-"+quiz.ID, http.StatusSeeOther)
}

func (s *Server) markComplete(w http.ResponseWriter, r *http.Request) {
	s.setComplete(w, r, true)
}

func (s *Server) markIncomplete(w http.ResponseWriter, r *http.Request) {
	s.setComplete(w, r, false)
}

func (s *Server) setComplete(w http.ResponseWriter, r *http.Request, done bool) {
	_, l, ok := s.lessonFromPath(w, r)
	if !ok {
		return
	}
	u := s.requireUser(w, r, ui.LessonURL(l.Slug))
	if u == nil {
		return
	}
	var err error
	if done {
		err = s.db.MarkLessonComplete(r.Context(), u.ID, l.Slug)
	} else {
		err = s.db.UnmarkLessonComplete(r.Context(), u.ID, l.Slug)
	}
	s.progressCache.invalidate(u.ID)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("set lesson %s complete=%t: %w", l.Slug, done, err))
		return
	}
	http.Redirect(w, r, ui.LessonURL(l.Slug)+"#lesson-actions", http.StatusSeeOther)
}
