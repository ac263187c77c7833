// The gRPC front end, end to end, from an independent client: Node's
// @grpc/grpc-js with the .proto loaded at run time, never the server's Go
// code, against the real binary (scripts/e2e-grpc.sh starts it on a scratch
// repository and sets GRPC_ADDR and REPO_DIR).
//
// Every stored case of every model is sent twice, with typed contents and
// as raw_input_contents, and each output decoded from raw_output_contents
// and compared with the numpy/sklearn values stored at export time. Then
// output selection, classification, the server and repository RPCs, a
// bidi stream mixing good and bad requests, grpc.health.v1, and a table of
// refused requests, each with its status code pinned and the server
// checked to be still ready after it.
//
// Every call has a deadline, and every test a timeout: a hung server fails
// the run instead of hanging it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const GRPC_ADDR = process.env.GRPC_ADDR;
const REPO_DIR = process.env.REPO_DIR;
if (!GRPC_ADDR || !REPO_DIR) {
  throw new Error('GRPC_ADDR and REPO_DIR must be set: run scripts/e2e-grpc.sh');
}

const CALL_MS = 10_000; // one unary call
const LOAD_MS = 60_000; // a repository load or unload
const TEST_MS = 120_000; // one test, all its calls included

const Status = grpc.status;

// Protobuf's 64-bit integers as strings (longs: String), so that values
// beyond 2^53 survive both ways; defaults so that false and empty fields
// are present in what the server answers.
const LOADER = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

function loadService(protoFile, pkgPath, service) {
  const def = protoLoader.loadSync(protoFile, LOADER);
  let node = grpc.loadPackageDefinition(def);
  for (const part of pkgPath.split('.')) node = node[part];
  return node[service];
}

// The health proto is not in the repository: this is the standard one's
// Check, which is all the test asks.
const HEALTH_PROTO = `syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }
`;

let infer; // the GRPCInferenceService client
let health; // the grpc.health.v1.Health client
let scratch; // a temp dir for the health proto

before(() => {
  const Inference = loadService(path.join(root, 'handlers/grpc/inferencepb/grpc_predict_v2.proto'), 'inference', 'GRPCInferenceService');
  infer = new Inference(GRPC_ADDR, grpc.credentials.createInsecure());
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxserve-grpc-test-'));
  const healthFile = path.join(scratch, 'health.proto');
  fs.writeFileSync(healthFile, HEALTH_PROTO);
  const Health = loadService(healthFile, 'grpc.health.v1', 'Health');
  health = new Health(GRPC_ADDR, grpc.credentials.createInsecure());
});

after(() => {
  infer?.close();
  health?.close();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

// call makes one unary call with a deadline and resolves with its response.
function call(method, req, { ms = CALL_MS, client = infer, deadline } = {}) {
  return new Promise((resolve, reject) => {
    client[method](req, { deadline: deadline ?? Date.now() + ms }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

// callError makes a call that must fail and resolves with its error.
async function callError(method, req, opts) {
  let res;
  try {
    res = await call(method, req, opts);
  } catch (err) {
    return err;
  }
  assert.fail(`${method} succeeded where it should fail: ${JSON.stringify(summary(res))}`);
}

function codeName(code) {
  return Object.keys(Status).find((k) => Status[k] === code) ?? String(code);
}

// summary is a response for a failure message, without raw bytes.
function summary(res) {
  if (!res || typeof res !== 'object') return res;
  const { raw_output_contents: raw, ...rest } = res;
  return raw ? { ...rest, raw_output_contents: raw.map((b) => `<${b.length} bytes>`) } : rest;
}

// --- the models and their stored cases -------------------------------------

// As servertest.Models: each model of the scratch repository and where its
// expected.json is: the shipped models, and every runtime test model
// (runtime/testdata/X.onnx beside X.expected.json), as scripts/e2e-grpc.sh
// copies them.
const MODELS = {
  iris: 'models/iris/1/expected.json',
  digits: 'models/digits/expected.json',
  tabular: 'models/tabular/expected.json',
};
for (const f of fs.readdirSync(path.join(root, 'runtime/testdata')).sort()) {
  const m = f.match(/^(.+)\.onnx$/);
  if (m) MODELS[m[1]] = `runtime/testdata/${m[1]}.expected.json`;
}

// halfid is servertest.TestRepo's FP16/BF16 identity model: no shipped
// model has a half-precision input. The test writes it into REPO_DIR and
// loads it with RepositoryModelLoad. Its values are float16's largest,
// smallest normal and smallest subnormal, and bfloat16's largest: all
// exact in their type, but 1e-30, which bf16's 8-bit mantissa rounds.
const HALFID_CASES = {
  atol: 0,
  cases: [
    {
      inputs: { x16: [1.5, -2, 0.25, 65504, 6.103515625e-5, 5.960464477539063e-8, -0], xb: [1.5, -2, 0.25, 3.3895313892515355e38, 1e-30, -0.0078125, 0] },
      outputs: { y16: [1.5, -2, 0.25, 65504, 6.103515625e-5, 5.960464477539063e-8, -0], yb: [1.5, -2, 0.25, 3.3895313892515355e38, 1e-30, -0.0078125, 0] },
    },
    { inputs: { x16: [1024, -0.125], xb: [3, 0.5] }, outputs: { y16: [1024, -0.125], yb: [3, 0.5] } },
  ],
};

function expectedOf(model) {
  if (model === 'halfid') return HALFID_CASES;
  return JSON.parse(fs.readFileSync(path.join(root, MODELS[model]), 'utf8'));
}

const ALL_MODELS = [...Object.keys(MODELS), 'halfid'];

// flatten turns a nested array into its shape and row-major leaves; a
// bare value is a scalar: shape [], one leaf.
function flatten(value, where) {
  if (!Array.isArray(value)) return { shape: [], leaves: [value] };
  const shape = [];
  for (let v = value; Array.isArray(v); v = v[0]) shape.push(v.length);
  const leaves = [];
  const walk = (v, depth) => {
    if (depth === shape.length) {
      assert.ok(!Array.isArray(v), `${where}: ragged nested array`);
      leaves.push(v);
      return;
    }
    assert.ok(Array.isArray(v) && v.length === shape[depth], `${where}: ragged nested array at depth ${depth}`);
    for (const e of v) walk(e, depth + 1);
  };
  walk(value, 0);
  return { shape, leaves };
}

// --- tensor encodings, written here rather than taken from the server ------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function float32Bits(v) {
  f32[0] = v;
  return u32[0];
}

// float16Bits is IEEE 754 binary16 of v, rounded to nearest even (through
// float32, which is exact for every value the test sends).
function float16Bits(v) {
  const x = float32Bits(v);
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf, NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // too large: Inf
  if (e <= 0) {
    // subnormal in float16: mant * 2^(e-14-10), implicit bit made explicit
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is right
  return sign | h;
}

function float16Value(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

// bfloat16Bits is the top 16 bits of v's float32, rounded to nearest even.
function bfloat16Bits(v) {
  if (Number.isNaN(v)) return 0x7fc0;
  const x = float32Bits(v);
  return Math.floor((x + 0x7fff + ((x >>> 16) & 1)) / 0x10000) & 0xffff;
}

function bfloat16Value(b) {
  u32[0] = b << 16;
  return f32[0];
}

// Fixed element sizes of the raw layout; BYTES is length-prefixed.
const SIZE = { BOOL: 1, INT8: 1, UINT8: 1, INT16: 2, UINT16: 2, FP16: 2, BF16: 2, INT32: 4, UINT32: 4, FP32: 4, INT64: 8, UINT64: 8, FP64: 8 };

function bigOf(v, where) {
  if (typeof v === 'bigint') return v;
  // JSON numbers beyond 2^53 would have lost digits when parsed: refuse them.
  assert.ok(Number.isInteger(v) && Math.abs(v) <= 2 ** 53, `${where}: ${v} is not an integer JSON carries exactly`);
  return BigInt(v);
}

// encodeRaw is one input's raw_input_contents entry: little-endian,
// row-major; BOOL one byte; BYTES a 4-byte LE length and the UTF-8 bytes.
function encodeRaw(dtype, leaves, where = dtype) {
  if (dtype === 'BYTES') {
    return Buffer.concat(
      leaves.flatMap((s) => {
        const b = Buffer.from(s, 'utf8');
        const n = Buffer.alloc(4);
        n.writeUInt32LE(b.length);
        return [n, b];
      }),
    );
  }
  const size = SIZE[dtype];
  assert.ok(size, `${where}: no raw layout for ${dtype}`);
  const buf = Buffer.alloc(size * leaves.length);
  leaves.forEach((v, i) => {
    const o = i * size;
    switch (dtype) {
      case 'BOOL': buf.writeUInt8(v ? 1 : 0, o); break;
      case 'INT8': buf.writeInt8(v, o); break;
      case 'UINT8': buf.writeUInt8(v, o); break;
      case 'INT16': buf.writeInt16LE(v, o); break;
      case 'UINT16': buf.writeUInt16LE(v, o); break;
      case 'INT32': buf.writeInt32LE(v, o); break;
      case 'UINT32': buf.writeUInt32LE(v, o); break;
      case 'INT64': buf.writeBigInt64LE(bigOf(v, where), o); break;
      case 'UINT64': buf.writeBigUInt64LE(bigOf(v, where), o); break;
      case 'FP16': buf.writeUInt16LE(float16Bits(v), o); break;
      case 'BF16': buf.writeUInt16LE(bfloat16Bits(v), o); break;
      case 'FP32': buf.writeFloatLE(v, o); break;
      case 'FP64': buf.writeDoubleLE(v, o); break;
    }
  });
  return buf;
}

// decodeRaw reads one raw_output_contents entry of count elements.
function decodeRaw(dtype, buf, count, where) {
  const out = [];
  if (dtype === 'BYTES') {
    const utf8 = new TextDecoder('utf-8', { fatal: true });
    let o = 0;
    while (o < buf.length) {
      assert.ok(o + 4 <= buf.length, `${where}: BYTES element ${out.length}: length prefix cut at byte ${o}`);
      const n = buf.readUInt32LE(o);
      assert.ok(o + 4 + n <= buf.length, `${where}: BYTES element ${out.length}: ${n} bytes past the end`);
      out.push(utf8.decode(buf.subarray(o + 4, o + 4 + n)));
      o += 4 + n;
    }
    assert.equal(out.length, count, `${where}: ${out.length} BYTES elements, want ${count}`);
    return out;
  }
  const size = SIZE[dtype];
  assert.ok(size, `${where}: unknown datatype ${dtype}`);
  assert.equal(buf.length, size * count, `${where}: ${buf.length} raw bytes for ${count} ${dtype} elements`);
  for (let i = 0; i < count; i++) {
    const o = i * size;
    switch (dtype) {
      case 'BOOL': {
        const b = buf.readUInt8(o);
        assert.ok(b <= 1, `${where} element ${i}: BOOL byte ${b}`);
        out.push(b === 1);
        break;
      }
      case 'INT8': out.push(buf.readInt8(o)); break;
      case 'UINT8': out.push(buf.readUInt8(o)); break;
      case 'INT16': out.push(buf.readInt16LE(o)); break;
      case 'UINT16': out.push(buf.readUInt16LE(o)); break;
      case 'INT32': out.push(buf.readInt32LE(o)); break;
      case 'UINT32': out.push(buf.readUInt32LE(o)); break;
      case 'INT64': out.push(buf.readBigInt64LE(o)); break;
      case 'UINT64': out.push(buf.readBigUInt64LE(o)); break;
      case 'FP16': out.push(float16Value(buf.readUInt16LE(o))); break;
      case 'BF16': out.push(bfloat16Value(buf.readUInt16LE(o))); break;
      case 'FP32': out.push(buf.readFloatLE(o)); break;
      case 'FP64': out.push(buf.readDoubleLE(o)); break;
    }
  }
  return out;
}

// typedContents is an input's InferTensorContents: the field for its
// datatype; 64-bit integers as decimal strings. FP16 and BF16 have none.
function typedContents(dtype, leaves, where = dtype) {
  switch (dtype) {
    case 'BOOL': return { bool_contents: leaves };
    case 'INT8': case 'INT16': case 'INT32': return { int_contents: leaves };
    case 'UINT8': case 'UINT16': case 'UINT32': return { uint_contents: leaves };
    case 'INT64': return { int64_contents: leaves.map((v) => bigOf(v, where).toString()) };
    case 'UINT64': return { uint64_contents: leaves.map((v) => bigOf(v, where).toString()) };
    case 'FP32': return { fp32_contents: leaves };
    case 'FP64': return { fp64_contents: leaves };
    case 'BYTES': return { bytes_contents: leaves.map((s) => Buffer.from(s, 'utf8')) };
  }
  return null;
}

// Float tolerances: |got-want| <= max(abs, the file's atol) + rel*|want|.
// fp32 values are the float32 nearest numpy's; fp16 keeps 11 bits of
// mantissa, bf16 8.
const TOL = {
  FP64: { rel: 1e-12, abs: 0 },
  FP32: { rel: 1e-5, abs: 1e-6 },
  FP16: { rel: 1e-3, abs: 0 },
  BF16: { rel: 1e-2, abs: 0 },
};

// coords is a row-major element index as its position in shape.
function coords(i, shape) {
  const c = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    c.unshift(i % shape[d]);
    i = Math.floor(i / shape[d]);
  }
  return `[${c}]`;
}

// assertElements compares decoded elements with expected leaves, naming
// the first element that differs.
function assertElements(where, dtype, got, want, atol, shape = [want.length]) {
  assert.equal(got.length, want.length, `${where}: ${got.length} elements, want ${want.length}`);
  const tol = TOL[dtype];
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    let ok;
    if (tol) {
      if (!Number.isFinite(w) || !Number.isFinite(g)) ok = Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w));
      else ok = Math.abs(g - w) <= Math.max(tol.abs, atol) + tol.rel * Math.abs(w);
    } else if (dtype === 'INT64' || dtype === 'UINT64') {
      ok = g === bigOf(w, where);
    } else {
      ok = g === w;
    }
    if (!ok) assert.fail(`${where} element ${i} ${coords(i, shape)}: got ${JSON.stringify(String(g))}, want ${JSON.stringify(String(w))}`);
  }
}

// --- requests --------------------------------------------------------------

const metadata = new Map(); // model → ModelMetadata response

async function modelMetadata(model) {
  if (!metadata.has(model)) metadata.set(model, await call('ModelMetadata', { name: model, version: '' }));
  return metadata.get(model);
}

function dims(shape) {
  return shape.map(Number);
}

// buildRequest is a ModelInferRequest for one case: the inputs in
// metadata order, typed or raw.
function buildRequest(model, md, inputs, { mode, id, version = '', outputs } = {}) {
  const req = { model_name: model, model_version: version, id, inputs: [], outputs: outputs ?? [] };
  const raw = [];
  for (const spec of md.inputs) {
    const where = `${model} input ${spec.name}`;
    assert.ok(spec.name in inputs, `${where}: the case has no value for it`);
    const { shape, leaves } = flatten(inputs[spec.name], where);
    const tensor = { name: spec.name, datatype: spec.datatype, shape };
    if (mode === 'raw') {
      raw.push(encodeRaw(spec.datatype, leaves, where));
    } else {
      tensor.contents = typedContents(spec.datatype, leaves, where);
      assert.ok(tensor.contents, `${where}: ${spec.datatype} has no typed contents`);
    }
    req.inputs.push(tensor);
  }
  const extra = Object.keys(inputs).filter((n) => !md.inputs.some((s) => s.name === n));
  assert.deepEqual(extra, [], `${model}: the case has inputs the metadata does not list`);
  if (mode === 'raw') req.raw_input_contents = raw;
  return req;
}

// checkResponse compares a ModelInferResponse with a case's expected
// outputs: exactly the outputs named in want (none but tensors), raw only.
function checkResponse(where, res, { model, id, version, want, atol, mdOutputs }) {
  assert.equal(res.model_name, model, `${where}: model_name`);
  assert.equal(res.id, id, `${where}: id not echoed`);
  assert.ok(res.model_version, `${where}: model_version not set`);
  if (version) assert.equal(res.model_version, version, `${where}: model_version`);
  const names = res.outputs.map((o) => o.name);
  assert.deepEqual([...names].sort(), Object.keys(want).sort(), `${where}: outputs`);
  assert.equal(res.raw_output_contents.length, res.outputs.length, `${where}: one raw_output_contents entry per output`);
  res.outputs.forEach((o, i) => {
    const at = `${where} output ${o.name}`;
    const spec = mdOutputs.find((s) => s.name === o.name);
    assert.equal(o.datatype, spec.datatype, `${at}: datatype`);
    const { shape, leaves } = flatten(want[o.name], at);
    assert.deepEqual(dims(o.shape), shape, `${at}: shape`);
    const typed = o.contents && Object.values(o.contents).some((v) => Array.isArray(v) && v.length > 0);
    assert.ok(!typed, `${at}: typed contents in the response: the server answers raw only`);
    const got = decodeRaw(o.datatype, res.raw_output_contents[i], leaves.length, at);
    assertElements(at, o.datatype, got, leaves, atol, shape);
  });
}

// tensorOutputs are the expected outputs the protocol can carry: those in
// the metadata (ZipMap's sequences of maps are left out).
function tensorOutputs(md, outputs) {
  return Object.fromEntries(Object.entries(outputs).filter(([n]) => md.outputs.some((s) => s.name === n)));
}

// --- halfid, as servertest.TestRepo builds it ------------------------------

// A hand-encoded ONNX graph y16 = Identity(x16) (FLOAT16), yb = Identity(xb)
// (BFLOAT16), both of shape [N]: servertest's halfIdentityModel, byte for byte.
function halfIdentityModel() {
  const varint = (v) => {
    const b = [];
    for (; v >= 0x80; v = Math.floor(v / 128)) b.push((v & 0x7f) | 0x80);
    b.push(v);
    return Buffer.from(b);
  };
  const bytes = (field, payload) => Buffer.concat([varint(field * 8 + 2), varint(payload.length), payload]);
  const int = (field, v) => Buffer.concat([varint(field * 8), varint(v)]);
  const str = (s) => Buffer.from(s, 'utf8');
  const tensor = (name, elem) => {
    const shape = bytes(1, bytes(2, str('N'))); // TensorShapeProto.dim{dim_param}
    const tt = Buffer.concat([int(1, elem), bytes(2, shape)]); // TypeProto.Tensor
    return Buffer.concat([bytes(1, str(name)), bytes(2, bytes(1, tt))]); // ValueInfoProto
  };
  const node = (i, o) => Buffer.concat([bytes(1, str(i)), bytes(2, str(o)), bytes(4, str('Identity'))]);
  const graph = Buffer.concat([
    bytes(1, node('x16', 'y16')),
    bytes(1, node('xb', 'yb')),
    bytes(2, str('halfid')),
    bytes(11, tensor('x16', 10)), // FLOAT16
    bytes(11, tensor('xb', 16)), // BFLOAT16
    bytes(12, tensor('y16', 10)),
    bytes(12, tensor('yb', 16)),
  ]);
  const opset = Buffer.concat([int(2, 17), bytes(1, Buffer.alloc(0))]);
  return Buffer.concat([int(1, 8), bytes(8, opset), bytes(7, graph)]);
}

// --- the tests -------------------------------------------------------------

test('RepositoryModelLoad of a new model: halfid (FP16/BF16 inputs)', { timeout: TEST_MS }, async () => {
  const dir = path.join(REPO_DIR, 'halfid');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'model.onnx'), halfIdentityModel());
  await call('RepositoryModelLoad', { repository_name: '', model_name: 'halfid' }, { ms: LOAD_MS });
  const r = await call('ModelReady', { name: 'halfid', version: '' });
  assert.equal(r.ready, true, 'halfid ready after load');
});

test('ModelMetadata of every model', { timeout: TEST_MS }, async (t) => {
  for (const model of ALL_MODELS) {
    await t.test(model, async () => {
      const md = await modelMetadata(model);
      assert.equal(md.name, model);
      assert.equal(md.platform, 'onnxruntime_onnx', `${model}: platform`);
      assert.ok(md.versions.length > 0, `${model}: no versions`);
      assert.ok(md.inputs.length > 0 && md.outputs.length > 0, `${model}: inputs ${md.inputs.length} outputs ${md.outputs.length}`);
      const exp = expectedOf(model);
      // Each case's shapes fit the metadata's (-1: any size).
      for (const [ci, cs] of exp.cases.entries()) {
        for (const [kind, specs, values] of [['input', md.inputs, cs.inputs], ['output', md.outputs, cs.outputs]]) {
          for (const spec of specs) {
            const where = `${model} case ${ci} ${kind} ${spec.name}`;
            assert.ok(spec.name in values, `${where}: in the metadata, not in expected.json`);
            const { shape } = flatten(values[spec.name], where);
            const declared = dims(spec.shape);
            assert.equal(declared.length, shape.length, `${where}: metadata shape [${declared}] vs case shape [${shape}]`);
            declared.forEach((d, i) => assert.ok(d === -1 || d === shape[i], `${where}: metadata shape [${declared}] vs case shape [${shape}]`));
          }
        }
      }
    });
  }
  // ZipMap's sequences of maps have no v2 datatype: left out.
  const zm = await modelMetadata('zipmap');
  assert.deepEqual(zm.outputs.map((o) => o.name), ['probabilities'], 'zipmap outputs: only the tensor');
  const hi = await modelMetadata('halfid');
  assert.deepEqual(hi.inputs.map((i) => `${i.name}:${i.datatype}`), ['x16:FP16', 'xb:BF16']);
});

test('ModelInfer: every case of every model, typed and raw', { timeout: TEST_MS }, async (t) => {
  for (const model of ALL_MODELS) {
    const exp = expectedOf(model);
    const md = await modelMetadata(model);
    const latest = md.versions[md.versions.length - 1];
    for (const [ci, cs] of exp.cases.entries()) {
      for (const mode of ['typed', 'raw']) {
        const where = `${model} case ${ci} ${mode}`;
        await t.test(where, async (tt) => {
          if (mode === 'typed' && md.inputs.some((s) => typedContents(s.datatype, []) === null)) {
            tt.skip('FP16/BF16 inputs travel raw only');
            return;
          }
          // Odd cases name the version, even ones take the default.
          const version = ci % 2 ? latest : '';
          const id = `${model}/${ci}/${mode}`;
          const res = await call('ModelInfer', buildRequest(model, md, cs.inputs, { mode, id, version }));
          checkResponse(where, res, { model, id, version: latest, want: tensorOutputs(md, cs.outputs), atol: exp.atol ?? 0, mdOutputs: md.outputs });
        });
      }
    }
  }
});

test('ModelInfer: one output requested, only it returns', { timeout: TEST_MS }, async (t) => {
  for (const model of ALL_MODELS) {
    const exp = expectedOf(model);
    const md = await modelMetadata(model);
    const cs = exp.cases[exp.cases.length - 1];
    for (const out of md.outputs) {
      const where = `${model} output ${out.name} alone`;
      await t.test(where, async () => {
        const id = `${model}/only/${out.name}`;
        const req = buildRequest(model, md, cs.inputs, { mode: 'raw', id, outputs: [{ name: out.name, parameters: {} }] });
        const res = await call('ModelInfer', req);
        checkResponse(where, res, { model, id, want: { [out.name]: cs.outputs[out.name] }, atol: exp.atol ?? 0, mdOutputs: md.outputs });
      });
    }
  }
});

test('ModelInfer: 64-bit integers beyond 2^53 survive, typed and raw', { timeout: TEST_MS }, async (t) => {
  const md = await modelMetadata('dtypes');
  const inputs = structuredClone(expectedOf('dtypes').cases[0].inputs);
  inputs.i64 = [[-(2n ** 63n), 2n ** 63n - 1n], [2n ** 53n + 1n, -(2n ** 53n) - 1n]];
  inputs.u64 = [[2n ** 64n - 1n, 2n ** 53n + 1n], [2n ** 63n, 1n]];
  const want = { i64_out: inputs.i64, u64_out: inputs.u64 };
  for (const mode of ['typed', 'raw']) {
    await t.test(mode, async () => {
      const id = `dtypes/64bit/${mode}`;
      const req = buildRequest('dtypes', md, inputs, { mode, id, outputs: [{ name: 'i64_out', parameters: {} }, { name: 'u64_out', parameters: {} }] });
      const res = await call('ModelInfer', req);
      checkResponse(`dtypes 64-bit ${mode}`, res, { model: 'dtypes', id, want, atol: 0, mdOutputs: md.outputs });
    });
  }
});

test('ModelInfer: classification of iris probabilities, top 2 with labels', { timeout: TEST_MS }, async () => {
  const labels = fs.readFileSync(path.join(REPO_DIR, 'iris/config.yaml'), 'utf8').match(/^labels:\s*\[(.*)\]/m)[1].split(',').map((s) => s.trim());
  assert.deepEqual(labels, ['setosa', 'versicolor', 'virginica']);
  const exp = expectedOf('iris');
  const md = await modelMetadata('iris');
  for (const [ci, cs] of exp.cases.entries()) {
    for (const mode of ['typed', 'raw']) {
      const where = `iris case ${ci} ${mode} classification`;
      const id = `iris/${ci}/${mode}/class`;
      const req = buildRequest('iris', md, cs.inputs, {
        mode, id, outputs: [{ name: 'probabilities', parameters: { classification: { int64_param: 2 } } }],
      });
      const res = await call('ModelInfer', req);
      assert.equal(res.id, id, `${where}: id`);
      assert.deepEqual(res.outputs.map((o) => o.name), ['probabilities'], `${where}: outputs`);
      const o = res.outputs[0];
      const probs = cs.outputs.probabilities;
      assert.equal(o.datatype, 'BYTES', `${where}: datatype`);
      assert.deepEqual(dims(o.shape), [probs.length, 2], `${where}: shape`);
      const got = decodeRaw('BYTES', res.raw_output_contents[0], probs.length * 2, where);
      probs.forEach((row, r) => {
        const order = row.map((_, i) => i).sort((a, b) => row[b] - row[a]);
        for (let j = 0; j < 2; j++) {
          const at = `${where} row ${r} #${j}`;
          const parts = got[r * 2 + j].split(':');
          assert.equal(parts.length, 3, `${at}: ${JSON.stringify(got[r * 2 + j])}, want score:index:label`);
          assert.equal(parts[1], String(order[j]), `${at}: ${JSON.stringify(got[r * 2 + j])}, want index ${order[j]} (argmax order of ${row})`);
          assert.equal(parts[2], labels[order[j]], `${at}: label`);
          assert.ok(Math.abs(Number(parts[0]) - row[order[j]]) <= 1e-6 + exp.atol, `${at}: score ${parts[0]}, want ${row[order[j]]}`);
        }
      });
    }
  }
});

test('server RPCs: live, ready, metadata, model ready', { timeout: TEST_MS }, async (t) => {
  assert.equal((await call('ServerLive', {})).live, true, 'ServerLive');
  assert.equal((await call('ServerReady', {})).ready, true, 'ServerReady');
  const sm = await call('ServerMetadata', {});
  assert.equal(sm.name, 'onnxserve', 'ServerMetadata name');
  assert.ok(sm.version, 'ServerMetadata version');
  assert.ok(Array.isArray(sm.extensions) && sm.extensions.length > 0, `ServerMetadata extensions: ${JSON.stringify(sm.extensions)}`);
  t.diagnostic(`ServerMetadata: ${sm.name} ${sm.version} extensions ${sm.extensions}`);
  for (const model of ALL_MODELS) {
    assert.equal((await call('ModelReady', { name: model, version: '' })).ready, true, `ModelReady ${model}`);
  }
  const md = await modelMetadata('iris');
  assert.equal((await call('ModelReady', { name: 'iris', version: md.versions[0] })).ready, true, 'ModelReady iris, version named');
  const err = await callError('ModelReady', { name: 'no_such_model', version: '' });
  assert.equal(err.code, Status.NOT_FOUND, `ModelReady of an unknown model: ${codeName(err.code)} ${err.details}`);
  const verr = await callError('ModelReady', { name: 'iris', version: '99' });
  assert.equal(verr.code, Status.NOT_FOUND, `ModelReady of an unknown version: ${codeName(verr.code)} ${verr.details}`);
  const merr = await callError('ModelMetadata', { name: 'no_such_model', version: '' });
  assert.equal(merr.code, Status.NOT_FOUND, `ModelMetadata of an unknown model: ${codeName(merr.code)} ${merr.details}`);
});

test('grpc.health.v1.Health/Check', { timeout: TEST_MS }, async () => {
  for (const service of ['', 'inference.GRPCInferenceService']) {
    const r = await call('Check', { service }, { client: health });
    assert.equal(r.status, 'SERVING', `Health/Check ${JSON.stringify(service)}`);
  }
  const err = await callError('Check', { service: 'no.such.Service' }, { client: health });
  assert.equal(err.code, Status.NOT_FOUND, `Health/Check of an unknown service: ${codeName(err.code)} ${err.details}`);
});

test('repository: index, unload, load', { timeout: TEST_MS }, async () => {
  const idx = await call('RepositoryIndex', { repository_name: '', ready: false });
  const names = idx.models.map((m) => m.name);
  for (const model of ALL_MODELS) {
    const e = idx.models.find((m) => m.name === model);
    assert.ok(e, `RepositoryIndex lacks ${model}: ${names}`);
    assert.equal(e.state, 'READY', `RepositoryIndex ${model}: ${JSON.stringify(e)}`);
  }
  const readyIdx = await call('RepositoryIndex', { repository_name: '', ready: true });
  assert.deepEqual(readyIdx.models.map((m) => m.name).sort(), [...ALL_MODELS].sort(), 'RepositoryIndex ready: true');

  // tabular is the scratch repository's copy: unload it, then load it back.
  await call('RepositoryModelUnload', { repository_name: '', model_name: 'tabular' }, { ms: LOAD_MS });
  try {
    const r = await call('ModelReady', { name: 'tabular', version: '' });
    assert.equal(r.ready, false, 'ModelReady after unload');
  } catch (err) {
    if (err.code !== Status.NOT_FOUND) throw err;
  }
  const md = await modelMetadata('tabular');
  const cs = expectedOf('tabular').cases[0];
  const ierr = await callError('ModelInfer', buildRequest('tabular', md, cs.inputs, { mode: 'raw', id: 'unloaded' }));
  assert.ok([Status.NOT_FOUND, Status.UNAVAILABLE].includes(ierr.code), `ModelInfer on an unloaded model: ${codeName(ierr.code)} ${ierr.details}`);
  const after = await call('RepositoryIndex', { repository_name: '', ready: false });
  const e = after.models.find((m) => m.name === 'tabular');
  assert.ok(e && e.state !== 'READY', `RepositoryIndex after unload: tabular ${JSON.stringify(e)}`);

  await call('RepositoryModelLoad', { repository_name: '', model_name: 'tabular' }, { ms: LOAD_MS });
  assert.equal((await call('ModelReady', { name: 'tabular', version: '' })).ready, true, 'ModelReady after load');
  const res = await call('ModelInfer', buildRequest('tabular', md, cs.inputs, { mode: 'raw', id: 'reloaded' }));
  checkResponse('tabular after reload', res, { model: 'tabular', id: 'reloaded', want: cs.outputs, atol: expectedOf('tabular').atol, mdOutputs: md.outputs });
  assert.equal((await call('ServerReady', {})).ready, true, 'ServerReady after reload');
});

test('ModelStreamInfer: good and bad requests on one stream, matched by id', { timeout: TEST_MS }, async (t) => {
  const good = {};
  const bad = new Set();
  const reqs = [];
  const add = async (model, ci, mode, spoil) => {
    const id = `s${reqs.length}`;
    const md = await modelMetadata(model);
    const exp = expectedOf(model);
    const cs = exp.cases[ci];
    const req = buildRequest(model, md, cs.inputs, { mode, id });
    if (spoil) {
      spoil(req);
      bad.add(id);
    } else {
      good[id] = { model, want: tensorOutputs(md, cs.outputs), atol: exp.atol ?? 0, mdOutputs: md.outputs };
    }
    reqs.push(req);
  };
  await add('iris', 1, 'raw');
  await add('digits', 0, 'typed');
  await add('iris', 0, 'raw', (r) => { r.model_name = 'no_such_model'; });
  await add('tabular', 1, 'typed');
  await add('dtypes', 0, 'raw');
  await add('tabular', 0, 'typed', (r) => { r.inputs[0].datatype = 'FP64'; });
  await add('strings', 1, 'typed');
  await add('iris', 2, 'raw', (r) => { r.outputs = [{ name: 'no_such_output', parameters: {} }]; });
  await add('half', 1, 'raw');
  await add('scalar', 2, 'typed');
  const last = 's10'; // sent after all else has answered: the stream is still open
  good[last] = { model: 'zipmap', want: tensorOutputs(await modelMetadata('zipmap'), expectedOf('zipmap').cases[1].outputs), atol: expectedOf('zipmap').atol, mdOutputs: (await modelMetadata('zipmap')).outputs };
  const lastReq = buildRequest('zipmap', await modelMetadata('zipmap'), expectedOf('zipmap').cases[1].inputs, { mode: 'raw', id: last });

  const stream = infer.ModelStreamInfer({ deadline: Date.now() + 60_000 });
  const answers = [];
  const errors = [];
  let failure; // the stream's error, once it ended with one
  let status; // its final status, once it ended
  stream.on('data', (msg) => (msg.error_message ? errors : answers).push(msg));
  stream.on('error', (err) => { failure = err; });
  stream.on('status', (s) => { status = s; });
  // until polls, bounded, for what the stream has delivered.
  const until = async (done, what, ms = 30_000) => {
    const end = Date.now() + ms;
    while (!done()) {
      if (failure) assert.fail(`stream failed while waiting for ${what}: ${codeName(failure.code)} "${failure.details}"`);
      if (Date.now() > end) assert.fail(`stream: ${what} not within ${ms / 1000} s (${answers.length} answers, ${errors.length} errors so far)`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    for (const r of reqs) stream.write(r);
    await until(() => answers.length + errors.length >= reqs.length, `${reqs.length} responses`);
    stream.write(lastReq);
    await until(() => answers.length + errors.length >= reqs.length + 1, 'the response to the request after the errors');
    stream.end();
    await until(() => status, 'the final status after the client closed', 10_000);
  } finally {
    if (!status) stream.cancel();
  }
  assert.equal(status.code, Status.OK, `stream status: ${codeName(status.code)} "${status.details}"`);
  assert.equal(answers.length + errors.length, reqs.length + 1, 'stream: one response per request');

  assert.equal(errors.length, bad.size, `stream: ${errors.length} error responses, want ${bad.size}: ${JSON.stringify(errors.map(summary))}`);
  for (const e of errors) {
    const id = e.infer_response?.id;
    if (id) assert.ok(bad.has(id), `stream: error for ${id}, a good request: ${e.error_message}`);
  }
  const errorIds = errors.map((e) => e.infer_response?.id).filter(Boolean);
  if (errorIds.length === errors.length) assert.deepEqual(errorIds.sort(), [...bad].sort(), 'stream: the ids of the errors');
  const ids = answers.map((a) => a.infer_response.id);
  assert.deepEqual([...ids].sort(), Object.keys(good).sort(), 'stream: the ids answered');
  for (const a of answers) {
    const id = a.infer_response.id;
    const g = good[id];
    checkResponse(`stream ${id} (${g.model})`, a.infer_response, { model: g.model, id, want: g.want, atol: g.atol, mdOutputs: g.mdOutputs });
  }
  // Recorded, not pinned: the protocol only asks for error_message.
  const unnamed = errors.filter((e) => !e.infer_response?.id).length;
  if (unnamed) t.diagnostic(`stream: ${unnamed} of ${errors.length} error responses carry no infer_response.id`);
});

// --- refused requests ------------------------------------------------------

// A tabular request (numeric FP32 [-1,3], category INT64 [-1]) to spoil.
async function tabularRequest(mode = 'typed') {
  const md = await modelMetadata('tabular');
  return buildRequest('tabular', md, expectedOf('tabular').cases[0].inputs, { mode, id: 'bad' });
}
async function irisRequest(mode = 'typed') {
  const md = await modelMetadata('iris');
  return buildRequest('iris', md, expectedOf('iris').cases[0].inputs, { mode, id: 'bad' });
}
async function dtypesRequest(input, contents) {
  const md = await modelMetadata('dtypes');
  const req = buildRequest('dtypes', md, expectedOf('dtypes').cases[0].inputs, { mode: 'typed', id: 'bad' });
  req.inputs.find((i) => i.name === input).contents = contents;
  return req;
}
const input = (req, name) => req.inputs.find((i) => i.name === name);

// Each case: the request, the code, and what the message must name.
const ERRORS = [
  { what: 'unknown model', code: Status.NOT_FOUND, names: 'no_such_model', req: async () => ({ ...(await irisRequest()), model_name: 'no_such_model' }) },
  { what: 'unknown version "99"', code: Status.NOT_FOUND, names: '99', req: async () => ({ ...(await irisRequest()), model_version: '99' }) },
  { what: 'unknown input name', names: 'no_such_input', req: async () => { const r = await tabularRequest(); input(r, 'category').name = 'no_such_input'; return r; } },
  { what: 'missing input', names: 'category', req: async () => { const r = await tabularRequest(); r.inputs = r.inputs.filter((i) => i.name !== 'category'); return r; } },
  { what: 'duplicate input', names: 'numeric', req: async () => { const r = await tabularRequest(); r.inputs.push(structuredClone(input(r, 'numeric'))); return r; } },
  { what: 'wrong datatype (FP64 for FP32)', names: 'numeric', req: async () => { const r = await tabularRequest(); Object.assign(input(r, 'numeric'), { datatype: 'FP64', contents: { fp64_contents: [45, 0.35, 4] } }); return r; } },
  { what: 'contents in the wrong field for the datatype', names: 'numeric', req: async () => { const r = await tabularRequest(); input(r, 'numeric').contents = { fp64_contents: [45, 0.35, 4] }; return r; } },
  { what: 'wrong rank', names: 'numeric', req: async () => { const r = await tabularRequest(); input(r, 'numeric').shape = [3]; return r; } },
  { what: 'wrong fixed dim', names: 'numeric', req: async () => { const r = await tabularRequest(); Object.assign(input(r, 'numeric'), { shape: [1, 4], contents: { fp32_contents: [45, 0.35, 4, 1] } }); return r; } },
  { what: 'negative dim', names: 'numeric', req: async () => { const r = await tabularRequest(); input(r, 'numeric').shape = [-1, 3]; return r; } },
  { what: 'element count not matching shape (typed)', names: 'numeric', req: async () => { const r = await tabularRequest(); input(r, 'numeric').contents = { fp32_contents: [45, 0.35] }; return r; } },
  { what: 'raw size not matching shape', names: 'numeric', req: async () => { const r = await tabularRequest('raw'); r.raw_input_contents[0] = r.raw_input_contents[0].subarray(0, 8); return r; } },
  { what: 'raw and typed contents mixed', names: 'numeric', req: async () => { const r = await tabularRequest('raw'); input(r, 'numeric').contents = { fp32_contents: [45, 0.35, 4] }; return r; } },
  { what: 'raw_input_contents count ≠ inputs count', req: async () => { const r = await tabularRequest('raw'); r.raw_input_contents.pop(); return r; } },
  { what: 'shape product overflow', names: 'numeric', req: async () => { const r = await tabularRequest(); input(r, 'numeric').shape = ['4611686018427387904', '3']; return r; } },
  // 6148914691236517206 × 3 = 2^64 + 2: a product that wraps would take 2 elements.
  { what: 'shape product wrapping to 2 (typed)', names: 'numeric', req: async () => { const r = await tabularRequest(); Object.assign(input(r, 'numeric'), { shape: ['6148914691236517206', '3'], contents: { fp32_contents: [45, 0.35] } }); return r; } },
  { what: 'shape product wrapping to 2 (raw)', names: 'numeric', req: async () => { const r = await tabularRequest('raw'); input(r, 'numeric').shape = ['6148914691236517206', '3']; r.raw_input_contents[0] = r.raw_input_contents[0].subarray(0, 8); return r; } },
  { what: 'shape product overflow, three dims', names: 'X', req: async () => { const r = await irisRequest(); input(r, 'X').shape = ['4611686018427387904', '4611686018427387904', '4']; return r; } },
  { what: 'BYTES raw length prefix past the end', names: 'text', req: async () => { const md = await modelMetadata('strings'); const r = buildRequest('strings', md, { text: ['x'] }, { mode: 'raw', id: 'bad' }); r.raw_input_contents[0] = Buffer.from([100, 0, 0, 0, 0x78]); return r; } },
  { what: 'BYTES element with a NUL byte', names: 'text', req: async () => { const md = await modelMetadata('strings'); const r = buildRequest('strings', md, { text: ['ok', 'a'] }, { mode: 'typed', id: 'bad' }); r.inputs[0].contents.bytes_contents[1] = Buffer.from('a\0b'); return r; } },
  { what: 'INT8 value out of range (300)', names: 'i8', req: () => dtypesRequest('i8', { int_contents: [300, 0, 0, -1] }) },
  { what: 'INT16 value out of range (40000)', names: 'i16', req: () => dtypesRequest('i16', { int_contents: [40000, 0, 0, -1] }) },
  { what: 'UINT8 value out of range (256)', names: 'u8', req: () => dtypesRequest('u8', { uint_contents: [256, 0, 0, 1] }) },
  { what: 'FP16 in typed contents (raw only)', names: 'x16', req: async () => { const md = await modelMetadata('halfid'); const r = buildRequest('halfid', md, { x16: [1], xb: [1] }, { mode: 'raw', id: 'bad' }); delete r.raw_input_contents; r.inputs[0].contents = { fp32_contents: [1] }; r.inputs[1].contents = { fp32_contents: [1] }; return r; } },
  { what: 'a ZipMap output (no v2 form) requested by name', names: 'output_probability', req: async () => { const md = await modelMetadata('zipmap'); return buildRequest('zipmap', md, expectedOf('zipmap').cases[0].inputs, { mode: 'raw', id: 'bad', outputs: [{ name: 'output_probability', parameters: {} }] }); } },
  { what: 'unknown output name', names: 'no_such_output', req: async () => ({ ...(await irisRequest()), outputs: [{ name: 'no_such_output', parameters: {} }] }) },
];

test('refused requests: status codes, and the server still ready after each', { timeout: TEST_MS }, async (t) => {
  for (const c of ERRORS) {
    await t.test(c.what, async (tt) => {
      const code = c.code ?? Status.INVALID_ARGUMENT;
      const err = await callError('ModelInfer', await c.req());
      tt.diagnostic(`${codeName(err.code)}: ${err.details}`);
      assert.equal(err.code, code, `${c.what}: ${codeName(err.code)} (${err.code}) "${err.details}", want ${codeName(code)}`);
      if (c.names) assert.ok(err.details.includes(c.names), `${c.what}: message "${err.details}" does not name ${c.names}`);
      assert.equal((await call('ServerReady', {})).ready, true, `ServerReady after ${c.what}`);
    });
  }

  await t.test('a message over --max-body-bytes (1 MiB): 2 MiB raw', async () => {
    const md = await modelMetadata('iris');
    const rows = (2 << 20) / 16; // 4 FP32 per row
    const req = buildRequest('iris', md, { X: [[0, 0, 0, 0]] }, { mode: 'raw', id: 'big' });
    input(req, 'X').shape = [rows, 4];
    req.raw_input_contents = [Buffer.alloc(rows * 16)];
    const err = await callError('ModelInfer', req);
    assert.equal(err.code, Status.RESOURCE_EXHAUSTED, `2 MiB message: ${codeName(err.code)} "${err.details}"`);
    assert.equal((await call('ServerReady', {})).ready, true, 'ServerReady after the large message');
  });

  // 1 µs ahead, which a Date (whole milliseconds) makes now: grpc-js may
  // give up before sending; either way the call must end DEADLINE_EXCEEDED.
  // The slow model's case below is one the server sees.
  await t.test('a deadline that has all but passed', async () => {
    const err = await callError('ModelInfer', await irisRequest('raw'), { deadline: new Date(Date.now() + 0.001) });
    assert.equal(err.code, Status.DEADLINE_EXCEEDED, `tiny deadline: ${codeName(err.code)} "${err.details}"`);
    assert.equal((await call('ServerReady', {})).ready, true, 'ServerReady after the deadline');
  });

  await t.test('a deadline that passes while the model runs (slow, 1000 rows)', async (tt) => {
    if (!MODELS.slow) return tt.skip('no runtime/testdata/slow.onnx');
    const md = await modelMetadata('slow');
    const rows = 1000; // about 1000 KB: under the 1 MiB limit; a few hundred ms of work
    const req = buildRequest('slow', md, { x: [new Array(256).fill(0)] }, { mode: 'raw', id: 'slow' });
    input(req, 'x').shape = [rows, 256];
    req.raw_input_contents = [Buffer.alloc(rows * 1024)];
    const err = await callError('ModelInfer', req, { ms: 20 });
    assert.equal(err.code, Status.DEADLINE_EXCEEDED, `20 ms deadline on slow: ${codeName(err.code)} "${err.details}"`);
    assert.equal((await call('ServerReady', {})).ready, true, 'ServerReady after the deadline');
    const res = await call('ModelInfer', { ...req, id: 'slow-after' });
    assert.equal(res.id, 'slow-after', 'the same request without the short deadline');
  });

  // The protocol names no code for this; any refusal that names the model,
  // other than the server's own failure, will do.
  await t.test('RepositoryModelLoad of a model directory that does not exist', async (tt) => {
    const err = await callError('RepositoryModelLoad', { repository_name: '', model_name: 'no_such_model_dir' }, { ms: LOAD_MS });
    tt.diagnostic(`${codeName(err.code)}: ${err.details}`);
    const codes = [Status.NOT_FOUND, Status.INVALID_ARGUMENT, Status.FAILED_PRECONDITION];
    assert.ok(codes.includes(err.code), `load of a missing dir: ${codeName(err.code)} "${err.details}", want one of ${codes.map(codeName)}`);
    assert.ok(err.details.includes('no_such_model_dir'), `load of a missing dir: message "${err.details}" does not name the model`);
    assert.equal((await call('ServerReady', {})).ready, true, 'ServerReady after the failed load');
  });
});
