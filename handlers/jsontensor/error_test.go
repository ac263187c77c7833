package jsontensor

import (
	"reflect"
	"testing"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// TestErrorKinds pins the split the protocols map to their statuses:
// malformed JSON is Syntax, with the whole story in Message and no
// Details; JSON that does not fit is not, and names its fields in
// Details, filled in by Named when the reader of one value could not know
// it.
func TestErrorKinds(t *testing.T) {
	read := func(body string, f func(d *Decoder) *Error) *Error {
		var d Decoder
		d.Reset([]byte(body))
		return f(&d)
	}
	for _, c := range []struct {
		name   string
		err    *Error
		syntax bool
		msg    string   // Error()
		fields []string // of Details
	}{
		{"Malformed", Malformed("empty body"), true, "empty body", nil},
		{"Invalid", Invalid("inputs.x", "expected %d elements, got %d", 2, 3), false,
			"validation failed: inputs.x: expected 2 elements, got 3", []string{"inputs.x"}},
		{"InvalidFields", InvalidFields([]Detail{{"a", "missing feature"}, {"b", "missing feature"}}), false,
			"validation failed: a: missing feature", []string{"a", "b"}},
		{"bad JSON", read(`[1,]`, (*Decoder).Skip), true, "malformed JSON at offset 3: expected a value, got ']'", nil},
		{"nested too deep", CheckSyntax([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`)), true,
			"malformed JSON at offset 32: nested deeper than 32 levels", nil},
		{"trailing bytes", CheckSyntax([]byte(`{} x`)), true, "malformed JSON at offset 3: expected end of input after the top-level value, got 'x'", nil},
		{"wrong type", read(`"a"`, func(d *Decoder) *Error { return d.Mismatch("inputs", "an object") }), false,
			"validation failed: inputs: expected an object, got a string", []string{"inputs"}},
		{"no value where a type was due", read(`?`, func(d *Decoder) *Error { return d.Mismatch("inputs", "an object") }), true,
			"malformed JSON at offset 0: expected a value, got '?'", nil},
		{"value out of range, named", read(` 300`, func(d *Decoder) *Error {
			col := NewColumn(tensor.Uint8)
			col.Grow(1)
			return col.At(d, 0).Named("x[0]")
		}), false, "validation failed: x[0]: 300 is out of range for uint8 (0 to 255)", []string{"x[0]"}},
		{"Named keeps a field already given", Invalid("a", "duplicate field").Named("b"), false,
			"validation failed: a: duplicate field", []string{"a"}},
		{"Named leaves Syntax alone", read(`?`, func(d *Decoder) *Error { _, err := d.Bool(); return err.Named("b") }), true,
			"malformed JSON at offset 0: expected a value, got '?'", nil},
	} {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		var fields []string
		for _, d := range c.err.Details {
			fields = append(fields, d.Field)
		}
		if c.err.Syntax != c.syntax || c.err.Error() != c.msg || !reflect.DeepEqual(fields, c.fields) {
			t.Errorf("%s: Syntax %v, %q, fields %q; want %v, %q, %q", c.name, c.err.Syntax, c.err.Error(), fields, c.syntax, c.msg, c.fields)
		}
	}
}
