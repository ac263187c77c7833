// The reference run of make compat: runs every model of compat/models.json
// on the inputs below with onnxruntime-node 1.24.3 (the ONNX Runtime
// version onnxserve loads, scripts/setup-ort.sh) and writes the inputs and
// the outputs to compat/testdata/<name>.json, which are committed: make
// compat compares the server's answers with them and does not run this.
//
// Re-run (models fetched first):
//   go run ./compat/fetch && (cd compat/reference && ONNXRUNTIME_NODE_INSTALL=skip npm ci && node reference.mjs)
//
// onnxruntime-node cannot open a model with a BFLOAT16 input or output
// ("Unsupported data type: 16"), nor return a sequence of maps; for those
// models the expected values are computed here from what the model's
// generator script in onnxruntime_go's test_data says it does, or taken
// from the values onnxruntime_go's own test recorded from Python's
// onnxruntime; each file's "reference" says which.
import ort from 'onnxruntime-node';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const cache = process.env.COMPAT_CACHE || path.join(root, 'compat/.cache');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'compat/models.json'), 'utf8')).models;
const outDir = path.join(root, 'compat/testdata');

// Outputs of at most this many elements are stored whole; larger ones as
// a summary (count, sum, sum of |x|, min, max and evenly spaced samples).
const WHOLE = 4096;
const SAMPLES = 256;

// xorshift32, the deterministic generator of big inputs; compat_test.go
// has the same, so that a {"random": ...} input need not be stored.
export function random(seed, n, min, max) {
  let x = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = min + (max - min) * ((x >>> 8) / 16777216);
  }
  return out;
}

const V2 = { float32: 'FP32', float64: 'FP64', float16: 'FP16', int8: 'INT8', int16: 'INT16', int32: 'INT32', int64: 'INT64', uint8: 'UINT8', uint16: 'UINT16', bool: 'BOOL', string: 'BYTES' };
const ARRAY = { float32: Float32Array, float64: Float64Array, int8: Int8Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array, uint8: Uint8Array, uint16: Uint16Array, bool: Uint8Array };

// An input: name, ort type, shape and either data or a random spec.
function input(name, type, shape, data) {
  const n = shape.reduce((a, b) => a * b, 1);
  if (data && data.random) {
    const { seed, min, max } = data.random;
    return { name, type, shape, values: random(seed, n, min, max), spec: { random: data.random } };
  }
  return { name, type, shape, values: data };
}

function toTensor(i) {
  if (i.type === 'string') return new ort.Tensor('string', i.values, i.shape);
  if (i.type === 'float16') return new ort.Tensor('float16', Uint16Array.from(i.values.map(f16bits)), i.shape);
  const A = ARRAY[i.type];
  const vals = i.type === 'int64' ? Array.from(i.values, (v) => BigInt(v)) : Array.from(i.values);
  return new ort.Tensor(i.type, A.from(vals), i.shape);
}

function inputJSON(i) {
  const o = { name: i.name, datatype: V2[i.type], shape: i.shape };
  if (i.spec) return { ...o, ...i.spec };
  o.data = Array.from(i.values, Number.isFinite(i.values[0]) || typeof i.values[0] === 'bigint' ? Number : (v) => v);
  if (i.type === 'float16') o.bits = o.data.map(f16bits);
  return o;
}

// outputJSON stores an output whole or as a summary, with its tolerance.
function outputJSON(name, datatype, shape, values, tolerance) {
  const o = { name, datatype, shape };
  if (tolerance) o.tolerance = tolerance;
  if (datatype === 'BYTES' || values.length <= WHOLE) {
    o.data = Array.from(values, (v) => (typeof v === 'bigint' ? Number(v) : v));
    return o;
  }
  let sum = 0, abs = 0, min = Infinity, max = -Infinity;
  for (const v of values) { sum += v; abs += Math.abs(v); if (v < min) min = v; if (v > max) max = v; }
  const samples = [];
  for (let k = 0; k < SAMPLES; k++) {
    const i = Math.floor((k * values.length) / SAMPLES);
    samples.push([i, values[i]]);
  }
  o.summary = { count: values.length, sum, abs_sum: abs, min, max, samples };
  return o;
}

// IEEE half: bits of the nearest half (ties to even) of a float.
export function f16bits(f) {
  const b = new DataView(new ArrayBuffer(4)); b.setFloat32(0, f);
  const x = b.getUint32(0);
  const sign = (x >>> 16) & 0x8000, exp = ((x >>> 23) & 0xff) - 127 + 15, man = x & 0x7fffff;
  if (exp <= 0 || exp >= 31) throw new Error(`f16bits: ${f} is not a normal half`); // the inputs here are normal halves
  let h = sign | (exp << 10) | (man >>> 13);
  const rest = man & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
  return h;
}
export function f16(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >>> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
// bfloat16: the top half of a float32, rounded to nearest, ties to even.
export function bf16bits(f) {
  const b = new DataView(new ArrayBuffer(4)); b.setFloat32(0, f);
  const x = b.getUint32(0);
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}
export function bf16(h) {
  const b = new DataView(new ArrayBuffer(4)); b.setUint32(0, h << 16);
  return b.getFloat32(0);
}

// strokes is a normalized 3-channel image, white with a line of dark
// vertical strokes, as text looks to a detector (noise finds no text).
function strokes(h, w) {
  const out = [];
  for (let ch = 0; ch < 3; ch++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) out.push(y >= 10 && y < 22 && x >= 8 && x < w - 8 && x % 5 < 2 ? -2 : 2);
    }
  }
  return out;
}

const FP32 = { abs: 1e-5, rel: 1e-4 };
const CONV = { abs: 1e-4, rel: 1e-3 }; // deep convolution stacks

// The cases: per model, the inputs, the outputs requested on /v2 (all when
// omitted) and the float tolerance of the comparison.
const cases = {
  silero_vad_v5: [{
    name: 'two streams of 512 samples at 16 kHz, with a state',
    inputs: [input('input', 'float32', [2, 512], { random: { seed: 1, min: -0.5, max: 0.5 } }),
      input('state', 'float32', [2, 2, 128], { random: { seed: 2, min: -0.2, max: 0.2 } }),
      input('sr', 'int64', [], [16000])],
    tolerance: FP32,
  }],
  silero_vad_legacy: [{
    name: 'one stream of 512 samples at 16 kHz, with LSTM state',
    inputs: [input('input', 'float32', [1, 512], { random: { seed: 3, min: -0.5, max: 0.5 } }),
      input('sr', 'int64', [], [16000]),
      input('h', 'float32', [2, 1, 64], { random: { seed: 4, min: -0.2, max: 0.2 } }),
      input('c', 'float32', [2, 1, 64], { random: { seed: 5, min: -0.2, max: 0.2 } })],
    tolerance: FP32,
  }],
  silero_vad_op18_ifless: [{
    name: 'one stream of 512 samples at 16 kHz, with a state',
    inputs: [input('input', 'float32', [1, 512], { random: { seed: 6, min: -0.5, max: 0.5 } }),
      input('sr', 'int64', [], [16000]),
      input('state', 'float32', [2, 1, 128], { random: { seed: 7, min: -0.2, max: 0.2 } })],
    tolerance: FP32,
  }],
  silero_vad_half: [{
    name: 'one stream of 512 samples, with a state',
    inputs: [input('input', 'float32', [1, 512], { random: { seed: 8, min: -0.5, max: 0.5 } }),
      input('state', 'float32', [2, 1, 128], { random: { seed: 9, min: -0.2, max: 0.2 } })],
    tolerance: { abs: 1e-3, rel: 1e-2 }, // FP16 arithmetic inside
  }],
  ppocr_v4_det: [{
    name: 'a 32×128 page with a line of dark strokes',
    inputs: [input('x', 'float32', [1, 3, 32, 128], strokes(32, 128))],
    tolerance: CONV,
  }],
  ppocr_v4_rec: [{
    name: 'a 48×64 text line',
    inputs: [input('x', 'float32', [1, 3, 48, 64], { random: { seed: 11, min: -1, max: 1 } })],
    tolerance: CONV,
  }],
  ppocr_mobile_v2_cls: [{
    name: 'two 48×192 text lines',
    inputs: [input('x', 'float32', [2, 3, 48, 192], { random: { seed: 12, min: -1, max: 1 } })],
    tolerance: CONV,
  }],
  openwakeword_hello_deepa: [{
    name: '25 frames of 96 features',
    inputs: [input('onnx::Flatten_0', 'float32', [1, 25, 96], { random: { seed: 13, min: -2, max: 2 } })],
    tolerance: FP32,
  }],
  openwakeword_melspectrogram: [{
    name: 'two clips of 1280 samples',
    inputs: [input('input', 'float32', [2, 1280], { random: { seed: 17, min: -0.5, max: 0.5 } })],
    tolerance: CONV,
  }],
  openwakeword_embedding: [{
    name: 'two windows of 76 mel frames',
    inputs: [input('input_1', 'float32', [2, 76, 32, 1], { random: { seed: 18, min: -2, max: 2 } })],
    tolerance: CONV,
  }],
  imgly_isnet_small: [{
    name: 'a 1024×1024 image, the mask output only',
    inputs: [input('input', 'float32', [1, 3, 1024, 1024], { random: { seed: 14, min: -1, max: 1 } })],
    outputs: ['output'],
    tolerance: CONV,
  }],
  'example ż 大 김': [{ name: 'sums a row', inputs: [input('in', 'int32', [1, 2], [3, -10])] }],
  ort_go_dynamic_axes: [{
    name: 'three rows',
    inputs: [input('input_vectors', 'float32', [3, 10], { random: { seed: 15, min: -1, max: 1 } })],
    tolerance: FP32,
  }, {
    name: 'no rows: a [0, 10] input',
    inputs: [input('input_vectors', 'float32', [0, 10], [])],
  }],
  ort_go_zero_dim: [
    { name: 'zeros: a [2, 0, 8] output', inputs: [input('x', 'float32', [2, 8], new Array(16).fill(0))] },
    { name: 'first column sums to 2: a [2, 2, 8] output', inputs: [input('x', 'float32', [2, 8], [1, 0.5, 0.25, 2, 3, -1, 0, 4, 1, 1, 1, 1, 1, 1, 1, 1])] },
  ],
  ort_go_multitype: [{
    name: 'uint8 and float64',
    inputs: [input('InputA', 'uint8', [1, 1, 1], [200]), input('InputB', 'float64', [1, 2, 2], [0.5, -1.25, 1e10, 3.75])],
  }],
  ort_go_strings: [{
    name: 'mixed case, punctuation and non-ASCII',
    inputs: [input('input', 'string', [4], ['I', 'eAt', 'POTATOEs!!', 'Łódź Straße'])],
  }],
  ort_go_big_fanout: [{
    name: 'one row',
    inputs: [input('input', 'float32', [1, 4], [0.25, -1, 2.5, 0.125])],
    tolerance: FP32,
  }],
};

// The models onnxruntime-node cannot run, computed from what their
// generator scripts (onnxruntime_go test_data/generate_*.py) say.
const computed = {
  ort_go_float16: () => {
    // generate_float16_network.py: OutputA = bfloat16(InputA * 3.0), the
    // product in half precision.
    const x = [0.5, -1.25, 0.333251953125, 2, 100.5, -0.0999755859375, 7.75, 1024];
    const bits = x.map(f16bits);
    const y = bits.map((b) => bf16bits(f16(f16bits(f16(b) * 3))));
    return {
      reference: 'computed from generate_float16_network.py: OutputA = bfloat16(InputA * 3), the product rounded to half, then to bfloat16 (nearest, ties to even)',
      cases: [{
        name: 'eight halves',
        inputs: [{ name: 'InputA', datatype: 'FP16', shape: [1, 2, 2, 2], data: bits.map(f16), bits }],
        outputs: [{ name: 'OutputA', datatype: 'BF16', shape: [1, 2, 2, 2], data: y.map(bf16), bits: y }], // exact: ORT's Cast rounds to nearest even,
      }],
    };
  },
  ort_go_several: () => {
    // generate_several_inputs_and_outputs.py: output 1 = int64(reshape(a,
    // [10, 10])) with [0][0] += int64(c[0]); output 2 = double(reshape(b,
    // [1, 2, 3, 4, 5])).
    const a = Array.from({ length: 100 }, (_, i) => (i * 37) % 201 - 100);
    const b = Array.from(random(16, 120, -3, 3));
    const c = [5.5, -2, 0.25, 1, 2, 3, 4, 8, -100];
    const cbits = c.map(bf16bits);
    const out1 = a.slice(); out1[0] += Math.trunc(bf16(cbits[0]));
    return {
      reference: 'computed from generate_several_inputs_and_outputs.py: output 1 = int64(reshape(input 1, [10, 10])), [0][0] += int64(input 3[0]); output 2 = float64(reshape(input 2, [1, 2, 3, 4, 5]))',
      cases: [{
        name: 'int32, float32 and bfloat16 in',
        inputs: [{ name: 'input 1', datatype: 'INT32', shape: [2, 5, 2, 5], data: a },
          { name: 'input 2', datatype: 'FP32', shape: [2, 3, 20], random: { seed: 16, min: -3, max: 3 } },
          { name: 'input 3', datatype: 'BF16', shape: [9], data: cbits.map(bf16), bits: cbits }],
        outputs: [{ name: 'output 1', datatype: 'INT64', shape: [10, 10], data: out1 },
          { name: 'output 2', datatype: 'FP64', shape: [1, 2, 3, 4, 5], data: b, tolerance: { abs: 0, rel: 0 } }],
      }],
    };
  },
  ort_go_sklearn_rf: () => ({
    reference: "onnxruntime_go's TestSklearnNetwork (onnxruntime_test.go), the values generate_sklearn_network.py printed from Python's onnxruntime",
    cases: [{
      name: 'six iris flowers',
      inputs: [{ name: 'X', datatype: 'FP32', shape: [6, 4], data: [5.9, 3.0, 5.1, 1.8, 6.8, 2.8, 4.8, 1.4, 6.3, 2.3, 4.4, 1.3, 6.5, 3.0, 5.5, 1.8, 7.7, 2.8, 6.7, 2.0, 5.5, 2.5, 4.0, 1.3] }],
      outputs: [{ name: 'output_label', datatype: 'INT64', shape: [6], data: [2, 1, 1, 2, 2, 1] },
        { name: 'output_probability', datatype: 'ZIPMAP', shape: [6], tolerance: { abs: 1e-6, rel: 1e-6 }, maps: [
          { 0: 0.0, 1: 0.12999998033046722, 2: 0.8699994683265686 },
          { 0: 0.0, 1: 0.7699995636940002, 2: 0.23000003397464752 },
          { 0: 0.0, 1: 0.969999372959137, 2: 0.029999999329447746 },
          { 0: 0.0, 1: 0.0, 2: 0.9999993443489075 },
          { 0: 0.0, 1: 0.0, 2: 0.9999993443489075 },
          { 0: 0.0, 1: 0.9999993443489075, 2: 0.0 }] }],
    }],
  }),
};

const TYPE = { float32: 'FP32', float64: 'FP64', float16: 'FP16', int8: 'INT8', int16: 'INT16', int32: 'INT32', int64: 'INT64', uint8: 'UINT8', bool: 'BOOL', string: 'BYTES' };

fs.mkdirSync(outDir, { recursive: true });
const only = process.argv.slice(2);
for (const m of manifest) {
  if (only.length && !only.includes(m.name)) continue;
  let doc;
  if (computed[m.name]) {
    doc = { model: m.name, ...computed[m.name]() };
  } else {
    const list = cases[m.name];
    if (!list) throw new Error(`no reference cases for ${m.name}`);
    // One intra-op thread, as onnxserve's default (runtime/model.go).
    const session = await ort.InferenceSession.create(path.join(cache, 'models', m.name + '.onnx'), { intraOpNumThreads: 1, interOpNumThreads: 1 });
    doc = { model: m.name, reference: `onnxruntime-node ${ort.env.versions.node ?? '1.24.3'}, one intra-op thread`, cases: [] };
    for (const c of list) {
      const feeds = Object.fromEntries(c.inputs.map((i) => [i.name, toTensor(i)]));
      const fetches = c.outputs ?? session.outputNames;
      const t0 = Date.now();
      const res = await session.run(feeds, fetches);
      const outputs = fetches.map((name) => {
        const t = res[name];
        const data = t.type === 'float16' ? Array.from(t.data, f16) : t.data;
        const o = outputJSON(name, TYPE[t.type], Array.from(t.dims), data, t.type.startsWith('float') ? c.tolerance : undefined);
        if (t.type === 'float16' && o.data) o.bits = Array.from(t.data);
        return o;
      });
      const entry = { name: c.name, inputs: c.inputs.map(inputJSON), outputs };
      if (c.outputs) entry.requested = c.outputs;
      doc.cases.push(entry);
      console.log(`${m.name}: ${c.name}: ${Date.now() - t0} ms`);
    }
    await session.release();
  }
  fs.writeFileSync(path.join(outDir, m.name + '.json'), JSON.stringify(doc) + '\n');
}
