// Package ui holds the site's templ components. Components take ready,
// typed values (the view types below) and do no I/O: handlers in package web
// load data, decide, and format; ui only lays it out.
package ui

import (
	"net/url"
	"strconv"

	"lambdalab/content"
	"lambdalab/store"
)

// Site is what the frame of every page needs.
type Site struct {
	CourseTitle  string
	User         *store.User // nil for an anonymous reader
	CSS          string      // URL of the site stylesheet
	HighlightCSS string      // URL of the code highlighting stylesheet
	AuthorScript string      // URL of the live-reload script; empty unless in author mode
	// StyleNonce is the request's CSP nonce for injected <style> elements
	// (the code editor's); the layout hands it to scripts in a meta tag.
	StyleNonce string
	// Scripts are extra scripts a page needs (URLs, loaded deferred in order).
	Scripts []string
	// Wide lays the page out at the full width of the window (the lab
	// workspace) instead of the reading column.
	Wide bool
}

// Instructor reports whether the signed-in user may see instructor pages.
func (s Site) Instructor() bool {
	return s.User != nil && s.User.Role == store.RoleInstructor
}

// NavModule is one module in the course navigation.
type NavModule struct {
	Module  *content.Module
	Lessons []NavLesson
}

// NavLesson is one lesson link with the reader's state.
type NavLesson struct {
	Lesson  *content.Lesson
	Done    bool
	Current bool
}

// HomeModule is a module card on the home page.
type HomeModule struct {
	Module      *content.Module
	Done, Total int
	Lessons     []NavLesson
}

// HomeView is the home page.
type HomeView struct {
	Modules  []HomeModule
	SignedIn bool
	// Resume is the lesson to continue with; ResumeLabel says whether that is
	// a start or a return ("Start the course", "Resume").
	Resume      *content.Lesson
	ResumeLabel string
	Done, Total int
}

// LessonView is a lesson page.
type LessonView struct {
	Lesson   *content.Lesson
	Nav      []NavModule
	SignedIn bool
	Done     bool
	DoneAt   string // formatted completion time; empty when not done
	// Results holds the graded latest attempt per quiz id. A quiz without an
	// entry is shown as a blank form, which never contains the answers.
	Results map[string]QuizResult
	// Calculators are the lesson's calculators, computed from the query.
	Calculators CalculatorViews
}

// QuizResult is a graded attempt shown in place of a quiz form.
type QuizResult struct {
	Grade content.Grade
	At    string // formatted time of the attempt
	// Reveal shows the right choices and the explanations; without it the
	// result says only the score and which questions were wrong (the
	// quiz's reveal: rule, content.Quiz.Reveals). RevealNote says when
	// they will show.
	Reveal     bool
	RevealNote string
}

// AuthForm is the sign-in or sign-up form, refilled after an error.
type AuthForm struct {
	Signup bool
	Email  string
	Next   string // local path to return to after success
	Error  string // message for the reader; empty when none
	// InviteNeeded shows the sign-up form's invite code field (serve
	// --signup invite); Invite is the code, from the link or as typed.
	InviteNeeded bool
	Invite       string
}

// ClassTable is the instructor's students × lessons/quizzes table; the CSV
// export is built from the same value.
type ClassTable struct {
	Columns []ClassColumn
	Rows    []ClassRow
}

// ClassColumn is one lesson-completion or quiz-score column.
type ClassColumn struct {
	Key   string // stable id used in the CSV header: "lesson:slug" or "quiz:slug/quiz-id"
	Label string // human heading
	// CSVOnly columns are left out of the page, whose quiz column sums up
	// what the CSV spreads over three.
	CSVOnly bool
}

// ClassRow is one user.
type ClassRow struct {
	Email, Role, AccountID string
	Cells                  []ClassCell
}

// ClassCell is one value of the table.
type ClassCell struct {
	Text string // shown on the page; "" when nothing yet
	Raw  string // the CSV value: RFC 3339 completion time or "score/total"
	Done bool   // completed lesson or full quiz score
	// CSVOnly is set on the cells of CSVOnly columns.
	CSVOnly bool
}

// AccountView is the signed-in user's AWS account page. It holds the secret
// key: build it only for the account's owner.
type AccountView struct {
	AccountID   string
	Region      string
	Endpoint    string // URL the AWS CLI and SDKs send requests to
	AccessKeyID string // empty when the account has no key
	Secret      string
	Env         string // export lines for a POSIX shell, secret included
	Rotated     bool   // the pair was just replaced
	// XRayLayerReady says the ready X-Ray SDK layer can be downloaded.
	XRayLayerReady bool
}

// LessonURL is the page of a lesson.
func LessonURL(slug string) string { return "/lessons/" + url.PathEscape(slug) }

// QuizURL is where a quiz form posts its answers.
func QuizURL(slug, quizID string) string {
	return LessonURL(slug) + "/quizzes/" + url.PathEscape(quizID)
}

// inputID names one choice input; ids from the course are short slugs.
func inputID(quiz, question, choice string) string {
	return "quiz-" + quiz + "-" + question + "-" + choice
}

func chosen(qg content.QuestionGrade, choiceID string) bool {
	for _, c := range qg.Chosen {
		if c == choiceID {
			return true
		}
	}
	return false
}

func loginURL(next string) string { return "/login?next=" + url.QueryEscape(next) }

func boolAttr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func itoa(n int) string { return strconv.Itoa(n) }

func authTitle(f AuthForm) string {
	if f.Signup {
		return "Create account"
	}
	return "Sign in"
}

func authAction(f AuthForm) string {
	if f.Signup {
		return withNext("/signup", "")
	}
	return "/login"
}

func withNext(path, next string) string {
	if next == "" {
		return path
	}
	return path + "?next=" + url.QueryEscape(next)
}
