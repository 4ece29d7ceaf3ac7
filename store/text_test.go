package store

import (
	"errors"
	"math/rand"
	"testing"
)

func TestTextCeil(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"abc", "abc", true},
		{"a\u00e9", "a\u00e9", true},
		{"a\x80", "a\u0080", true},         // a lone continuation byte: the least two-byte character
		{"a\xc3", "a\u00c0", true},         // a truncated é: the least character that begins with 0xC3
		{"a\xc3(", "a\u00c0", true},        // 0xC3 then no continuation byte: the least 0xC3 character is above it
		{"a\xc3\xff", "a\u0100", true},     // and here past every 0xC3 character
		{"a\xed\xa0\x80", "a\ue000", true}, // an encoded surrogate: the first character after them
		{"a\x00", "a\x01", true},
		{"a\x00zzz", "a\x01", true},
		{"a\xff", "b", true},
		{"a\xffzzz", "b", true},
		{"\xf4\x90", "", false}, // above U+10FFFF's encoding, with nothing before it to raise
		{"\xff", "", false},
		{"z\xf4\x90\x80\x80", "{", true},
	}
	for _, tt := range tests {
		got, ok := textCeil(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("textCeil(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		prefix, want string
		ok           bool
	}{
		{"", "", false},
		{"a", "b", true},
		{"a/", "a0", true},
		{"a\x7f", "a\u0080", true}, // not "a\x80", which PostgreSQL refuses as text
		{"a\u00ff", "a\u0100", true},
		{"a\ud7ff", "a\ue000", true}, // past the surrogates
		{"a\U0010ffff", "b", true},
		{"\U0010ffff", "", false},
		{"a\xff", "b", true},
		{"a\x00", "a\x01", true},
	}
	for _, tt := range tests {
		got, ok := prefixEnd(tt.prefix)
		if got != tt.want || ok != tt.ok {
			t.Errorf("prefixEnd(%q) = %q, %v; want %q, %v", tt.prefix, got, ok, tt.want, tt.ok)
		}
		if ok && !fitsText(got) {
			t.Errorf("prefixEnd(%q) = %q, which is not text PostgreSQL keeps", tt.prefix, got)
		}
	}
}

// TestTextBoundsSelectTheSameKeys checks the promise the listing relies
// on: for any bytes s and any key k that fits a TEXT column, k >= s exactly
// when k >= textCeil(s), and k starts with p exactly when it lies in
// [textCeil(p), prefixEnd(p)).
func TestTextBoundsSelectTheSameKeys(t *testing.T) {
	// Bytes around the edges of UTF-8: ASCII, NUL, DEL, continuation
	// bytes, lead bytes of every length, the surrogates' and U+10FFFF's.
	alphabet := []byte{0x00, 0x01, 'a', 'b', 0x7f, 0x80, 0xbf, 0xc2, 0xc3, 0xdf, 0xe0, 0xed, 0x9f, 0xa0, 0xee, 0xef, 0xf0, 0xf4, 0x8f, 0x90, 0xf5, 0xff}
	rnd := rand.New(rand.NewSource(1))
	random := func() string {
		b := make([]byte, rnd.Intn(6))
		for i := range b {
			b[i] = alphabet[rnd.Intn(len(alphabet))]
		}
		return string(b)
	}
	var keys []string
	for len(keys) < 400 {
		if k := random(); fitsText(k) {
			keys = append(keys, k)
		}
	}
	for range 3000 {
		s := random()
		ceil, ok := textCeil(s)
		if ok && (!fitsText(ceil) || ceil < s) {
			t.Fatalf("textCeil(%q) = %q", s, ceil)
		}
		end, hasEnd := prefixEnd(s)
		for _, k := range keys {
			if at := ok && k >= ceil; (k >= s) != at {
				t.Fatalf("key %q >= %q is %v, but against textCeil = %q, %v it is %v", k, s, k >= s, ceil, ok, at)
			}
			in := ok && k >= ceil && (!hasEnd || k < end)
			if starts := len(k) >= len(s) && k[:len(s)] == s; starts != in {
				t.Fatalf("key %q starts with %q: %v, but the bounds [%q, %q) say %v", k, s, starts, ceil, end, in)
			}
		}
	}
}

func TestCheckText(t *testing.T) {
	for _, s := range []string{"", "a", "é", "\U0010ffff", "a\x01b"} {
		if err := checkText("key", s); err != nil {
			t.Errorf("checkText(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"a\xff", "\xc3", "a\x00b", "\xed\xa0\x80"} {
		if err := checkText("key", s); !errors.Is(err, ErrInvalid) {
			t.Errorf("checkText(%q) = %v, want ErrInvalid", s, err)
		}
	}
}
