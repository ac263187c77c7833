package jsontensor

import (
	"unicode/utf16"
	"unicode/utf8"
)

// Str reads the string whose opening quote is at the decoder's position
// and returns its unescaped bytes, which point into the body or, when the
// string has escapes, into the decoder's scratch space until the next
// call.
func (d *Decoder) Str() ([]byte, *Error) {
	b := d.b
	start := d.i + 1
	for i := start; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			d.i = i + 1
			return b[start:i], nil
		case c == '\\':
			d.scratch = append(d.scratch[:0], b[start:i]...)
			d.i = i
			return d.unescape()
		case c < 0x20:
			d.i = i
			return nil, Malformed("malformed JSON at offset %d: unescaped control character in a string", d.i)
		case c >= utf8.RuneSelf:
			size, err := runeAt(b, i)
			if err != nil {
				d.i = i
				return nil, err
			}
			i += size - 1
		}
	}
	d.i = len(b)
	return nil, d.Fail("'\"'")
}

// runeAt checks the UTF-8 sequence at b[i]: JSON text is UTF-8, and a
// string that is not would reach the model as other bytes than the client
// meant, or come back altered.
func runeAt(b []byte, i int) (int, *Error) {
	r, size := utf8.DecodeRune(b[i:])
	if r == utf8.RuneError && size <= 1 {
		return 0, Malformed("malformed JSON at offset %d: invalid UTF-8 in a string", i)
	}
	return size, nil
}

// unescape finishes reading a string from d.i, appending to d.scratch.
// Lone surrogates become U+FFFD, as with encoding/json.
func (d *Decoder) unescape() ([]byte, *Error) {
	b := d.b
	for d.i < len(b) {
		c := b[d.i]
		switch {
		case c == '"':
			d.i++
			return d.scratch, nil
		case c < 0x20:
			return nil, Malformed("malformed JSON at offset %d: unescaped control character in a string", d.i)
		case c >= utf8.RuneSelf:
			size, err := runeAt(b, d.i)
			if err != nil {
				return nil, err
			}
			d.scratch = append(d.scratch, b[d.i:d.i+size]...)
			d.i += size
			continue
		case c != '\\':
			d.scratch = append(d.scratch, c)
			d.i++
			continue
		}
		if d.i+1 >= len(b) {
			d.i = len(b)
			return nil, d.Fail("an escape")
		}
		switch e := b[d.i+1]; e {
		case '"', '\\', '/':
			d.scratch = append(d.scratch, e)
		case 'b':
			d.scratch = append(d.scratch, '\b')
		case 'f':
			d.scratch = append(d.scratch, '\f')
		case 'n':
			d.scratch = append(d.scratch, '\n')
		case 'r':
			d.scratch = append(d.scratch, '\r')
		case 't':
			d.scratch = append(d.scratch, '\t')
		case 'u':
			r, ok := hex4(b[d.i+2:])
			if !ok {
				return nil, Malformed("malformed JSON at offset %d: invalid \\u escape", d.i)
			}
			d.i += 6
			if utf16.IsSurrogate(r) {
				// A high surrogate followed by a low one is one character.
				r2 := utf8.RuneError
				if len(b)-d.i >= 6 && b[d.i] == '\\' && b[d.i+1] == 'u' {
					r2, _ = hex4(b[d.i+2:])
				}
				if r = utf16.DecodeRune(r, r2); r != utf8.RuneError {
					d.i += 6
				}
			}
			d.scratch = utf8.AppendRune(d.scratch, r)
			continue
		default:
			d.i++
			return nil, d.Fail("one of \" \\ / b f n r t u after '\\'")
		}
		d.i += 2
	}
	return nil, d.Fail("'\"'")
}

// hex4 decodes the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case isDigit(c):
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
