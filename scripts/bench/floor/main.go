// Command floor is the HTTP floor of the benchmark: a std-lib Go server
// that reads the request body and writes a fixed answer, so that
// onnxserve's numbers can be read as a fraction of what net/http alone
// allows on the same core.
package main

import (
	"bytes"
	"flag"
	"log"
	"net/http"
	"sync"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	flag.Parse()
	answer := []byte(`{"model":"floor","version":"1","outputs":{"label":[0]}}`)
	// Bodies are read into pooled buffers, as a real server would read them
	// before decoding; nothing is decoded.
	pool := sync.Pool{New: func() any { return new(bytes.Buffer) }}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		buf := pool.Get().(*bytes.Buffer)
		buf.Reset()
		if _, err := buf.ReadFrom(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		} else {
			w.Header().Set("Content-Type", "application/json")
			w.Write(answer)
		}
		pool.Put(buf)
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
