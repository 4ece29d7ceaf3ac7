package store

import (
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// MinPasswordLen is the fewest characters a new password may have. Accounts
// made under an older, shorter rule still sign in: only new passwords are
// checked.
const MinPasswordLen = 12

// MaxPasswordBytes is bcrypt's input limit: it ignores (and newer versions
// reject) anything past 72 bytes, so a longer password is refused rather than
// silently truncated. It counts UTF-8 bytes, not characters: é is 2 bytes,
// most emoji 4.
const MaxPasswordBytes = 72

var (
	ErrPasswordTooShort = fmt.Errorf("password must be at least %d characters", MinPasswordLen)
	ErrPasswordTooLong  = fmt.Errorf("password must be at most %d bytes", MaxPasswordBytes)
	// ErrPasswordCommon is a password found in (or made from) the list of
	// the most common ones, the first an attacker tries.
	ErrPasswordCommon = errors.New("password is too common")
)

// PasswordTooLongError is how CheckNewPassword refuses a password over
// MaxPasswordBytes: it matches ErrPasswordTooLong with errors.Is, and says
// how many bytes the password had, since a page that only said "72 bytes"
// would puzzle someone whose 30 emoji are 120.
type PasswordTooLongError struct{ Bytes int }

func (e *PasswordTooLongError) Error() string {
	return fmt.Sprintf("password is %d bytes, at most %d allowed", e.Bytes, MaxPasswordBytes)
}

func (e *PasswordTooLongError) Unwrap() error { return ErrPasswordTooLong }

// CheckNewPassword says why pw may not become a password, or nil. It costs
// no hashing, so callers run it before deciding anything expensive.
func CheckNewPassword(pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLen {
		return ErrPasswordTooShort
	}
	if len(pw) > MaxPasswordBytes {
		return &PasswordTooLongError{Bytes: len(pw)}
	}
	if isCommonPassword(pw) {
		return ErrPasswordCommon
	}
	return nil
}

// HashPassword checks pw with CheckNewPassword and returns its bcrypt hash
// for User.PasswordHash.
func HashPassword(pw string) (string, error) {
	if err := CheckNewPassword(pw); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if errors.Is(err, bcrypt.ErrPasswordTooLong) {
		return "", ErrPasswordTooLong
	}
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// DummyPasswordHash returns a hash of a random secret nobody knows, at the
// cost real passwords are hashed with. Sign-in compares against it when an
// e-mail is unknown, so that path spends the same bcrypt time as a real one.
func DummyPasswordHash() (string, error) {
	secret := make([]byte, 24)
	if _, err := rand.Read(secret); err != nil {
		return "", fmt.Errorf("dummy password: %w", err)
	}
	// 48 hex characters: well inside bcrypt's 72-byte limit.
	h, err := bcrypt.GenerateFromPassword([]byte(hex.EncodeToString(secret)), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("dummy password hash: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether pw matches hash. A malformed hash never matches.
func CheckPassword(hash, pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// commonPasswordsText is a few hundred of the passwords and words attackers
// try first, lower case, one a line, written for this project (not copied
// from a published list). isCommonPassword extends it with the usual
// decorations, so the file need not hold "password1", "Password123!" and so on.
//
//go:embed common-passwords.txt
var commonPasswordsText string

var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonPasswordsText, "\n") {
		if w := strings.TrimSpace(line); w != "" && !strings.HasPrefix(w, "#") {
			m[w] = true
		}
	}
	return m
}()

// isCommonPassword reports whether pw is, after the decorations people add
// to meet a rule, one of commonPasswords, or a pattern no list needs to
// hold: one character or a short run repeated, a keyboard row or an
// alphabetical or numeric sequence.
func isCommonPassword(pw string) bool {
	p := strings.ToLower(pw)
	p = strings.Join(strings.Fields(p), "") // "i love you" is "iloveyou"
	// Symbols at the ends do not hide a pattern: "0987654321!!".
	bare := strings.TrimFunc(p, func(r rune) bool { return !isLetter(r) && (r < '0' || r > '9') })
	if bare == "" || repeatsShortUnit(bare) || isSequence(bare) {
		return true
	}
	// Strip the digits and symbols added to either end ("!Password2024!"),
	// then undo the usual letter-for-digit swaps ("p@ssw0rd").
	core := strings.TrimFunc(p, func(r rune) bool { return !isLetter(r) })
	if commonPasswords[p] || commonPasswords[core] || commonPasswords[unLeet(core)] {
		return true
	}
	// A short core is a single letter before random digits ("x83749201573"),
	// not a pattern.
	return utf8.RuneCountInString(core) >= 4 && (repeatsShortUnit(core) || isSequence(core))
}

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' || r > utf8.RuneSelf }

var leet = strings.NewReplacer("0", "o", "1", "i", "3", "e", "4", "a", "5", "s", "7", "t", "8", "b", "@", "a", "$", "s", "!", "i", "+", "t")

func unLeet(s string) string { return leet.Replace(s) }

// repeatsShortUnit reports whether s is a unit of at most four characters
// repeated at least three times: "aaaaaaaaaaaa", "abcabcabcab", "12121212".
func repeatsShortUnit(s string) bool {
	r := []rune(s)
	for unit := 1; unit <= 4 && unit < len(r); unit++ {
		if len(r) < 3*unit {
			continue
		}
		same := true
		for i := unit; i < len(r); i++ {
			if r[i] != r[i%unit] {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

// sequences are runs people type as a password: rows of a US or German
// keyboard, the alphabet and the digits, each readable both ways by
// isSequence.
var sequences = []string{
	"abcdefghijklmnopqrstuvwxyz",
	"012345678901234567890",
	"qwertyuiop", "asdfghjkl", "zxcvbnm",
	"qwertzuiop", "yxcvbnm", "azertyuiop", "qsdfghjklm", "wxcvbn",
	"1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
	"qazwsxedcrfvtgbyhnujmikolp",
}

// isSequence reports whether s lies inside one of the sequences, forwards
// or backwards, or is one keyboard row followed by the next.
func isSequence(s string) bool {
	for _, seq := range sequences {
		if strings.Contains(seq, s) || strings.Contains(reverse(seq), s) {
			return true
		}
	}
	rows := "qwertyuiopasdfghjklzxcvbnm"
	return len(s) >= 6 && strings.HasPrefix(rows, s)
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}
