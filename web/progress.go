package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"lambdalab/content"
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
	answers, msg := quizAnswers(quiz, r.PostForm)
	if msg != "" {
		// Saved as a 0 it would be an attempt, and could hide a better one.
		s.errorPage(w, r, http.StatusBadRequest, "Answers not checked", msg)
		return
	}
	g := quiz.Grade(answers)
	// Keep only what grading recognised: valid choice ids, in choice order.
	kept := make(map[string][]string, len(g.Questions))
	for _, qg := range g.Questions {
		if len(qg.Chosen) > 0 {
			kept[qg.Question.ID] = qg.Chosen
		}
	}
	if len(kept) == 0 {
		s.errorPage(w, r, http.StatusBadRequest, "Answers not checked",
			"None of the answers sent belong to this quiz. Go back to the lesson, choose your answers and check them again.")
		return
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

// maxExtraFields is how many form fields beyond the quiz's questions a
// submission may carry (a browser sends none; room for an extension's).
const maxExtraFields = 10

// quizAnswers picks a quiz's answers out of a submitted form, or returns a
// message for a submission that is empty or that no browser would send:
// more values for a question than it has choices, two for a single-choice
// question, or far more fields than the quiz has questions.
func quizAnswers(quiz *content.Quiz, form url.Values) (map[string][]string, string) {
	if len(form) > len(quiz.Questions)+maxExtraFields {
		return nil, "This submission has more fields than the quiz has questions. Go back to the lesson and check your answers there."
	}
	answers := make(map[string][]string, len(quiz.Questions))
	for _, q := range quiz.Questions {
		v := form[q.ID]
		if len(v) > len(q.Choices) || (!q.Multiple && len(v) > 1) {
			return nil, "This submission has more answers to a question than it allows. Go back to the lesson and check your answers there."
		}
		if len(v) > 0 {
			answers[q.ID] = v
		}
	}
	if len(answers) == 0 {
		return nil, "Choose an answer to at least one question, then check your answers."
	}
	return answers, ""
}
