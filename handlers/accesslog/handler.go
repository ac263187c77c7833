package accesslog

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Handler is the server's slog.Handler: slog's JSON or text handler for
// every record, and for the access line a writer of its own that makes
// the very bytes slog's would, without slog's Attrs, Record and per-value
// dispatch, which cost more per request than ONNX Runtime's run (issue
// 15). Write takes that path when its logger's handler is a Handler.
type Handler struct {
	std  slog.Handler
	w    *serialWriter
	json bool
	// fast is false when the options make slog's output differ from the
	// fast path's (ReplaceAttr, AddSource; the server sets neither):
	// Write then goes through slog.
	fast bool
	// now is the access line's time, time.Now but in tests.
	now func() time.Time
}

// NewHandler returns a handler writing to w in JSON (slog.JSONHandler's
// format) or text (slog.TextHandler's), with opts as those take them.
func NewHandler(w io.Writer, json bool, opts *slog.HandlerOptions) *Handler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	// slog's handlers serialise their own writes with a mutex the fast path
	// cannot take: both go through this one instead, so that w sees one
	// Write at a time, as slog promises.
	sw := &serialWriter{w: w}
	h := &Handler{w: sw, json: json, fast: opts.ReplaceAttr == nil && !opts.AddSource, now: time.Now}
	if json {
		h.std = slog.NewJSONHandler(sw, opts)
	} else {
		h.std = slog.NewTextHandler(sw, opts)
	}
	return h
}

func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.std.Enabled(ctx, l) }

func (h *Handler) Handle(ctx context.Context, r slog.Record) error { return h.std.Handle(ctx, r) }

// WithAttrs and WithGroup return slog's handler, without the fast path:
// the access line would have to carry their attributes and groups, and
// the server makes no such logger (a logger from log.With writes its
// access lines through slog, as they were before the fast path).
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler { return h.std.WithAttrs(as) }

func (h *Handler) WithGroup(name string) slog.Handler { return h.std.WithGroup(name) }

type serialWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *serialWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// maxPooled bounds the buffers kept for reuse, as slog does its own: one
// line with a huge error message should not pin its buffer.
const maxPooled = 16 << 10

var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// write logs l as slog's handler would log Write's record of it.
func (h *Handler) write(ctx context.Context, l *Line) {
	if !h.std.Enabled(ctx, slog.LevelInfo) {
		return
	}
	t := h.now()
	if y := t.Year(); y < 0 || y >= 10000 {
		// slog writes an error into the JSON line then, and its text
		// handler's millisecond trimming assumes four digits: leave
		// such clocks to slog.
		r := slog.NewRecord(t, slog.LevelInfo, "request", 0)
		r.AddAttrs(l.attrs()...)
		h.std.Handle(ctx, r)
		return
	}
	bp := buffers.Get().(*[]byte)
	b := appendLine((*bp)[:0], h.json, t, l)
	h.w.Write(b)
	if cap(b) <= maxPooled {
		*bp = b
		buffers.Put(bp)
	}
}

// appendLine appends l's line at t in slog's format, JSON or text, with
// Write's attributes in Write's order (attrs).
func appendLine(b []byte, json bool, t time.Time, l *Line) []byte {
	if json {
		b = append(b, `{"time":"`...)
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"INFO","msg":"request"`...)
	} else {
		b = append(b, "time="...)
		b = appendRFC3339Millis(b, t)
		b = append(b, " level=INFO msg=request"...)
	}
	b = appendString(appendKey(b, json, "request_id"), json, l.ID)
	b = appendString(appendKey(b, json, "protocol"), json, l.Protocol)
	b = appendRoute(appendKey(b, json, "route"), json, l.Method, l.Route)
	b = appendKey(b, json, "status")
	if l.Status != "" {
		b = appendString(b, json, l.Status)
	} else if json { // digits and '-', which neither format escapes
		b = append(strconv.AppendInt(append(b, '"'), int64(l.Code), 10), '"')
	} else {
		b = strconv.AppendInt(b, int64(l.Code), 10)
	}
	b = appendFloat(appendKey(b, json, "duration_ms"), json, ms(l.Duration))
	b = strconv.AppendInt(appendKey(b, json, "bytes_in"), l.BytesIn, 10)
	b = strconv.AppendInt(appendKey(b, json, "bytes_out"), l.BytesOut, 10)
	b = appendString(appendKey(b, json, "client"), json, l.Client)
	if r := l.Record; r != nil {
		if r.Caller != "" {
			b = appendString(appendKey(b, json, "key"), json, r.Caller)
		}
		if r.Model != "" {
			b = appendString(appendKey(b, json, "model"), json, r.Model)
			b = appendString(appendKey(b, json, "version"), json, r.Version)
			b = appendFloat(appendKey(b, json, "queue_ms"), json, ms(r.Queue))
			b = strconv.AppendInt(appendKey(b, json, "batch"), int64(r.Run.Rows), 10)
			if r.ID != "" {
				b = appendString(appendKey(b, json, "id"), json, r.ID)
			}
			if r.Err != nil {
				b = appendString(appendKey(b, json, "error"), json, r.Err.Message)
			}
		}
	}
	if json {
		b = append(b, '}')
	}
	return append(b, '\n')
}

// appendKey appends the separator and key k, which is plain ASCII that
// neither format quotes.
func appendKey(b []byte, json bool, k string) []byte {
	if json {
		b = append(b, ',', '"')
		b = append(b, k...)
		return append(b, '"', ':')
	}
	b = append(b, ' ')
	b = append(b, k...)
	return append(b, '=')
}

// appendString appends s as slog's handlers write a string value.
func appendString(b []byte, json bool, s string) []byte {
	if json {
		b = append(b, '"')
		b = appendEscapedJSONString(b, s)
		return append(b, '"')
	}
	if needsQuoting(s) {
		return appendQuoted(b, s)
	}
	return append(b, s...)
}

// appendRoute appends method+" "+route (route alone without a method) as
// appendString would, without making that string. Quoting and escaping
// go rune by rune, and no rune spans the space, which is one and is no
// UTF-8 continuation byte: the parts are written one after the other.
func appendRoute(b []byte, json bool, method, route string) []byte {
	if method == "" {
		return appendString(b, json, route)
	}
	if json {
		b = append(b, '"')
		b = appendEscapedJSONString(b, method)
		b = append(b, ' ')
		b = appendEscapedJSONString(b, route)
		return append(b, '"')
	}
	// The space makes the text handler quote the whole: the method's
	// closing quote and the route's opening one are dropped.
	b = appendQuoted(b, method)
	b = append(b[:len(b)-1], ' ')
	n := len(b)
	b = appendQuoted(b, route)
	return append(b[:n], b[n+1:]...)
}

// appendQuoted appends strconv.Quote(s). Printable ASCII without a quote
// or a backslash, which every route is, Quote copies as it is: that is
// done here without Quote's rune-by-rune loop.
func appendQuoted(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
			return strconv.AppendQuote(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendFloat appends f, a duration's milliseconds (ms), as slog writes a
// Float64: in text with strconv's 'g', in JSON as encoding/json does,
// which is 'f' for all but magnitudes under 1e-6 or from 1e21 on, and
// whole microseconds in milliseconds are neither.
func appendFloat(b []byte, json bool, f float64) []byte {
	if json {
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// What follows is slog's own (log/slog, Go 1.26), which it does not
// export; the differential tests hold it to slog's output.

func appendRFC3339Millis(b []byte, t time.Time) []byte {
	// RFC3339Nano trims trailing zeros: a tenth of a millisecond added to
	// the truncated time keeps four digits, and the fourth is dropped.
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}

// plainText holds the ASCII bytes a text value may hold unquoted:
// anything but what JSON would escape (a backslash aside), and the space
// and '=' that would break key=value apart. A table, as slog's safeSet is:
// one load a byte, where there were four tests.
var plainText = func() (t [utf8.RuneSelf]bool) {
	for b := range t {
		t[b] = b == '\\' || b != ' ' && b != '=' && safe(byte(b))
	}
	return t
}()

func needsQuoting(s string) bool {
	if len(s) == 0 {
		return true
	}
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if !plainText[b] {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

func appendEscapedJSONString(buf []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if safe(b) {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\')
			switch b {
			case '\\', '"':
				buf = append(buf, b)
			case '\n':
				buf = append(buf, 'n')
			case '\r':
				buf = append(buf, 'r')
			case '\t':
				buf = append(buf, 't')
			default:
				buf = append(buf, 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JSONP: slog escapes
		// them.
		if c == '\u2028' || c == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(buf, s[start:]...)
}

const hexDigits = "0123456789abcdef"

// safe reports whether a JSON string holds ASCII b unescaped: all but
// the control characters, '"' and '\\'.
func safe(b byte) bool { return b >= ' ' && b != '"' && b != '\\' }
