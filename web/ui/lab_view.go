package ui

// The views of the lab page (lab.templ: the instructions and the
// workspace's frame), of labs on the course map, and of the workspace's
// Code panel (code.templ). web/labpage.go and web/code.go build them; every
// value is ready to show.

import (
	"net/url"

	"github.com/a-h/templ"
)

// LabState is where a learner is in a lab.
type LabState string

const (
	LabNotStarted LabState = "not-started"
	LabInProgress LabState = "in-progress"
	LabPassed     LabState = "passed"
)

// Label is the state in words.
func (s LabState) Label() string {
	switch s {
	case LabPassed:
		return "Passed"
	case LabInProgress:
		return "In progress"
	}
	return "Not started"
}

// LabLink is a lab on the course map: under its lesson, on the home page.
type LabLink struct {
	ID, Title string
	Minutes   int
	// State is empty for a reader who is not signed in.
	State LabState
}

// CourseLabs are the labs on the course map.
type CourseLabs struct {
	// ByLesson are the labs that practise each lesson, by lesson slug.
	ByLesson map[string][]LabLink
	// CSS is the stylesheet of labs' links and states (the workspace's).
	CSS string
}

// LabURL is a lab's page.
func LabURL(id string) string { return "/labs/" + url.PathEscape(id) }

// LabPageView is the lab page.
type LabPageView struct {
	ID, Title string
	Minutes   int
	State     LabState
	// Lesson is the lesson the lab practises; nil when the course has no
	// such lesson.
	LessonTitle, LessonURL string
	IntroHTML              string // rendered Markdown, trusted (the lab's author)
	Tasks                  []LabTask
	// Functions are the lab's functions to pick from; empty when it has
	// only one.
	Functions []LabChoice
	Tabs      []LabChoice
	// Flash says what the last action did; Err why it was refused.
	Flash, Err string
	Panel      templ.Component
	Console    templ.Component
	// CSS is the workspace's stylesheet (every area's, in one file).
	CSS string
}

// LabTask is one task of the instructions.
type LabTask struct {
	ID, Title string
	HTML      string // rendered Markdown, trusted
}

// LabChoice is a tab or a function to pick: a link, the current one marked.
type LabChoice struct {
	ID, Title, URL string
	Current        bool
}

// CodePanelView is the workspace's Code panel for one function.
type CodePanelView struct {
	Lab, Fn string
	// Missing are the lab's functions the learner's account lacks: the
	// panel offers to start the lab. Starting says the sandbox that would
	// set it up is not running yet.
	Missing  []string
	Starting bool
	// Files are the draft's files by path; File is the one shown (nil when
	// the draft is empty).
	Files []CodeFile
	File  *CodeFile
	// Body is the text in the editor: the file's, or the refused form's so
	// that nothing typed is lost.
	Body string
	// Deployed is the function's $LATEST code; nil when it does not exist.
	Deployed *CodeDeployed
	// DraftSize is the draft's files in all, e.g. "3 files, 2.1 KB".
	DraftSize string
	// Limits says what a draft and an upload may hold.
	Limits string
	// NewPath and RenameTo refill the add and rename forms after a refusal.
	NewPath, RenameTo string
}

// CodeFile is one file of a draft.
type CodeFile struct {
	Path, URL string
	Size      string // "1.2 KB"
	// Editable files are UTF-8 text of at most a megabyte; others (a
	// library's binary from an upload) are kept and shown by size.
	Editable bool
	Why      string // why it is not editable: "binary", "over 1 MB"
	Language string // python, javascript, json or text
	Current  bool
}

// CodeDeployed is what runs: the function's $LATEST code.
type CodeDeployed struct {
	CodeSha256, CodeSize, LastModified string
	// Same says the draft zips to exactly the deployed package.
	Same bool
}

// Code panel form targets.
func codeURL(lab, action string) string { return LabURL(lab) + "/" + action }

func downloadURL(lab, fn string) string {
	return codeURL(lab, "download") + "?fn=" + url.QueryEscape(fn)
}
