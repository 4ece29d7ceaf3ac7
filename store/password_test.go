package store

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckNewPassword(t *testing.T) {
	tests := []struct {
		name string
		pw   string
		want error
	}{
		{"eleven characters", "abcdefgh-jk", ErrPasswordTooShort},
		{"eleven runes, 22 bytes", "ééééééééééé", ErrPasswordTooShort},
		{"thirty emoji are 120 bytes", strings.Repeat("🙂", 30), ErrPasswordTooLong},
		{"73 bytes", "a" + strings.Repeat("xy", 36), ErrPasswordTooLong},
		{"listed word with digits", "password1234", ErrPasswordCommon},
		{"decorated both ends", "!!Password2024!", ErrPasswordCommon},
		{"look-alike digits", "P@ssw0rd!2024", ErrPasswordCommon},
		{"spaces removed", "i love you 2024", ErrPasswordCommon},
		{"one character repeated", "aaaaaaaaaaaa", ErrPasswordCommon},
		{"short unit repeated", "abcabcabcabc", ErrPasswordCommon},
		{"digits in order", "123456789012", ErrPasswordCommon},
		{"digits backwards", "0987654321!!", ErrPasswordCommon},
		{"keyboard rows", "qwertyuiopasdf", ErrPasswordCommon},
		{"listed phrase", "correct horse battery staple", ErrPasswordCommon},
		{"course words", "Lambdalab2025", ErrPasswordCommon},
		{"phrase of ordinary words", "correct horse", nil},
		{"the tests' passwords", "password one", nil},
		{"random digits after a letter", "x83749201573", nil},
		{"twelve random digits", "830274619385", nil},
		{"exactly 72 bytes", "trams " + strings.Repeat("é", 24) + " blue wombat river", nil},
		{"accents count as characters", "éàüöçñéàüöçñ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckNewPassword(tt.pw); !errors.Is(err, tt.want) {
				t.Errorf("CheckNewPassword(%q) = %v, want %v", tt.pw, err, tt.want)
			}
		})
	}
}

func TestPasswordTooLongSaysBytes(t *testing.T) {
	err := CheckNewPassword(strings.Repeat("🙂", 30))
	var long *PasswordTooLongError
	if !errors.As(err, &long) || long.Bytes != 120 {
		t.Fatalf("CheckNewPassword(30 emoji) = %v, want a PasswordTooLongError of 120 bytes", err)
	}
	if _, err := HashPassword(strings.Repeat("🙂", 30)); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("HashPassword(30 emoji) = %v, want ErrPasswordTooLong", err)
	}
}

func TestCommonPasswordListLoaded(t *testing.T) {
	if n := len(commonPasswords); n < 300 {
		t.Errorf("common password list has %d entries, want a few hundred", n)
	}
	if commonPasswords["# the passwords and words an attacker tries first, one a line, lower case."] {
		t.Error("comment lines were read as passwords")
	}
}

// The hash compared against for unknown e-mails must be a real one, or the
// unknown path returns at once and tells which e-mails are registered.
func TestDummyPasswordHash(t *testing.T) {
	h, err := DummyPasswordHash()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$2") {
		t.Fatalf("dummy hash %q is not bcrypt", h)
	}
	if CheckPassword(h, "") || CheckPassword(h, "password one") {
		t.Error("dummy hash matches a guessable password")
	}
	h2, err := DummyPasswordHash()
	if err != nil || h2 == h {
		t.Errorf("second dummy hash = %q, %v; want a different real hash", h2, err)
	}
}
