package store

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// PostgreSQL's text holds only valid UTF-8 without NUL bytes (anything else
// fails the statement with SQLSTATE 22021, and aborts its transaction),
// while SQLite keeps whatever bytes it is given. The store refuses such
// text on both engines alike rather than keep it on one and not the other,
// or change it quietly.

// fitsText reports whether s can be kept in a TEXT column on both engines.
func fitsText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// allFit reports whether every one of ss fits a TEXT column. A lookup by
// a name that does not finds nothing: no row can hold it, and PostgreSQL
// would fail the query rather than answer.
func allFit(ss ...string) bool {
	for _, s := range ss {
		if !fitsText(s) {
			return false
		}
	}
	return true
}

// checkText returns ErrInvalid, naming what s is and what is wrong with
// it, unless s fits a TEXT column.
func checkText(what, s string) error {
	switch {
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s %q is not valid UTF-8", ErrInvalid, what, s)
	case strings.IndexByte(s, 0) >= 0:
		return fmt.Errorf("%w: %s %q contains a NUL character", ErrInvalid, what, s)
	}
	return nil
}

// textCeil returns the least string that fits a TEXT column and is at or
// above s in byte order, false when there is none. For every s and every
// t that fits, t >= s exactly when t >= textCeil(s), so a bound given as
// any bytes (a client's marker, the end of a prefix) can be passed to the
// database as textCeil of it without changing which rows it selects.
func textCeil(s string) (string, bool) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r != utf8.RuneError || size > 1) && r != 0 {
			i += size
			continue
		}
		// s[:i] fits; what follows is not a character that does. The
		// least fitting string above s goes on from s[:i] with the least
		// character whose encoding is above those bytes, if there is one:
		// s[i:] is not itself a fitting character, nor does one begin it.
		if r, ok := runeAbove(s[i:]); ok {
			return s[:i] + string(r), true
		}
		// No character is: the answer is past every string that starts
		// with s[:i].
		end, ok := bytesAfterPrefix(s[:i])
		if !ok {
			return "", false
		}
		return textCeil(end)
	}
	return s, true
}

// runeAbove returns the least character other than NUL whose UTF-8
// encoding is above b in byte order. Encodings order as code points do,
// so a binary search over the code points finds it; the surrogates
// (U+D800 to U+DFFF) have no encoding and are skipped.
func runeAbove(b string) (rune, bool) {
	const surrogates = 0xE000 - 0xD800
	at := func(i int) rune {
		r := rune(i + 1) // from U+0001
		if r >= 0xD800 {
			r += surrogates
		}
		return r
	}
	const n = utf8.MaxRune - surrogates // U+0001 to U+10FFFF, less the surrogates
	i := sort.Search(n, func(i int) bool { return string(at(i)) > b })
	if i == n {
		return 0, false
	}
	return at(i), true
}

// bytesAfterPrefix is the least byte string above every string that starts
// with prefix: its last byte below 0xFF raised by one, what follows it
// dropped. False when there is none (an empty prefix, or only 0xFF bytes).
// The result need not be UTF-8; see textCeil.
func bytesAfterPrefix(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
