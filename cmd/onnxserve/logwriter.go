package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logFlushEvery is how long a log line may wait in logWriter's buffer.
const logFlushEvery = 100 * time.Millisecond

// logWriter gathers log lines and writes them together, at most
// logFlushEvery after the first of them and whenever 64 KiB have come:
// with an access line per request, one write(2) per line cost W1 more
// than the line's formatting (docs/benchmarks.md, the access log's row).
// Close writes what is left; a crash loses at most logFlushEvery of lines.
type logWriter struct {
	mu    sync.Mutex
	buf   *bufio.Writer
	timer *time.Timer // pending flush, nil when the buffer is empty
}

func newLogWriter(w io.Writer) *logWriter { return &logWriter{buf: bufio.NewWriterSize(w, 64<<10)} }

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.buf.Write(p)
	if l.timer == nil && l.buf.Buffered() > 0 {
		l.timer = time.AfterFunc(logFlushEvery, l.flush)
	}
	return n, err
}

func (l *logWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Flush()
	l.timer = nil
}

// Close writes what is buffered; the logWriter may still be written to,
// and is flushed again by its timer.
func (l *logWriter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	return l.buf.Flush()
}
