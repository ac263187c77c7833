package jsontensor

import (
	"fmt"
)

// Error is a body the codec cannot read.
type Error struct {
	Syntax  bool     // malformed JSON (every protocol's 400), rather than JSON that does not fit what was asked for
	Message string   // for Syntax, the whole story; else a summary, with the story in Details
	Details []Detail // the fields at fault, for errors that are not Syntax
}

// Detail names one problem with one field.
type Detail struct{ Field, Message string }

func (e *Error) Error() string {
	if len(e.Details) == 0 {
		return e.Message
	}
	return fmt.Sprintf("%s: %s: %s", e.Message, e.Details[0].Field, e.Details[0].Message)
}

// Malformed returns a Syntax error: the body is not JSON.
func Malformed(format string, args ...any) *Error {
	return &Error{Syntax: true, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns the error for JSON that does not fit what was asked
// for, at field. The readers of single values leave field empty, for
// whoever knows where the value sits to fill in with Named.
func Invalid(field, format string, args ...any) *Error {
	return InvalidFields([]Detail{{Field: field, Message: fmt.Sprintf(format, args...)}})
}

// InvalidFields is Invalid for several fields at once, such as every
// missing one.
func InvalidFields(details []Detail) *Error {
	return &Error{Message: "validation failed", Details: details}
}

// Named gives e its field if it is the field-less error of a single
// value, and returns it.
func (e *Error) Named(field string) *Error {
	if !e.Syntax && len(e.Details) == 1 && e.Details[0].Field == "" {
		e.Details[0].Field = field
	}
	return e
}

// Clip shortens a number echoed in a message; clients can send megabytes
// of digits.
func Clip(text []byte) string {
	if len(text) > 40 {
		return string(text[:37]) + "..."
	}
	return string(text)
}
