// Command grpcload is the gRPC load generator of scripts/bench.sh, the
// counterpart of wrk for the KServe v2 GRPCInferenceService: it sends
// ModelInfer calls as fast as it can from -concurrency callers spread over
// -conns client connections (HTTP/2 multiplexes the calls of a
// connection), for -warmup and then -duration, and prints one line,
//
//	RESULT requests=N ok=N errors=N rps=R p50_ms=L p99_ms=L max_ms=L client_cpu=F codes=OK:N[,CODE:N...] [rss_kb=N]
//
// on stdout, of the calls that completed in the measured window: rps
// counts the OK ones, the latencies are theirs, any other status code is
// an error. It exits non-zero when no call succeeded. client_cpu is the
// share of one core the generator itself used in the window: near 1 on a
// single pinned core, the rate is the generator's limit, not the server's.
//
// The request is built once, from -request: the same files scripts/bench.sh
// sends to the REST endpoints, so that the numbers are the same:
//
//   - a /v1 JSON body: named features ({"sepal_length": 5.1, ...}, one row
//     in the file's key order, which is the model's feature order), or
//     {"instances": [[...], ...]} rows;
//   - a v2 JSON body ({"inputs": [{"name", "shape", "datatype", "data"}]});
//   - an Open Inference Protocol binary body (a JSON header, then the
//     tensors' bytes), its header length from -header-len or FILE.hlen.
//
// Inputs without a name (the /v1 forms) get the model's, from ModelMetadata;
// every input is checked against the metadata. With -raw the tensors go as
// raw_input_contents, otherwise as typed contents (fp32_contents).
//
// The request is marshalled once and sent as those bytes, and responses are
// not decoded (except the first, which is checked and described on
// stderr), as wrk sends a fixed body and does not parse the answer: the
// generator's own cost per call stays small next to the server's.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
)

// maxMsg bounds requests and responses both ways; the benchmark's largest
// is the MLP's batch of 32 (100 KB).
const maxMsg = 256 << 20

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "the server's gRPC address")
	model := flag.String("model", "", "model name (required)")
	version := flag.String("version", "", "model version (default: the server's choice)")
	conns := flag.Int("conns", 4, "client connections")
	concurrency := flag.Int("concurrency", 32, "concurrent callers, spread over the connections")
	duration := flag.Duration("duration", 5*time.Second, "measured time")
	warmup := flag.Duration("warmup", time.Second, "load before the measured time, not counted")
	request := flag.String("request", "", "request body file: /v1 JSON, v2 JSON or v2 binary (required)")
	headerLen := flag.Int("header-len", -1, "JSON header length of a v2 binary -request (default: FILE.hlen when it exists, else the file is JSON)")
	raw := flag.Bool("raw", false, "send the inputs as raw_input_contents (default: typed contents)")
	pid := flag.Int("pid", 0, "server process id: reset its peak RSS after the warm-up and report it as rss_kb")
	timeout := flag.Duration("timeout", 10*time.Second, "bound on connecting and on the first, checked call")
	flag.Parse()
	switch {
	case *model == "" || *request == "":
		fail("-model and -request are required")
	case *conns < 1 || *concurrency < 1:
		fail("-conns and -concurrency must be at least 1")
	case *duration <= 0 || *warmup < 0:
		fail("-duration must be positive and -warmup not negative")
	}

	inputs, outputs, err := readRequest(*request, *headerLen)
	if err != nil {
		fail("%s: %v", *request, err)
	}
	cs := make([]*grpc.ClientConn, *conns)
	for i := range cs {
		cs[i], err = grpc.NewClient(*addr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsg), grpc.MaxCallSendMsgSize(maxMsg)))
		if err != nil {
			fail("%s: %v", *addr, err)
		}
		defer cs[i].Close()
	}

	// Every connection up, the model's metadata from each: the warm-up
	// starts on connected channels.
	var md *pb.ModelMetadataResponse
	for i, c := range cs {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		m, err := pb.NewGRPCInferenceServiceClient(c).ModelMetadata(ctx,
			&pb.ModelMetadataRequest{Name: *model, Version: *version}, grpc.WaitForReady(true))
		cancel()
		if err != nil {
			fail("ModelMetadata %s on connection %d: %v", *model, i, err)
		}
		md = m
	}
	req, err := buildRequest(*model, *version, md, inputs, outputs, *raw)
	if err != nil {
		fail("%s: %v", *model, err)
	}
	payload, err := proto.Marshal(req)
	if err != nil {
		fail("marshal: %v", err)
	}

	// One checked call, decoded, before the load.
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	resp, err := pb.NewGRPCInferenceServiceClient(cs[0]).ModelInfer(ctx, req)
	cancel()
	if err != nil {
		fail("check call: %s: %s", status.Code(err), status.Convert(err).Message())
	}
	if len(resp.GetOutputs()) == 0 {
		fail("check call: the response has no outputs")
	}
	describe(req, resp, len(payload))

	r := run(cs, payload, *concurrency, *warmup, *duration, *pid)
	line := r.line(*duration)
	if *pid > 0 {
		line += fmt.Sprintf(" rss_kb=%d", peakRSS(*pid))
	}
	fmt.Println(line)
	for code, msg := range r.firstErr {
		fmt.Fprintf(os.Stderr, "grpcload: %s × %d, e.g. %s\n", code, r.codes[code], msg)
	}
	if r.codes[codes.OK] == 0 {
		fail("no call succeeded")
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "grpcload: "+format+"\n", args...)
	os.Exit(1)
}

// tensor is one input as the request file gives it: its bytes are the
// little-endian elements.
type tensor struct {
	name, datatype string
	shape          []int64
	data           []byte
}

// readRequest reads a request body file into its input tensors and the
// names of the outputs it asks for (none: all of them).
func readRequest(path string, headerLen int) ([]tensor, []string, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if headerLen < 0 {
		if h, err := os.ReadFile(path + ".hlen"); err == nil {
			if headerLen, err = strconv.Atoi(strings.TrimSpace(string(h))); err != nil {
				return nil, nil, fmt.Errorf("%s.hlen: %v", path, err)
			}
		}
	}
	if headerLen >= 0 {
		return readBinary(body, headerLen)
	}
	v, err := decodeJSON(body)
	if err != nil {
		return nil, nil, err
	}
	obj, ok := v.(object)
	if !ok {
		return nil, nil, errors.New("not a JSON object")
	}
	if ins, ok := obj.get("inputs"); ok {
		return readV2JSON(ins, obj)
	}
	var rows [][]float64
	if inst, ok := obj.get("instances"); ok && len(obj) == 1 {
		list, ok := inst.([]any)
		if !ok || len(list) == 0 {
			return nil, nil, errors.New(`"instances" must be a non-empty list`)
		}
		for i, row := range list {
			var r []float64
			switch row := row.(type) {
			case []any:
				r, err = numbers(row)
			case object:
				r, err = namedRow(row)
			default:
				err = errors.New("not a list or an object")
			}
			if err != nil {
				return nil, nil, fmt.Errorf("instance %d: %v", i, err)
			}
			rows = append(rows, r)
		}
	} else {
		r, err := namedRow(obj)
		if err != nil {
			return nil, nil, err
		}
		rows = [][]float64{r}
	}
	for i, r := range rows {
		if len(r) != len(rows[0]) {
			return nil, nil, fmt.Errorf("row %d has %d numbers, row 0 %d", i, len(r), len(rows[0]))
		}
	}
	t := tensor{datatype: "FP32", shape: []int64{int64(len(rows)), int64(len(rows[0]))}}
	for _, r := range rows {
		t.data = appendFP32(t.data, r)
	}
	return []tensor{t}, nil, nil
}

// readBinary reads an Open Inference Protocol binary body: the JSON header,
// then each input's binary_data_size bytes in order.
func readBinary(body []byte, headerLen int) ([]tensor, []string, error) {
	if headerLen > len(body) {
		return nil, nil, fmt.Errorf("header length %d beyond the %d-byte body", headerLen, len(body))
	}
	var h struct {
		Inputs []struct {
			Name       string  `json:"name"`
			Shape      []int64 `json:"shape"`
			Datatype   string  `json:"datatype"`
			Parameters struct {
				BinaryDataSize *int `json:"binary_data_size"`
			} `json:"parameters"`
		} `json:"inputs"`
		Outputs []struct {
			Name string `json:"name"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(body[:headerLen], &h); err != nil {
		return nil, nil, fmt.Errorf("binary header: %v", err)
	}
	rest := body[headerLen:]
	var ts []tensor
	for _, in := range h.Inputs {
		n := in.Parameters.BinaryDataSize
		if n == nil {
			return nil, nil, fmt.Errorf("input %q: no binary_data_size (JSON data in a binary body is not supported)", in.Name)
		}
		if *n < 0 || *n > len(rest) {
			return nil, nil, fmt.Errorf("input %q: binary_data_size %d beyond the %d bytes left", in.Name, *n, len(rest))
		}
		ts = append(ts, tensor{name: in.Name, datatype: in.Datatype, shape: in.Shape, data: rest[:*n]})
		rest = rest[*n:]
	}
	if len(rest) != 0 {
		return nil, nil, fmt.Errorf("%d bytes after the last input", len(rest))
	}
	var outs []string
	for _, o := range h.Outputs {
		outs = append(outs, o.Name)
	}
	return ts, outs, nil
}

// readV2JSON reads a v2 JSON body's FP32 inputs (flat or nested data).
func readV2JSON(ins any, obj object) ([]tensor, []string, error) {
	list, ok := ins.([]any)
	if !ok {
		return nil, nil, errors.New(`"inputs" must be a list`)
	}
	var ts []tensor
	for i, in := range list {
		o, ok := in.(object)
		if !ok {
			return nil, nil, fmt.Errorf("input %d: not an object", i)
		}
		name, _ := o.get("name")
		dt, _ := o.get("datatype")
		t := tensor{datatype: fmt.Sprint(dt)}
		t.name, _ = name.(string)
		if t.datatype != "FP32" {
			return nil, nil, fmt.Errorf("input %q: datatype %s: only FP32 is supported", t.name, t.datatype)
		}
		shape, _ := o.get("shape")
		dims, err := numbers(asList(shape))
		if err != nil {
			return nil, nil, fmt.Errorf("input %q: shape: %v", t.name, err)
		}
		for _, d := range dims {
			t.shape = append(t.shape, int64(d))
		}
		data, _ := o.get("data")
		flat, err := numbers(flatten(asList(data), nil))
		if err != nil {
			return nil, nil, fmt.Errorf("input %q: data: %v", t.name, err)
		}
		t.data = appendFP32(nil, flat)
		ts = append(ts, t)
	}
	var outs []string
	if list, ok := obj.get("outputs"); ok {
		for _, o := range asList(list) {
			if o, ok := o.(object); ok {
				if n, ok := o.get("name"); ok {
					outs = append(outs, fmt.Sprint(n))
				}
			}
		}
	}
	return ts, outs, nil
}

// buildRequest makes the ModelInferRequest of the file's inputs, named and
// checked from the model's metadata.
func buildRequest(model, version string, md *pb.ModelMetadataResponse, ts []tensor, outputs []string, raw bool) (*pb.ModelInferRequest, error) {
	known := map[string]*pb.ModelMetadataResponse_TensorMetadata{}
	var names []string
	for _, in := range md.GetInputs() {
		known[in.GetName()] = in
		names = append(names, in.GetName())
	}
	req := &pb.ModelInferRequest{ModelName: model, ModelVersion: version}
	for i, t := range ts {
		if t.name == "" {
			if len(ts) != len(md.GetInputs()) {
				return nil, fmt.Errorf("the request file has %d unnamed inputs, the model %d (%s)", len(ts), len(names), strings.Join(names, ", "))
			}
			t.name = md.GetInputs()[i].GetName()
		}
		m := known[t.name]
		if m == nil {
			return nil, fmt.Errorf("no input %q; the model's: %s", t.name, strings.Join(names, ", "))
		}
		if m.GetDatatype() != "" && m.GetDatatype() != t.datatype {
			return nil, fmt.Errorf("input %s: the file's datatype %s, the model's %s", t.name, t.datatype, m.GetDatatype())
		}
		if !fits(t.shape, m.GetShape()) {
			return nil, fmt.Errorf("input %s: the file's shape %v does not fit the model's %v", t.name, t.shape, m.GetShape())
		}
		in := &pb.ModelInferRequest_InferInputTensor{Name: t.name, Datatype: t.datatype, Shape: t.shape}
		if raw {
			req.RawInputContents = append(req.RawInputContents, t.data)
		} else {
			if t.datatype != "FP32" {
				return nil, fmt.Errorf("input %s: typed contents of %s: only FP32 is supported (use -raw)", t.name, t.datatype)
			}
			if len(t.data)%4 != 0 {
				return nil, fmt.Errorf("input %s: %d bytes is not a whole number of FP32 elements", t.name, len(t.data))
			}
			f := make([]float32, len(t.data)/4)
			for j := range f {
				f[j] = math.Float32frombits(binary.LittleEndian.Uint32(t.data[4*j:]))
			}
			in.Contents = &pb.InferTensorContents{Fp32Contents: f}
		}
		req.Inputs = append(req.Inputs, in)
	}
	for _, o := range outputs {
		req.Outputs = append(req.Outputs, &pb.ModelInferRequest_InferRequestedOutputTensor{Name: o})
	}
	return req, nil
}

// fits: the same rank, and every dimension the model fixes is the file's.
func fits(shape, model []int64) bool {
	if len(model) == 0 {
		return true // the model does not say
	}
	if len(shape) != len(model) {
		return false
	}
	for i, d := range model {
		if d >= 0 && d != shape[i] {
			return false
		}
	}
	return true
}

func describe(req *pb.ModelInferRequest, resp *pb.ModelInferResponse, size int) {
	var ins, outs []string
	for _, in := range req.GetInputs() {
		ins = append(ins, fmt.Sprintf("%s %s%v", in.GetName(), in.GetDatatype(), in.GetShape()))
	}
	for _, o := range resp.GetOutputs() {
		outs = append(outs, fmt.Sprintf("%s %s%v", o.GetName(), o.GetDatatype(), o.GetShape()))
	}
	form := "typed contents"
	if len(req.GetRawInputContents()) > 0 {
		form = "raw_input_contents"
	}
	answer := "typed contents"
	if len(resp.GetRawOutputContents()) > 0 {
		answer = "raw_output_contents"
	}
	fmt.Fprintf(os.Stderr, "grpcload: %s: %s as %s (%d-byte request) -> %s as %s (%d bytes)\n",
		req.GetModelName(), strings.Join(ins, ", "), form, size, strings.Join(outs, ", "), answer, proto.Size(resp))
}

// preEncoded is a request already in its wire form; reply is an answer
// counted, not decoded. passThrough is the codec that sends and receives
// them, under the name of the proto codec (content-type
// application/grpc+proto), so that the server sees an ordinary call.
type (
	preEncoded  []byte
	reply       int
	passThrough struct{}
)

func (passThrough) Marshal(v any) (mem.BufferSlice, error) {
	p, ok := v.(*preEncoded)
	if !ok {
		return nil, fmt.Errorf("passThrough: cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(*p)}, nil // read only: shared by every call
}

func (passThrough) Unmarshal(data mem.BufferSlice, v any) error {
	r, ok := v.(*reply)
	if !ok {
		return fmt.Errorf("passThrough: cannot unmarshal into %T", v)
	}
	*r = reply(data.Len())
	return nil
}

func (passThrough) Name() string { return "proto" }

// result is what the callers saw in the measured window.
type result struct {
	latencies []time.Duration // of the OK calls
	codes     map[codes.Code]int
	firstErr  map[codes.Code]string
	cpu       time.Duration // the process's user + system time in the window
}

// run loads the server: concurrency callers, caller i on connection
// i % len(cs), each calling back to back until the window ends. A call
// counts when it completes within [warm-up end, end]; the calls in flight
// at the end are cancelled and not counted.
func run(cs []*grpc.ClientConn, payload []byte, concurrency int, warmup, duration time.Duration, pid int) *result {
	start := time.Now()
	from, to := start.Add(warmup), start.Add(warmup+duration)
	// The window's end cancels the calls in flight rather than being their
	// deadline: a deadline would go to the server as grpc-timeout, and the
	// server answers a little before it (DEADLINE_EXCEEDED inside the
	// window), where wrk's requests carry none.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	end := time.AfterFunc(time.Until(to), cancel)
	defer end.Stop()

	var cpu0, cpu1 time.Duration
	window := make(chan struct{})
	go func() { // marks the window: rusage at both ends, the RSS reset at the start
		time.Sleep(time.Until(from))
		cpu0 = cpuTime()
		if pid > 0 {
			resetPeakRSS(pid)
		}
		<-ctx.Done()
		cpu1 = cpuTime()
		close(window)
	}()

	msg := preEncoded(payload)
	per := make([]result, concurrency)
	var wg sync.WaitGroup
	for i := range per {
		wg.Add(1)
		go func(r *result, c *grpc.ClientConn) {
			defer wg.Done()
			r.codes, r.firstErr = map[codes.Code]int{}, map[codes.Code]string{}
			r.latencies = make([]time.Duration, 0, 1<<14)
			var got reply
			for ctx.Err() == nil {
				t0 := time.Now()
				err := c.Invoke(ctx, pb.GRPCInferenceService_ModelInfer_FullMethodName, &msg, &got,
					grpc.ForceCodecV2(passThrough{}))
				t1 := time.Now()
				if t1.Before(from) || t1.After(to) {
					continue // warm-up, or cut off by the end
				}
				code := status.Code(err)
				r.codes[code]++
				if err == nil {
					r.latencies = append(r.latencies, t1.Sub(t0))
				} else if _, seen := r.firstErr[code]; !seen {
					r.firstErr[code] = status.Convert(err).Message()
				}
			}
		}(&per[i], cs[i%len(cs)])
	}
	wg.Wait()
	<-window
	all := &result{codes: map[codes.Code]int{}, firstErr: map[codes.Code]string{}, cpu: cpu1 - cpu0}
	for _, r := range per {
		all.latencies = append(all.latencies, r.latencies...)
		for c, n := range r.codes {
			all.codes[c] += n
		}
		for c, m := range r.firstErr {
			all.firstErr[c] = m
		}
	}
	slices.Sort(all.latencies)
	return all
}

func (r *result) line(window time.Duration) string {
	total := 0
	var cs []string
	for c, n := range r.codes {
		total += n
		if c != codes.OK {
			cs = append(cs, fmt.Sprintf("%s:%d", c, n))
		}
	}
	slices.Sort(cs)
	cs = append([]string{fmt.Sprintf("OK:%d", r.codes[codes.OK])}, cs...)
	ok := r.codes[codes.OK]
	return fmt.Sprintf("RESULT requests=%d ok=%d errors=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f client_cpu=%.2f codes=%s",
		total, ok, total-ok, float64(ok)/window.Seconds(),
		ms(r.percentile(0.50)), ms(r.percentile(0.99)), ms(r.percentile(1)),
		r.cpu.Seconds()/window.Seconds(), strings.Join(cs, ","))
}

// percentile is the nearest-rank percentile of the sorted latencies.
func (r *result) percentile(p float64) time.Duration {
	n := len(r.latencies)
	if n == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(n))) - 1
	return r.latencies[min(max(i, 0), n-1)]
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func cpuTime() time.Duration {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// resetPeakRSS sets the process's VmHWM back to its current RSS.
func resetPeakRSS(pid int) {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		fmt.Fprintf(os.Stderr, "grpcload: reset peak RSS: %v\n", err)
	}
}

// peakRSS is the process's VmHWM in kB, 0 when unknown.
func peakRSS(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb
		}
	}
	return 0
}

// object is a JSON object with its keys in the file's order.
type object []struct {
	key string
	val any
}

func (o object) get(key string) (any, bool) {
	for _, kv := range o {
		if kv.key == key {
			return kv.val, true
		}
	}
	return nil, false
}

// decodeJSON decodes one JSON value: objects as object, numbers as
// json.Number.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	v, err := decodeValue(d)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

func decodeValue(d *json.Decoder) (any, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		var o object
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeValue(d)
			if err != nil {
				return nil, err
			}
			o = append(o, struct {
				key string
				val any
			}{k.(string), v})
		}
		_, err := d.Token() // }
		return o, err
	case json.Delim('['):
		l := []any{}
		for d.More() {
			v, err := decodeValue(d)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		_, err := d.Token() // ]
		return l, err
	}
	return tok, nil
}

// namedRow is a named-feature row's numbers in the file's key order.
func namedRow(o object) ([]float64, error) {
	if len(o) == 0 {
		return nil, errors.New("no features")
	}
	vals := make([]any, len(o))
	for i, kv := range o {
		vals[i] = kv.val
	}
	r, err := numbers(vals)
	if err != nil {
		return nil, fmt.Errorf("named features: %v", err)
	}
	return r, nil
}

// numbers parses JSON numbers as float32 does (correctly rounded), held in
// float64.
func numbers(vals []any) ([]float64, error) {
	out := make([]float64, len(vals))
	for i, v := range vals {
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("element %d is not a number", i)
		}
		f, err := strconv.ParseFloat(string(n), 32)
		if err != nil {
			return nil, fmt.Errorf("element %d: %v", i, err)
		}
		out[i] = f
	}
	return out, nil
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func flatten(l []any, out []any) []any {
	for _, v := range l {
		if sub, ok := v.([]any); ok {
			out = flatten(sub, out)
		} else {
			out = append(out, v)
		}
	}
	return out
}

func appendFP32(b []byte, fs []float64) []byte {
	for _, f := range fs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(f)))
	}
	return b
}
