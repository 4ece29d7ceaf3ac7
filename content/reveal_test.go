package content

import (
	"errors"
	"strings"
	"testing"
)

func TestQuizReveal(t *testing.T) {
	lesson := func(reveal string) string {
		return "---\ntitle: T\nsummary: S\n---\n\nText.\n\n```quiz\nid: x\n" + reveal +
			"questions:\n- q: Q?\n  choices:\n    - text: A\n      correct: true\n    - text: B\n  explain: E.\n```\n"
	}
	tests := []struct {
		line string
		want Reveal
		err  string // part of the load error; "" when it loads
	}{
		{"", Reveal{}, ""},
		{"reveal: always\n", Reveal{}, ""},
		{"reveal: after-correct\n", Reveal{AfterCorrect: true}, ""},
		{"reveal: after 3\n", Reveal{AfterAttempts: 3}, ""},
		{"reveal: after 0\n", Reveal{}, "after N with N from 1 to 100"},
		{"reveal: after 101\n", Reveal{}, "after N"},
		{"reveal: after 3 tries\n", Reveal{}, "after N"},
		{"reveal: never\n", Reveal{}, `reveal "never"`},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSpace(tt.line), func(t *testing.T) {
			fsys := baseCourse()
			fsys["m/01-a.md"] = file(lesson(tt.line))
			c, err := Load(fsys)
			if tt.err != "" {
				var le *LoadError
				if !errors.As(err, &le) || !strings.Contains(err.Error(), "m/01-a.md:10: ") || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Load = %v, want a problem at m/01-a.md:10 containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l, _ := c.Lesson("a")
			q, ok := l.Quiz("x")
			if !ok || q.Reveal != tt.want {
				t.Errorf("Reveal = %+v, want %+v", q.Reveal, tt.want)
			}
		})
	}
}

func TestQuizReveals(t *testing.T) {
	tests := []struct {
		name       string
		reveal     Reveal
		attempts   int
		allCorrect bool
		want       bool
	}{
		{"default, first attempt wrong", Reveal{}, 1, false, true},
		{"after-correct, wrong", Reveal{AfterCorrect: true}, 9, false, false},
		{"after-correct, right", Reveal{AfterCorrect: true}, 1, true, true},
		{"after 3, two attempts", Reveal{AfterAttempts: 3}, 2, false, false},
		{"after 3, three attempts", Reveal{AfterAttempts: 3}, 3, false, true},
		{"after 3, right at once", Reveal{AfterAttempts: 3}, 1, true, true},
	}
	for _, tt := range tests {
		q := &Quiz{Reveal: tt.reveal}
		if got := q.Reveals(tt.attempts, tt.allCorrect); got != tt.want {
			t.Errorf("%s: Reveals(%d, %v) = %v, want %v", tt.name, tt.attempts, tt.allCorrect, got, tt.want)
		}
	}
}
