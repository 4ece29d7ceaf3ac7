package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// maxSlugLen bounds lesson and quiz names: they come from URLs and forms.
const maxSlugLen = 200

// maxAnswersLen bounds the stored JSON of one quiz attempt.
const maxAnswersLen = 64 << 10

func checkSlug(kind, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalid, kind)
	}
	if len(s) > maxSlugLen {
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalid, kind, maxSlugLen)
	}
	return checkText(kind, s)
}

// MarkLessonComplete records that the user finished lesson. Marking it again
// keeps the first completion time. ErrNotFound if there is no such user.
func (db *DB) MarkLessonComplete(ctx context.Context, userID int64, lesson string) error {
	if err := checkSlug("lesson", lesson); err != nil {
		return fmt.Errorf("mark lesson complete for user %d: %w", userID, err)
	}
	_, err := db.conn.ExecContext(ctx,
		`INSERT INTO lesson_completions (user_id, lesson, completed_at) VALUES ($1, $2, $3)
		 ON CONFLICT (user_id, lesson) DO NOTHING`,
		userID, lesson, toNanos(db.now()))
	if isForeignKeyViolation(err) {
		return fmt.Errorf("mark lesson %s complete for user %d: user %w", lesson, userID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("mark lesson %s complete for user %d: %w", lesson, userID, err)
	}
	return nil
}

// UnmarkLessonComplete forgets that the user finished lesson. Unmarking a
// lesson that was not complete is not an error; a lesson name that could
// not have been marked (text PostgreSQL cannot hold) is ErrInvalid, as
// MarkLessonComplete would say.
func (db *DB) UnmarkLessonComplete(ctx context.Context, userID int64, lesson string) error {
	if err := checkText("lesson", lesson); err != nil {
		return fmt.Errorf("unmark lesson for user %d: %w", userID, err)
	}
	if _, err := db.conn.ExecContext(ctx,
		"DELETE FROM lesson_completions WHERE user_id = $1 AND lesson = $2", userID, lesson); err != nil {
		return fmt.Errorf("unmark lesson %s for user %d: %w", lesson, userID, err)
	}
	return nil
}

// QuizResult is one attempt at one quiz.
type QuizResult struct {
	UserID int64
	Lesson string
	Quiz   string
	Score  int // correct answers, 0..Total
	Total  int // questions, at least 1
	// Answers is the submitted answers as JSON, kept for the instructor. Empty
	// is stored as "null".
	Answers string
	At      time.Time // zero means now
}

// SaveQuizResult stores an attempt. Every attempt is kept; Progress reports
// the latest. ErrNotFound if there is no such user.
func (db *DB) SaveQuizResult(ctx context.Context, r QuizResult) error {
	if err := checkQuizResult(&r); err != nil {
		return fmt.Errorf("save quiz result for user %d: %w", r.UserID, err)
	}
	if r.At.IsZero() {
		r.At = db.now()
	}
	_, err := db.conn.ExecContext(ctx,
		`INSERT INTO quiz_results (user_id, lesson, quiz, score, total, answers, at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		r.UserID, r.Lesson, r.Quiz, r.Score, r.Total, r.Answers, toNanos(r.At))
	if isForeignKeyViolation(err) {
		return fmt.Errorf("save quiz result %s/%s for user %d: user %w", r.Lesson, r.Quiz, r.UserID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("save quiz result %s/%s for user %d: %w", r.Lesson, r.Quiz, r.UserID, err)
	}
	return nil
}

func checkQuizResult(r *QuizResult) error {
	if err := checkSlug("lesson", r.Lesson); err != nil {
		return err
	}
	if err := checkSlug("quiz", r.Quiz); err != nil {
		return err
	}
	if r.Total < 1 {
		return fmt.Errorf("%w: quiz total %d is less than 1", ErrInvalid, r.Total)
	}
	if r.Score < 0 || r.Score > r.Total {
		return fmt.Errorf("%w: quiz score %d is outside 0..%d", ErrInvalid, r.Score, r.Total)
	}
	if r.Answers == "" {
		r.Answers = "null"
	}
	if len(r.Answers) > maxAnswersLen {
		return fmt.Errorf("%w: quiz answers longer than %d bytes", ErrInvalid, maxAnswersLen)
	}
	if !json.Valid([]byte(r.Answers)) {
		return fmt.Errorf("%w: quiz answers are not valid JSON", ErrInvalid)
	}
	// json.Valid lets invalid UTF-8 through inside strings.
	if !fitsText(r.Answers) {
		return fmt.Errorf("%w: quiz answers are not valid UTF-8", ErrInvalid)
	}
	return nil
}

// RecordVisit remembers lesson as the one the user last opened, for the
// resume link. ErrNotFound if there is no such user.
func (db *DB) RecordVisit(ctx context.Context, userID int64, lesson string) error {
	if err := checkSlug("lesson", lesson); err != nil {
		return fmt.Errorf("record visit for user %d: %w", userID, err)
	}
	_, err := db.conn.ExecContext(ctx,
		`INSERT INTO lesson_visits (user_id, lesson, at) VALUES ($1, $2, $3)
		 ON CONFLICT (user_id) DO UPDATE SET lesson = excluded.lesson, at = excluded.at`,
		userID, lesson, toNanos(db.now()))
	if isForeignKeyViolation(err) {
		return fmt.Errorf("record visit to %s for user %d: user %w", lesson, userID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("record visit to %s for user %d: %w", lesson, userID, err)
	}
	return nil
}

// Progress is one user's state in the course.
type Progress struct {
	Completed map[string]time.Time  // lesson slug → when it was first marked complete
	Quizzes   map[string]QuizResult // "lesson/quiz" → latest attempt
	// QuizStats holds, for each quiz in Quizzes, the attempt count and the
	// best attempt: the grades an instructor reads.
	QuizStats map[string]QuizStats
	// LastLesson is the lesson of the user's latest activity (a completion, a
	// quiz attempt or a visit) and LastAt when it happened; empty and zero
	// when the user has done nothing yet.
	LastLesson string
	LastAt     time.Time
}

// QuizStats sums up every attempt of one user at one quiz.
type QuizStats struct {
	Attempts int
	// Best is the attempt with the highest share of right answers, the
	// earliest of equals; Progress.Quizzes holds the latest.
	Best QuizResult
}

func newProgress() Progress {
	return Progress{Completed: map[string]time.Time{}, Quizzes: map[string]QuizResult{}, QuizStats: map[string]QuizStats{}}
}

func (p *Progress) touch(lesson string, at time.Time) {
	if p.LastLesson == "" || at.After(p.LastAt) {
		p.LastLesson, p.LastAt = lesson, at
	}
}

// Progress returns the user's progress; maps are never nil. ErrNotFound if
// there is no such user.
func (db *DB) Progress(ctx context.Context, userID int64) (Progress, error) {
	if _, err := db.UserByID(ctx, userID); err != nil {
		return Progress{}, fmt.Errorf("progress: %w", err)
	}
	all, err := db.progress(ctx, userID)
	if err != nil {
		return Progress{}, fmt.Errorf("progress of user %d: %w", userID, err)
	}
	if p, ok := all[userID]; ok {
		return p, nil
	}
	return newProgress(), nil
}

// StudentProgress is one row of the instructor's class view.
type StudentProgress struct {
	User     User
	Progress Progress
}

// ClassProgress returns every user (instructors included) with their
// progress, ordered by email.
func (db *DB) ClassProgress(ctx context.Context) ([]StudentProgress, error) {
	users, err := db.Users(ctx)
	if err != nil {
		return nil, fmt.Errorf("class progress: %w", err)
	}
	all, err := db.progress(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("class progress: %w", err)
	}
	out := make([]StudentProgress, 0, len(users))
	for _, u := range users {
		p, ok := all[u.ID]
		if !ok {
			p = newProgress()
		}
		out = append(out, StudentProgress{User: u, Progress: p})
	}
	return out, nil
}

// progress loads progress for one user, or for everyone when userID is 0,
// in three queries whatever the number of users.
func (db *DB) progress(ctx context.Context, userID int64) (map[int64]Progress, error) {
	all := map[int64]Progress{}
	get := func(id int64) Progress {
		p, ok := all[id]
		if !ok {
			p = newProgress()
		}
		return p
	}
	// Two fixed filters rather than "? = 0 OR user_id = ?", which would stop
	// SQLite from using the user_id indexes for the one-user case.
	filter, args := "", []any(nil)
	if userID != 0 {
		filter, args = " WHERE user_id = $1", []any{userID}
	}
	rows, err := db.conn.QueryContext(ctx,
		"SELECT user_id, lesson, completed_at FROM lesson_completions"+filter, args...)
	if err != nil {
		return nil, fmt.Errorf("read completions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id     int64
			lesson string
			at     int64
		)
		if err := rows.Scan(&id, &lesson, &at); err != nil {
			return nil, fmt.Errorf("read completions: %w", err)
		}
		p := get(id)
		p.Completed[lesson] = fromNanos(at)
		p.touch(lesson, fromNanos(at))
		all[id] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read completions: %w", err)
	}
	rows.Close()

	// Per (user, lesson, quiz): the latest attempt (ties on time go to the
	// later insert), the best (by share of right answers, since a quiz may
	// have changed length between attempts; ties go to the earlier), and
	// the number of attempts. One row may be both latest and best.
	// PostgreSQL wants the derived table named, and its REAL is 4 bytes:
	// DOUBLE PRECISION is 8 on both engines (SQLite reads it as REAL), and
	// equal shares such as 2/3 and 4/6 then round to the same double.
	rows, err = db.conn.QueryContext(ctx,
		`SELECT user_id, lesson, quiz, score, total, answers, at, last_rn = 1, best_rn = 1, attempts FROM (
		   SELECT user_id, lesson, quiz, score, total, answers, at,
		          row_number() OVER (PARTITION BY user_id, lesson, quiz ORDER BY at DESC, id DESC) AS last_rn,
		          row_number() OVER (PARTITION BY user_id, lesson, quiz ORDER BY CAST(score AS DOUBLE PRECISION) / total DESC, at, id) AS best_rn,
		          count(*) OVER (PARTITION BY user_id, lesson, quiz) AS attempts
		   FROM quiz_results`+filter+`
		 ) AS q WHERE last_rn = 1 OR best_rn = 1`, args...)
	if err != nil {
		return nil, fmt.Errorf("read quiz results: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r            QuizResult
			at           int64
			latest, best bool
			attempts     int
		)
		if err := rows.Scan(&r.UserID, &r.Lesson, &r.Quiz, &r.Score, &r.Total, &r.Answers, &at, &latest, &best, &attempts); err != nil {
			return nil, fmt.Errorf("read quiz results: %w", err)
		}
		r.At = fromNanos(at)
		key := r.Lesson + "/" + r.Quiz
		p := get(r.UserID)
		if latest {
			p.Quizzes[key] = r
			p.touch(r.Lesson, r.At)
		}
		st := p.QuizStats[key]
		st.Attempts = attempts
		if best {
			st.Best = r
		}
		p.QuizStats[key] = st
		all[r.UserID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read quiz results: %w", err)
	}
	rows.Close()

	rows, err = db.conn.QueryContext(ctx,
		"SELECT user_id, lesson, at FROM lesson_visits"+filter, args...)
	if err != nil {
		return nil, fmt.Errorf("read visits: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id     int64
			lesson string
			at     int64
		)
		if err := rows.Scan(&id, &lesson, &at); err != nil {
			return nil, fmt.Errorf("read visits: %w", err)
		}
		p := get(id)
		p.touch(lesson, fromNanos(at))
		all[id] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read visits: %w", err)
	}
	return all, nil
}
