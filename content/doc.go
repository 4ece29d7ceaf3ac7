// Package content turns the course folder — Markdown lessons with YAML
// frontmatter — into rendered, validated lessons, once per content change.
// It imports no other lambdalab package and knows nothing about HTTP: the web
// layer serves what Load returns.
//
// # Course folder
//
// The embedded course (Embedded) and any author folder (lambdalab serve
// --content DIR, see Watch) share one layout:
//
//	course.yaml                  title, and the modules in reading order
//	compute/                     one folder per module, named by its slug
//	  01-compute-options.md      a lesson; slug "compute-options", order 1
//	  lifecycle.svg              images sit next to the lessons that use them
//
// course.yaml:
//
//	title: Serverless compute with AWS Lambda
//	modules:
//	  - slug: compute            lower-case letters, digits, dashes; the folder name
//	    title: Compute on AWS
//	    summary: One sentence for the home page.
//
// Every *.md file directly inside a module folder is a lesson; files
// elsewhere (a README, a labs/ folder) are ignored. A lesson starts with
// frontmatter:
//
//	---
//	title: How a function runs   required
//	summary: One sentence.       required
//	module: compute              optional; must match the folder
//	order: 3                     optional if the file name starts with a number
//	slug: how-it-runs            optional; default: the file name without NN- and .md
//	---
//
// Unknown frontmatter keys are errors, so a typo cannot silently drop a
// value. The page shows the title, so the body starts with text or a "##"
// heading rather than repeating it as "#".
//
// # Markdown
//
// One goldmark pipeline renders every lesson: GitHub Flavored Markdown
// (tables, task lists, strikethrough, autolinks), code highlighted by chroma
// with CSS classes (HighlightCSS holds the light and dark colours), an id on
// every heading plus a trailing a.anchor link to it, and GitHub-style alerts:
//
//	> [!NOTE]           also TIP, IMPORTANT, WARNING, CAUTION
//	> Text of the note.
//
// which render as <div class="markdown-alert markdown-alert-note"> with a
// <p class="markdown-alert-title">. ProseCSS styles alerts and anchors.
//
// Relative links are checked and rewritten: [x](02-other.md#part) or
// [x](../other-module/01-foo.md) become /lessons/{slug}#part; images
// ![x](lifecycle.svg) become /content/compute/lifecycle.svg, to be served
// from Course.Assets. A link to a lesson, heading anchor or image that does
// not exist, a link leaving the course folder, or a relative link to a file
// that is neither a lesson nor an image is a load error. Links in raw HTML
// are not checked.
//
// Course Markdown is trusted: raw HTML in it is kept. Anything a student
// typed must go through RenderUntrusted instead, which shows raw HTML as text.
//
// # Quizzes
//
// A fenced block with the info string quiz holds YAML, either a bare list of
// questions or a mapping with an id (default "quiz-N", N counting the
// lesson's quizzes from 1) and the questions:
//
//	```quiz
//	id: lifecycle                         optional
//	questions:
//	  - q: Which run during Init?         the prompt, inline Markdown
//	    id: init                          optional; default q1, q2, …
//	    multiple: true                    optional; default single choice
//	    choices:                          at least two
//	      - text: Starting the runtime    inline Markdown
//	        correct: true
//	        id: runtime                   optional; default a, b, c, …
//	      - text: The handler body
//	    explain: Markdown shown with the result, right or wrong.   required
//	```
//
// A single-choice question has exactly one correct choice, a multiple-choice
// question at least one. Quote a text containing ": " ("q: \"Init: 3 ms?\"").
// A quiz must stand at the top level of the lesson, not inside a list or a
// quote. Mistakes are load errors at the file line of the offending YAML
// line.
//
// A lesson's body is split into Parts around its quizzes; the web layer
// renders each quiz part as a form without answers, grades a submission
// with Quiz.Grade on the server, and only then shows Choice.Correct and the
// explanations.
//
// # Errors
//
// Load checks everything before returning and reports every problem at once
// as a *LoadError, each problem an *Error naming the file and line.
package content
