package web

import (
	"encoding/json"
	"fmt"
	"strconv"

	"lambdalab/content"
	"lambdalab/labs"
	"lambdalab/static"
	"lambdalab/store"
	"lambdalab/web/ui"
)

// This file turns a course and a user's progress into the ready values the
// ui components take. It does no I/O.

func quizKey(lesson, quiz string) string { return lesson + "/" + quiz }

func navView(c *content.Course, p store.Progress, current *content.Lesson) []ui.NavModule {
	mods := make([]ui.NavModule, 0, len(c.Modules))
	for _, m := range c.Modules {
		nm := ui.NavModule{Module: m, Lessons: make([]ui.NavLesson, 0, len(m.Lessons))}
		for _, l := range m.Lessons {
			_, done := p.Completed[l.Slug]
			nm.Lessons = append(nm.Lessons, ui.NavLesson{Lesson: l, Done: done, Current: l == current})
		}
		mods = append(mods, nm)
	}
	return mods
}

func homeView(c *content.Course, p store.Progress, signedIn bool) ui.HomeView {
	v := ui.HomeView{SignedIn: signedIn, Total: len(c.Lessons)}
	for _, m := range c.Modules {
		hm := ui.HomeModule{Module: m, Total: len(m.Lessons)}
		for _, l := range m.Lessons {
			_, done := p.Completed[l.Slug]
			if done {
				hm.Done++
				v.Done++
			}
			hm.Lessons = append(hm.Lessons, ui.NavLesson{Lesson: l, Done: done})
		}
		v.Modules = append(v.Modules, hm)
	}
	v.Resume, v.ResumeLabel = resume(c, p)
	return v
}

// resume picks where a reader should continue: the lesson of their latest
// activity, or, when that one is done, the next lesson not yet done.
func resume(c *content.Course, p store.Progress) (*content.Lesson, string) {
	if len(c.Lessons) == 0 {
		return nil, ""
	}
	last, ok := c.Lesson(p.LastLesson)
	if !ok {
		return c.Lessons[0], "Start the course"
	}
	if _, done := p.Completed[last.Slug]; !done {
		return last, "Resume"
	}
	for l := last.Next; l != nil; l = l.Next {
		if _, done := p.Completed[l.Slug]; !done {
			return l, "Continue with"
		}
	}
	for _, l := range c.Lessons {
		if _, done := p.Completed[l.Slug]; !done {
			return l, "Continue with"
		}
	}
	return last, "Review"
}

// quizResults grades each quiz's latest stored attempt again, so the result
// view matches the quiz as it is now. The quiz named by retry is left out
// and so shows as a blank form.
func quizResults(l *content.Lesson, p store.Progress, retry string) map[string]ui.QuizResult {
	out := map[string]ui.QuizResult{}
	for _, q := range l.Quizzes {
		if q.ID == retry {
			continue
		}
		r, ok := p.Quizzes[quizKey(l.Slug, q.ID)]
		if !ok {
			continue
		}
		var answers map[string][]string
		if err := json.Unmarshal([]byte(r.Answers), &answers); err != nil {
			// A stored attempt we cannot read is shown as a fresh form.
			continue
		}
		st := p.QuizStats[quizKey(l.Slug, q.ID)]
		allCorrect := st.Best.Total > 0 && st.Best.Score == st.Best.Total
		res := ui.QuizResult{Grade: q.Grade(answers), At: formatTime(r.At), Reveal: q.Reveals(st.Attempts, allCorrect)}
		if !res.Reveal {
			res.RevealNote = revealNote(q.Reveal, st.Attempts)
		}
		out[q.ID] = res
	}
	return out
}

// revealNote tells a student whose result hides the right answers when
// they will see them.
func revealNote(rv content.Reveal, attempts int) string {
	if rv.AfterAttempts > 0 {
		left := rv.AfterAttempts - attempts
		if left == 1 {
			return "The right answers and explanations show after one more attempt, or once you get every question right."
		}
		return fmt.Sprintf("The right answers and explanations show after %d more attempts, or once you get every question right.", left)
	}
	return "The right answers and explanations show once you get every question right. Try again."
}

// classTable is the instructor's view of everyone's progress: one column per
// lesson, then three per quiz of that lesson: the last score (keyed
// quiz:lesson/quiz as before grades were kept), the best and the number
// of attempts. The page shows the three in the first column's cell.
func classTable(c *content.Course, class []store.StudentProgress) ui.ClassTable {
	var t ui.ClassTable
	for _, l := range c.Lessons {
		t.Columns = append(t.Columns, ui.ClassColumn{Key: "lesson:" + l.Slug, Label: l.Title})
		for i, q := range l.Quizzes {
			label := l.Title + " quiz"
			if len(l.Quizzes) > 1 {
				label += " " + itoa(i+1)
			}
			key := "quiz:" + quizKey(l.Slug, q.ID)
			t.Columns = append(t.Columns,
				ui.ClassColumn{Key: key, Label: label},
				ui.ClassColumn{Key: key + ":best", Label: label + ": best", CSVOnly: true},
				ui.ClassColumn{Key: key + ":attempts", Label: label + ": attempts", CSVOnly: true})
		}
	}
	for _, sp := range class {
		row := ui.ClassRow{Email: sp.User.Email, Role: string(sp.User.Role), AccountID: sp.User.AccountID}
		for _, l := range c.Lessons {
			cell := ui.ClassCell{}
			if at, ok := sp.Progress.Completed[l.Slug]; ok {
				cell = ui.ClassCell{Text: "✓ " + at.Local().Format("2 Jan"), Raw: at.UTC().Format("2006-01-02T15:04:05Z"), Done: true}
			}
			row.Cells = append(row.Cells, cell)
			for _, q := range l.Quizzes {
				last, best, attempts := ui.ClassCell{}, ui.ClassCell{CSVOnly: true}, ui.ClassCell{CSVOnly: true}
				if r, ok := sp.Progress.Quizzes[quizKey(l.Slug, q.ID)]; ok {
					st := sp.Progress.QuizStats[quizKey(l.Slug, q.ID)]
					last, best = scoreCell(r), scoreCell(st.Best)
					best.CSVOnly = true
					n := itoa(st.Attempts)
					attempts = ui.ClassCell{Raw: n, CSVOnly: true}
					tries := " tries"
					if st.Attempts == 1 {
						tries = " try"
					}
					// Best first: it is the grade; Done follows it too.
					last.Text = "best " + best.Raw + " · last " + last.Raw + " · " + n + tries
					last.Done = best.Done
				}
				row.Cells = append(row.Cells, last, best, attempts)
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func scoreCell(r store.QuizResult) ui.ClassCell {
	score := itoa(r.Score) + "/" + itoa(r.Total)
	return ui.ClassCell{Text: score, Raw: score, Done: r.Total > 0 && r.Score == r.Total}
}

func itoa(n int) string { return strconv.Itoa(n) }

// courseLabs are the labs of the course map under the lesson each
// practises, with the learner's state (none for a reader).
func courseLabs(all []*labs.Lab, states map[string]ui.LabState, signedIn bool) ui.CourseLabs {
	out := ui.CourseLabs{ByLesson: map[string][]ui.LabLink{}, CSS: static.URL("workspace.css")}
	for _, l := range all {
		link := ui.LabLink{ID: l.ID, Title: l.Title, Minutes: l.Minutes}
		if signedIn {
			link.State = ui.LabNotStarted
			if st, ok := states[l.ID]; ok {
				link.State = st
			}
		}
		slug := lessonSlug(l.Lesson)
		out.ByLesson[slug] = append(out.ByLesson[slug], link)
	}
	return out
}
