package jsontensor

import (
	"strings"
	"testing"
)

// TestStrUTF8 pins that strings must be UTF-8, on the plain path and on
// the path with escapes, with the offset of the first bad byte; valid
// sequences pass through as they are.
func TestStrUTF8(t *testing.T) {
	for _, c := range []struct {
		json, want, err string
	}{
		{`"grün"`, "grün", ""},
		{`"gr\u00fcn ü"`, "grün ü", ""},
		{"\"a\xffb\"", "", "offset 2: invalid UTF-8"},
		{"\"\\n\xc3\"", "", "offset 3: invalid UTF-8"},
		{"\"\xed\xa0\x80\"", "", "offset 1: invalid UTF-8"}, // an encoded surrogate is not UTF-8
	} {
		var d Decoder
		d.Reset([]byte(c.json))
		got, err := d.Str()
		switch {
		case c.err == "" && (err != nil || string(got) != c.want):
			t.Errorf("Str(%q) = %q, %v; want %q", c.json, got, err, c.want)
		case c.err != "" && (err == nil || !err.Syntax || !strings.Contains(err.Message, c.err)):
			t.Errorf("Str(%q) = %q, %v; want a syntax error with %q", c.json, got, err, c.err)
		}
	}
}
