package content

import (
	"html"
	"strings"
	"unicode"
)

// wordsPerMinute is a common estimate of how fast an adult reads
// instructional text on a screen.
const wordsPerMinute = 200

// readingMinutes counts the words a reader meets in a lesson (its prose,
// its code and its quizzes' prompts, choices and explanations) and turns
// them into minutes, rounded up and at least one.
func readingMinutes(l *Lesson) int {
	words := 0
	for _, p := range l.Parts {
		words += countWords(p.HTML)
		if p.Quiz == nil {
			continue
		}
		for _, q := range p.Quiz.Questions {
			words += countWords(q.Prompt) + countWords(q.Explanation)
			for _, c := range q.Choices {
				words += countWords(c.Text)
			}
		}
	}
	return max(1, (words+wordsPerMinute-1)/wordsPerMinute)
}

// countWords counts the words in rendered HTML: the text between tags,
// split at spaces, where a word has at least one letter or digit (so a
// heading's "#" anchor or a lone "=" in code is not one).
func countWords(h string) int {
	var text strings.Builder
	inTag := false
	for _, r := range h {
		switch {
		case r == '<':
			inTag = true
			text.WriteByte(' ')
		case r == '>' && inTag:
			inTag = false
		case !inTag:
			text.WriteRune(r)
		}
	}
	n := 0
	for _, w := range strings.Fields(html.UnescapeString(text.String())) {
		if strings.IndexFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0 {
			n++
		}
	}
	return n
}
