package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLessonCompletion(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	clock := newFakeClock()
	db.now = clock.Now
	u, err := db.CreateUser(ctx, "p@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	first := clock.Now()
	if err := db.MarkLessonComplete(ctx, u.ID, "intro"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	// Idempotent: a second mark neither fails nor moves the date.
	if err := db.MarkLessonComplete(ctx, u.ID, "intro"); err != nil {
		t.Fatalf("second mark: %v", err)
	}
	if err := db.MarkLessonComplete(ctx, u.ID, "cold-starts"); err != nil {
		t.Fatal(err)
	}
	p, err := db.Progress(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Completed) != 2 || !p.Completed["intro"].Equal(first) || !p.Completed["cold-starts"].Equal(clock.Now()) {
		t.Errorf("Completed = %v; want intro at %v and cold-starts at %v", p.Completed, first, clock.Now())
	}

	if err := db.UnmarkLessonComplete(ctx, u.ID, "intro"); err != nil {
		t.Fatal(err)
	}
	if err := db.UnmarkLessonComplete(ctx, u.ID, "never-done"); err != nil {
		t.Errorf("unmarking a lesson never completed: %v", err)
	}
	p, err = db.Progress(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Completed["intro"]; ok || len(p.Completed) != 1 {
		t.Errorf("after unmark, Completed = %v; want only cold-starts", p.Completed)
	}
}

func TestProgressBadInput(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	u, err := db.CreateUser(ctx, "p@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", maxSlugLen+1)
	checks := []struct {
		name string
		err  error
		want error
	}{
		{"mark unknown user", db.MarkLessonComplete(ctx, 999, "intro"), ErrNotFound},
		{"mark empty lesson", db.MarkLessonComplete(ctx, u.ID, ""), ErrInvalid},
		{"mark long lesson", db.MarkLessonComplete(ctx, u.ID, long), ErrInvalid},
		// PostgreSQL's text cannot hold these: refused on both engines.
		{"mark lesson not UTF-8", db.MarkLessonComplete(ctx, u.ID, "in\xfftro"), ErrInvalid},
		{"mark lesson with NUL", db.MarkLessonComplete(ctx, u.ID, "in\x00tro"), ErrInvalid},
		{"unmark lesson not UTF-8", db.UnmarkLessonComplete(ctx, u.ID, "in\xfftro"), ErrInvalid},
		{"visit lesson not UTF-8", db.RecordVisit(ctx, u.ID, "in\xfftro"), ErrInvalid},
		{"visit unknown user", db.RecordVisit(ctx, 999, "intro"), ErrNotFound},
		{"visit empty lesson", db.RecordVisit(ctx, u.ID, ""), ErrInvalid},
		{"quiz unknown user", db.SaveQuizResult(ctx, QuizResult{UserID: 999, Lesson: "l", Quiz: "q", Score: 1, Total: 1}), ErrNotFound},
		{"quiz empty lesson", db.SaveQuizResult(ctx, QuizResult{UserID: u.ID, Quiz: "q", Score: 1, Total: 1}), ErrInvalid},
		{"quiz empty quiz", db.SaveQuizResult(ctx, QuizResult{UserID: u.ID, Lesson: "l", Score: 1, Total: 1}), ErrInvalid},
		{"quiz zero total", db.SaveQuizResult(ctx, QuizResult{UserID: u.ID, Lesson: "l", Quiz: "q"}), ErrInvalid},
		{"quiz score above total", db.SaveQuizResult(ctx, QuizResult{UserID: u.ID, Lesson: "l", Quiz: "q", Score: 3, Total: 2}), ErrInvalid},
		{"quiz negative score", db.SaveQuizResult(ctx, QuizResult{UserID: u.ID, Lesson: "l", Quiz: "q", Score: -1, Total: 2}), ErrInvalid},
		{"quiz answers not JSON", db.SaveQuizResult(ctx, QuizResult{UserID: u.ID, Lesson: "l", Quiz: "q", Score: 1, Total: 2, Answers: "{oops"}), ErrInvalid},
		{"quiz answers not UTF-8", db.SaveQuizResult(ctx, QuizResult{UserID: u.ID, Lesson: "l", Quiz: "q", Score: 1, Total: 2, Answers: "[\"\xff\"]"}), ErrInvalid},
		{"quiz name with NUL", db.SaveQuizResult(ctx, QuizResult{UserID: u.ID, Lesson: "l", Quiz: "q\x00", Score: 1, Total: 2}), ErrInvalid},
		{"progress unknown user", func() error { _, err := db.Progress(ctx, 999); return err }(), ErrNotFound},
	}
	for _, c := range checks {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.err, c.want)
		}
	}
	p, err := db.Progress(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Completed) != 0 || len(p.Quizzes) != 0 || p.LastLesson != "" {
		t.Errorf("rejected input was stored: %+v", p)
	}
}

func TestQuizResultsKeepEveryAttempt(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	clock := newFakeClock()
	db.now = clock.Now
	u, err := db.CreateUser(ctx, "q@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	attempts := []QuizResult{
		{UserID: u.ID, Lesson: "intro", Quiz: "q1", Score: 1, Total: 3, Answers: `{"a":[0]}`},
		{UserID: u.ID, Lesson: "intro", Quiz: "q1", Score: 3, Total: 3, Answers: `{"a":[2]}`},
		{UserID: u.ID, Lesson: "intro", Quiz: "q2", Score: 0, Total: 1},
	}
	for _, a := range attempts {
		clock.Advance(time.Minute)
		if err := db.SaveQuizResult(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	// An attempt with an explicit older time is kept but is not the latest.
	old := QuizResult{UserID: u.ID, Lesson: "intro", Quiz: "q1", Score: 2, Total: 3, Answers: `[]`, At: clock.Now().Add(-time.Hour)}
	if err := db.SaveQuizResult(ctx, old); err != nil {
		t.Fatal(err)
	}
	var stored int
	if err := db.conn.QueryRowContext(ctx, "SELECT count(*) FROM quiz_results WHERE user_id = $1", u.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 4 {
		t.Errorf("%d attempts stored, want 4", stored)
	}
	p, err := db.Progress(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	q1 := p.Quizzes["intro/q1"]
	if q1.Score != 3 || q1.Answers != `{"a":[2]}` || q1.Lesson != "intro" || q1.Quiz != "q1" || q1.UserID != u.ID {
		t.Errorf("latest intro/q1 = %+v; want the 3/3 attempt", q1)
	}
	q2 := p.Quizzes["intro/q2"]
	if q2.Total != 1 || q2.Answers != "null" || !q2.At.Equal(clock.Now()) {
		t.Errorf("intro/q2 = %+v; want 0/1, answers null, at %v", q2, clock.Now())
	}
	if len(p.Quizzes) != 2 {
		t.Errorf("Quizzes has %d entries, want 2: %v", len(p.Quizzes), p.Quizzes)
	}
}

func TestLastLesson(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	clock := newFakeClock()
	db.now = clock.Now
	u, err := db.CreateUser(ctx, "r@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := db.Progress(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.LastLesson != "" || !p.LastAt.IsZero() || p.Completed == nil || p.Quizzes == nil {
		t.Errorf("fresh progress = %+v; want empty, maps not nil", p)
	}

	// moves says whether the step is new activity that becomes the resume point.
	steps := []struct {
		do    func() error
		want  string
		moves bool
	}{
		{func() error { return db.RecordVisit(ctx, u.ID, "a") }, "a", true},
		{func() error { return db.MarkLessonComplete(ctx, u.ID, "b") }, "b", true},
		{func() error {
			return db.SaveQuizResult(ctx, QuizResult{UserID: u.ID, Lesson: "c", Quiz: "q", Score: 1, Total: 1})
		}, "c", true},
		{func() error { return db.RecordVisit(ctx, u.ID, "d") }, "d", true},
		// Re-marking b keeps its old date, so it does not become the latest.
		{func() error { return db.MarkLessonComplete(ctx, u.ID, "b") }, "d", false},
		{func() error { return db.RecordVisit(ctx, u.ID, "a") }, "a", true},
	}
	var wantAt time.Time
	for i, s := range steps {
		clock.Advance(time.Second)
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if s.moves {
			wantAt = clock.Now()
		}
		p, err := db.Progress(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if p.LastLesson != s.want || !p.LastAt.Equal(wantAt) {
			t.Errorf("step %d: LastLesson = %q at %v, want %q at %v", i, p.LastLesson, p.LastAt, s.want, wantAt)
		}
	}
}

func TestClassProgress(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	zed, err := db.CreateUser(ctx, "zed@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	amy, err := db.CreateUser(ctx, "Amy@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	idle, err := db.CreateUser(ctx, "idle@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.MarkLessonComplete(ctx, zed.ID, "intro"); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveQuizResult(ctx, QuizResult{UserID: amy.ID, Lesson: "intro", Quiz: "q", Score: 2, Total: 2}); err != nil {
		t.Fatal(err)
	}
	class, err := db.ClassProgress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(class) != 3 {
		t.Fatalf("ClassProgress has %d rows, want 3", len(class))
	}
	if class[0].User.ID != amy.ID || class[1].User.ID != idle.ID || class[2].User.ID != zed.ID {
		t.Errorf("order = %s, %s, %s; want by email", class[0].User.Email, class[1].User.Email, class[2].User.Email)
	}
	if r := class[0].Progress.Quizzes["intro/q"]; r.Score != 2 || len(class[0].Progress.Completed) != 0 {
		t.Errorf("amy = %+v", class[0].Progress)
	}
	if p := class[1].Progress; p.Completed == nil || p.Quizzes == nil || len(p.Completed)+len(p.Quizzes) != 0 {
		t.Errorf("idle = %+v; want empty non-nil maps", p)
	}
	if _, ok := class[2].Progress.Completed["intro"]; !ok || len(class[2].Progress.Quizzes) != 0 {
		t.Errorf("zed = %+v; want intro complete only", class[2].Progress)
	}
}

// TestQuizStats keeps the grades apart: the best attempt is not the latest
// when a student did worse the second time, and the count covers all.
func TestQuizStats(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	clock := newFakeClock()
	db.now = clock.Now
	u, err := db.CreateUser(ctx, "q@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	other, err := db.CreateUser(ctx, "r@example.com", "h", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []QuizResult{
		{UserID: u.ID, Lesson: "intro", Quiz: "q1", Score: 1, Total: 3},
		{UserID: u.ID, Lesson: "intro", Quiz: "q1", Score: 3, Total: 4},
		{UserID: u.ID, Lesson: "intro", Quiz: "q1", Score: 3, Total: 4}, // equal: the earlier stays best
		{UserID: u.ID, Lesson: "intro", Quiz: "q1", Score: 2, Total: 4},
		{UserID: u.ID, Lesson: "intro", Quiz: "q2", Score: 1, Total: 1},
		{UserID: other.ID, Lesson: "intro", Quiz: "q1", Score: 4, Total: 4},
	} {
		clock.Advance(time.Minute)
		if err := db.SaveQuizResult(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	bestAt := newFakeClock().Now().Add(2 * time.Minute)
	class, err := db.ClassProgress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := class[0].Progress
	if class[0].User.ID != u.ID {
		t.Fatalf("class[0] is %s, want q@", class[0].User.Email)
	}
	q1, st := p.Quizzes["intro/q1"], p.QuizStats["intro/q1"]
	if q1.Score != 2 || st.Attempts != 4 || st.Best.Score != 3 || st.Best.Total != 4 || !st.Best.At.Equal(bestAt) {
		t.Errorf("intro/q1: last %d/%d, stats %+v; want last 2/4, best 3/4 at %v, 4 attempts", q1.Score, q1.Total, st, bestAt)
	}
	if st := p.QuizStats["intro/q2"]; st.Attempts != 1 || st.Best.Score != 1 {
		t.Errorf("intro/q2 stats = %+v, want one attempt, best 1", st)
	}
	if st := class[1].Progress.QuizStats["intro/q1"]; st.Attempts != 1 || st.Best.Score != 4 {
		t.Errorf("other student's stats = %+v, want their own one attempt", st)
	}
	one, err := db.Progress(ctx, u.ID)
	if err != nil || one.QuizStats["intro/q1"] != st {
		t.Errorf("Progress(one user) stats = %+v, %v; want those of ClassProgress", one.QuizStats["intro/q1"], err)
	}
}
