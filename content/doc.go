// Package content turns the course folder — Markdown lessons with YAML
// frontmatter — into rendered, validated lessons, once per content change.
// Of lambdalab it imports only lambdalab/facts (the figures lessons quote)
// and it knows nothing about HTTP or labs: the web layer serves what Load
// returns, and main checks the lessons' lab links against the labs.
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
// # Facts
//
// A figure that lambdalab/facts holds (a limit, a default, a price) is
// never typed by hand: write {{fact ID}} and the loader puts the fact's
// text in its place, so the lesson says what the emulator enforces:
//
//	The longest timeout is {{fact timeout-max}}.    → "… is 15 minutes."
//
// The IDs are those of facts.Table (facts/facts.go). Placeholders are
// replaced in the whole file before it is parsed, so they work in the
// frontmatter, prose, headings, code blocks and quiz YAML alike (quote a
// YAML value that starts with one: text: "{{fact memory-max}}"). An
// unknown ID is a load error at its line that names the closest known IDs.
// Figures the table lacks are written normally.
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
// Images need a text alternative that says what the picture shows:
// ![](x.svg) is a load error. An SVG sits in the module folder with
// role="img", a <title> (and a <desc> for a longer alternative), a viewBox,
// and an internal @media (prefers-color-scheme: dark) style block; no
// scripts, no references outside the file, no fonts. Load does not parse
// pictures; TestEmbeddedCourseRules holds the shipped ones to this.
//
// External links (http and https) carry a title naming their source and
// the month and four-digit year it was read, because AWS changes its
// figures and a reader must be able to tell how old a quoted one is:
//
//	[Lambda quotas](https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html "AWS Lambda Developer Guide, read February 2026")
//
// The month is written out in full, followed by the year. A missing title,
// or one without "Month YYYY", is a load error, and so is a bare URL
// (https://… or www.… turned into a link, or <https://…>), which cannot
// carry a title. The link renders with the title as its title attribute
// and rel="noopener", followed by a visible note,
// <span class="source-note">(read February 2026)</span>, which ProseCSS
// (and the site's app.css) style.
//
// Lab links are site-absolute: [the concurrency lab](/labs/concurrency),
// optionally with a #fragment. Load collects them as Lesson.LabLinks; it
// cannot know which labs exist, so the caller that loads the labs checks
// them with Course.CheckLabLinks (lambdalab serve refuses to start, author
// mode shows the error page, lambdalab check fails). A link deeper than a
// lab's page (/labs/x/workspace) is a load error. An author folder without
// a labs/ folder has no labs, so its lab links all fail.
//
// # Calculators
//
// A fenced block with the info string "calculator NAME" and an empty body
// places an interactive calculator at that point of the lesson:
//
//	```calculator billing
//	```
//
// NAME is one of Calculators: billing (a workload's monthly cost, beside
// the same workload under the old 100 ms rounding) or rps (requests per
// second from duration and instances, or instances from a target rate).
// The block becomes a Part with Calculator set, which the web layer
// renders. An unknown or missing name, a body, or a calculator inside a
// list or quote is a load error.
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
//	reveal: after-correct                 optional; or after 3; default always
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
// A lesson's body is split into Parts around its quizzes (and
// calculators); the web layer renders each quiz part as a form without
// answers, grades a submission with Quiz.Grade on the server, and only then
// shows Choice.Correct and the explanations.
//
// reveal (long form only) holds the right answers back for a graded quiz
// that counts: "after-correct" shows them, with the explanations, only
// once the student has had every question right in some attempt; "after N"
// (N from 1 to 100) after N attempts, or sooner on an all-correct one.
// Until then a result says the score and which questions were wrong, not
// which choices were right. Without reveal, every result shows them
// (Quiz.Reveals decides).
//
// Each module's last lesson ends with the module quiz: its last quiz has
// id: module-quiz and 4 to 6 questions covering the module, and nothing but
// closing prose follows it (no heading, no calculator). Load allows a
// module in progress to break this; TestEmbeddedCourseRules holds the
// shipped course to it, and to every module having a quiz.
//
// # Reading time
//
// Lesson.ReadingMinutes is the words of the rendered prose, code and
// quizzes (prompts, choices, explanations) at 200 a minute, rounded up, at
// least 1.
//
// # Errors
//
// Load checks everything before returning and reports every problem at once
// as a *LoadError, each problem an *Error naming the file and line.
package content
