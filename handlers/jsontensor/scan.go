package jsontensor

import (
	"fmt"
	"strconv"
)

// MaxDepth bounds the nesting of objects and arrays, so that a hostile
// body cannot exhaust the stack of the recursive parts of the decoder.
// The /v1 top-level object and its "inputs" take two levels, which leaves
// tensors of rank 30 expressible.
const MaxDepth = 32

// Decoder is the JSON tokenizer: a position in a body and the nesting
// depth there. The zero Decoder reads an empty body; Reset gives it one.
type Decoder struct {
	b       []byte
	i       int
	depth   int
	scratch []byte // the unescaped text of the last string that had escapes
	num     num    // the last number scanned
	// first is where the column being filled read its first element: how
	// many bytes its elements have taken so far tells how many more the
	// rest of the body likely holds (buffer.push).
	first int
}

// Reset starts reading body from its beginning.
func (d *Decoder) Reset(body []byte) { *d = Decoder{b: body} }

// Mark is a position in a body, with the nesting depth there.
type Mark struct{ i, depth int }

// Mark returns the decoder's position, for Seek to come back to: a value
// can be skipped and read later, once what it depends on is known.
func (d *Decoder) Mark() Mark { return Mark{d.i, d.depth} }

// Seek moves the decoder to a position that Mark returned.
func (d *Decoder) Seek(m Mark) { d.i, d.depth = m.i, m.depth }

// Room is how many elements of size bytes a buffer may reserve before
// the rest of the body is read: as many as the rest could hold at two
// bytes ("0,") each, and no more than take half as many bytes as the rest
// has, so that a shape a client declares costs at most half the body
// again (an FP64 buffer sized at two bytes an element was four bodies).
// Data denser than that still fits: the buffer grows as it comes.
func (d *Decoder) Room(size int) int {
	left := len(d.b) - d.i
	return min(left/2, left/(2*max(size, 1))) + 1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isDigit(c byte) bool { return c-'0' < 10 }

// Next skips whitespace and returns the byte there, 0 at the end.
func (d *Decoder) Next() byte {
	for d.i < len(d.b) {
		if c := d.b[d.i]; !isSpace(c) {
			return c
		}
		d.i++
	}
	return 0
}

// AtEnd skips whitespace and reports whether the body ends there. (Next
// returns 0 at the end, but also at a NUL byte.)
func (d *Decoder) AtEnd() bool {
	d.Next()
	return d.i == len(d.b)
}

// Fail is the Syntax error for malformed JSON at the decoder's position.
func (d *Decoder) Fail(want string) *Error {
	got := "end of input"
	if d.i < len(d.b) {
		if c := d.b[d.i]; c >= 0x20 && c < 0x7f {
			got = strconv.QuoteRune(rune(c))
		} else {
			got = fmt.Sprintf("byte 0x%02x", c)
		}
	}
	return Malformed("malformed JSON at offset %d: expected %s, got %s", d.i, want, got)
}

// Mismatch is the error for a well-formed value of the wrong JSON type at
// the decoder's position (field is the value's name), or the Syntax
// error if what is there is no value at all.
func (d *Decoder) Mismatch(field, want string) *Error {
	if d.i < len(d.b) {
		if k := KindOf(d.b[d.i]); k != "" {
			return Invalid(field, "expected %s, got %s", want, k)
		}
	}
	return d.Fail("a value")
}

// KindOf names the JSON type a value starting with c has, "" if none does.
func KindOf(c byte) string {
	switch {
	case c == '"':
		return "a string"
	case c == '[':
		return "an array"
	case c == '{':
		return "an object"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || isDigit(c):
		return "a number"
	}
	return ""
}

// open consumes the '[' or '{' at d.i.
func (d *Decoder) open() *Error {
	if d.depth++; d.depth > MaxDepth {
		return Malformed("malformed JSON at offset %d: nested deeper than %d levels", d.i, MaxDepth)
	}
	d.i++
	return nil
}

// close consumes the ']' or '}' at d.i.
func (d *Decoder) close() {
	d.i++
	d.depth--
}

// more consumes what follows an element of an array or object: true after
// a ',', false after the closing bracket.
func (d *Decoder) more(closing byte) (bool, *Error) {
	switch d.Next() {
	case ',':
		d.i++
		return true, nil
	case closing:
		d.close()
		return false, nil
	}
	return false, d.Fail("',' or '" + string(closing) + "'")
}

// FirstElement peeks at the first byte of the first element of the array
// at the decoder's position, 0 if there is none.
func (d *Decoder) FirstElement() byte {
	i := d.i
	c := d.Next()
	if c == '[' {
		d.i++
		c = d.Next()
	} else {
		c = 0
	}
	d.i = i
	return c
}

// Object reads the object whose '{' is at the decoder's position (Next
// has returned it), calling member for each key with the decoder at its
// value, which member must consume. An error from member ends the object
// and is returned as it is.
func (d *Decoder) Object(member func(key []byte) *Error) *Error {
	if err := d.open(); err != nil {
		return err
	}
	if d.Next() == '}' {
		d.close()
		return nil
	}
	for {
		if d.Next() != '"' {
			return d.Fail("a string key")
		}
		key, err := d.Str()
		if err != nil {
			return err
		}
		if d.Next() != ':' {
			return d.Fail("':'")
		}
		d.i++
		if err := member(key); err != nil {
			return err
		}
		more, err := d.more('}')
		if !more {
			return err
		}
	}
}

// Elements reads the array whose '[' is at the decoder's position (Next
// has returned it), calling elem for each element with the decoder at
// it, whitespace skipped; elem must consume it. An error from elem ends
// the array and is returned as it is.
func (d *Decoder) Elements(elem func(i int) *Error) *Error {
	if err := d.open(); err != nil {
		return err
	}
	if d.Next() == ']' {
		d.close()
		return nil
	}
	for i := 0; ; i++ {
		d.Next()
		if err := elem(i); err != nil {
			return err
		}
		if more, err := d.more(']'); !more {
			return err
		}
	}
}

// Skip consumes one value of any kind, checking only its syntax.
func (d *Decoder) Skip() *Error {
	switch c := d.Next(); {
	case c == '{':
		return d.Object(func([]byte) *Error { return d.Skip() })
	case c == '[':
		if err := d.open(); err != nil {
			return err
		}
		if d.Next() == ']' {
			d.close()
			return nil
		}
		for {
			if err := d.Skip(); err != nil {
				return err
			}
			if more, err := d.more(']'); !more {
				return err
			}
		}
	case c == '"':
		_, err := d.Str()
		return err
	case c == '-' || isDigit(c):
		return d.number()
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(d.b)-d.i >= len(lit) && string(d.b[d.i:d.i+len(lit)]) == lit {
			d.i += len(lit)
			return nil
		}
	}
	return d.Fail("a value")
}

// CheckSyntax returns the Syntax error for body if it is not well-formed
// JSON: a grammar that stopped at the first value that does not fit can
// then still answer malformed JSON anywhere as such.
func CheckSyntax(body []byte) *Error {
	d := Decoder{b: body}
	if err := d.Skip(); err != nil {
		return err
	}
	if !d.AtEnd() {
		return d.Fail("end of input after the top-level value")
	}
	return nil
}
