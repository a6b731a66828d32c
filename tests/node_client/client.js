#!/usr/bin/env node
// Serves an exported model from its export document alone (docs/reference/export-format.md): it knows the
// document's format (its ops and fields) and nothing of corenets. It checks itself against the document's test
// vectors before it answers.
//
//   node client.js model.preprocessing.json model.onnx [inputs.json]
//
// inputs.json is a JSON array of raw inputs (image file paths or pixel arrays, sentences, row objects, price
// lists). Prints JSON: {"self_test": {"cases", "failures"}, "predictions": [{"model_input", "output", "answer"}, ...]}.
// Exits 1 when a test vector disagrees (and then predicts nothing), 2 on a document it cannot follow.
'use strict';

const fs = require('fs');
const zlib = require('zlib');
const ort = require('onnxruntime-node');

const FORMAT = 'corenets.export-document';
const VERSIONS = [1];

class DocumentError extends Error {}

// ------------------------------------------------------------------ tensors: {shape, data} in row-major order

function fromNested(a) {
  const shape = [];
  for (let x = a; Array.isArray(x); x = x[0]) shape.push(x.length);
  return { shape, data: a.flat(Infinity) };
}

function transpose(t, perm) {
  const shape = perm.map((p) => t.shape[p]);
  const inStride = strides(t.shape);
  const out = new Array(t.data.length);
  const idx = new Array(shape.length).fill(0);
  for (let i = 0; i < out.length; i++) {
    let src = 0;
    for (let d = 0; d < shape.length; d++) src += idx[d] * inStride[perm[d]];
    out[i] = t.data[src];
    for (let d = shape.length - 1; d >= 0; d--) { if (++idx[d] < shape[d]) break; idx[d] = 0; }
  }
  return { shape, data: out };
}

function strides(shape) {
  const s = new Array(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
  return s;
}

function reshape(t, shape) {
  const known = shape.filter((n) => n !== -1).reduce((a, b) => a * b, 1);
  return { shape: shape.map((n) => (n === -1 ? t.data.length / known : n)), data: t.data };
}

// ------------------------------------------------------------------ images: PNG decoding, the bilinear resize

function decodePng(buf) {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new DocumentError('this client reads PNG files only');
  let pos = 8, width, height, depth, colour, interlace;
  const idat = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos), type = buf.toString('ascii', pos + 4, pos + 8), body = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') [width, height, depth, colour, interlace] = [body.readUInt32BE(0), body.readUInt32BE(4), body[8], body[9], body[12]];
    else if (type === 'IDAT') idat.push(body);
    pos += 12 + len;
  }
  const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[colour];
  if (depth !== 8 || !channels || interlace) throw new DocumentError('this client reads 8-bit non-interlaced gray/RGB(A) PNGs');
  const raw = zlib.inflateSync(Buffer.concat(idat)), stride = width * channels, out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)], line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[y * stride + x - channels] : 0, b = y ? out[(y - 1) * stride + x] : 0;
      const c = x >= channels && y ? out[(y - 1) * stride + x - channels] : 0;
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : paeth(a, b, c);
      out[y * stride + x] = (line[x] + pred) & 255;
    }
  }
  return { height, width, channels, data: out };
}

function paeth(a, b, c) {
  const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function pixelsOf(raw) {
  if (typeof raw === 'string') return decodePng(fs.readFileSync(raw));
  const t = fromNested(raw);
  return { height: t.shape[0], width: t.shape[1], channels: t.shape[2], data: Uint8Array.from(t.data) };
}

function decodeImage(step, raw) {
  const img = pixelsOf(raw), n = img.height * img.width, bg = step.background;
  const hasAlpha = img.channels === 2 || img.channels === 4, colour = img.channels >= 3;
  const rgb = new Array(n * 3);
  for (let i = 0; i < n; i++) {
    const px = img.data.subarray(i * img.channels, (i + 1) * img.channels);
    const a = hasAlpha ? px[img.channels - 1] : 255;
    for (let c = 0; c < 3; c++) {
      const v = colour ? px[c] : px[0];
      rgb[i * 3 + c] = hasAlpha ? Math.round((v * a + bg[c] * (255 - a)) / 255) : v;
    }
  }
  if (step.mode === 'RGB') return { shape: [img.height, img.width, 3], data: rgb };
  const gray = new Array(n);
  for (let i = 0; i < n; i++) {
    gray[i] = colour || hasAlpha ? (19595 * rgb[i * 3] + 38470 * rgb[i * 3 + 1] + 7471 * rgb[i * 3 + 2] + 32768) >> 16 : rgb[i * 3];
  }
  return { shape: [img.height, img.width, 1], data: gray };
}

// One pass of the document's resize on one axis (the schema's `resize`, to the last bit): n samples -> m.
function coefficients(n, m, bits) {
  const scale = n / m, f = Math.max(scale, 1), inv = 1 / f; // the triangle widens by the scale when shrinking
  const out = [];
  for (let o = 0; o < m; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - f + 0.5), 0), hi = Math.min(Math.trunc(center + f + 0.5), n);
    let ws = [];
    for (let i = lo; i < hi; i++) ws.push(Math.max(0, 1 - Math.abs((i - center + 0.5) * inv)));
    const total = ws.reduce((a, b) => a + b, 0);
    ws = ws.map((w) => Math.trunc((total ? w / total : 0) * 2 ** bits + 0.5));
    out.push({ lo, ws });
  }
  return out;
}

function resamplePass(t, axis, size, bits) {
  const [h, w, c] = t.shape, coeffs = coefficients(axis === 0 ? h : w, size, bits);
  const shape = axis === 0 ? [size, w, c] : [h, size, c], out = new Array(shape[0] * shape[1] * c);
  for (let y = 0; y < shape[0]; y++) for (let x = 0; x < shape[1]; x++) for (let ch = 0; ch < c; ch++) {
    const { lo, ws } = coeffs[axis === 0 ? y : x];
    let sum = 2 ** (bits - 1);
    for (let k = 0; k < ws.length; k++) {
      const src = axis === 0 ? ((lo + k) * w + x) * c + ch : (y * w + lo + k) * c + ch;
      sum += t.data[src] * ws[k];
    }
    out[(y * shape[1] + x) * c + ch] = Math.min(255, Math.max(0, Math.floor(sum / 2 ** bits)));
  }
  return { shape, data: out };
}

function resize(step, t) {
  if (step.filter !== 'bilinear') throw new DocumentError(`resize filter '${step.filter}' is not known to this client`);
  for (const pass of step.passes) { // one axis at a time, in the document's order; each pass's output is 8-bit
    const axis = { height: 0, width: 1 }[pass];
    if (t.shape[axis] !== step[pass]) t = resamplePass(t, axis, step[pass], step.fraction_bits);
  }
  return t;
}

function normalize(step, t) {
  const axis = step.axis < 0 ? t.shape.length + step.axis : step.axis, st = strides(t.shape)[axis];
  return { shape: t.shape, data: t.data.map((p, i) => { const c = Math.floor(i / st) % t.shape[axis]; return (p / step.divisor - step.mean[c]) / step.std[c]; }) };
}

// ------------------------------------------------------------------ text

function replaceLiterals(step, s) {
  let out = '';
  for (let i = 0; i < s.length;) {
    const hit = step.pairs.find(([from]) => from.length && s.startsWith(from, i));
    if (hit) { out += hit[1]; i += hit[0].length; } else { out += s[i]; i += 1; }
  }
  return out;
}

function regexFindall(step, s) {
  if (step.flags !== 'u') throw new DocumentError(`regex flags '${step.flags}' are not known to this client`);
  return s.match(new RegExp(step.pattern, 'gu')) || [];
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function ngramIds(token, g) {
  const chars = Array.from(`<${token}>`), seen = [];
  for (let n = g.n_min; n <= g.n_max; n++) {
    for (let i = 0; i + n <= chars.length; i++) {
      const gram = chars.slice(i, i + n).join('');
      if (!seen.includes(gram)) seen.push(gram);
    }
  }
  const ids = seen.slice(0, g.slots).map((gram) => 1 + (crc32(Buffer.from(gram, 'utf8')) % g.buckets));
  return ids.concat(new Array(g.slots - ids.length).fill(0));
}

function encodeTokens(step, tokens) {
  const index = new Map(step.vocabulary.map((w, i) => [w, i]));
  return tokens.map((t) => {
    const id = index.has(t) ? index.get(t) : step.unknown_id;
    return step.char_ngrams ? [id, ...ngramIds(t, step.char_ngrams)] : id;
  });
}

function pad(step, ids) {
  const width = ids.length && Array.isArray(ids[0]) ? ids[0].length : 0;
  const out = ids.slice();
  while (out.length < step.length) out.push(width ? new Array(width).fill(step.value) : step.value);
  return fromNested(out);
}

// ------------------------------------------------------------------ tables and series

function tableEncode(step, row) {
  const value = (col) => (row[col] === undefined ? missingColumn(col) : row[col]);
  const missing = (col) => { if (step.missing !== 'impute') throw new DocumentError(`missing value in column '${col}'`); };
  const out = [];
  for (const { column, mean, std } of step.numeric) {
    let v = value(column);
    if (v === null) { missing(column); v = mean; }
    if (typeof v === 'string') v = Number(v);
    out.push((v - mean) / std);
  }
  for (const { column, categories, fill } of step.categorical) {
    let v = value(column);
    if (v === null) { missing(column); v = fill; }
    for (const c of categories) out.push(String(v) === c ? 1 : 0);
  }
  return { shape: [out.length], data: out };
}

function missingColumn(col) { throw new DocumentError(`the row lacks column '${col}'`); }

function seriesWindow(step, prices, ctx) {
  if (prices.length < step.needs) throw new DocumentError(`${step.needs} prices are needed, got ${prices.length}`);
  const p = prices.slice(-step.needs);
  ctx.lastPrice = p[p.length - 1];
  const f = step.feature === 'price' ? p
    : p.slice(1).map((v, i) => ({ delta: v - p[i], returns: v / p[i] - 1, log_returns: Math.log(v / p[i]) })[step.feature]);
  const x = f.slice(-step.window).map((v) => (v - step.mean) / step.std);
  return { shape: [x.length, 1], data: x };
}

// ------------------------------------------------------------------ the document

const OPS = {
  decode_image: decodeImage,
  resize,
  normalize,
  transpose: (s, t) => transpose(t, s.perm),
  reshape: (s, t) => reshape(t, s.shape),
  lowercase: (s, text) => text.toLowerCase(),
  replace_literals: replaceLiterals,
  regex_findall: regexFindall,
  truncate: (s, tokens) => tokens.slice(0, s.length),
  encode_tokens: encodeTokens,
  pad,
  table_encode: tableEncode,
  series_window: seriesWindow,
};

function preprocess(doc, raw) {
  const ctx = {};
  let value = raw;
  if (doc.raw_input.type === 'numbers') value = fromNested(raw);
  for (const step of doc.steps) {
    const op = OPS[step.op];
    if (!op) throw new DocumentError(`step '${step.op}' is not known to this client`);
    value = op(step, value, ctx);
  }
  return { tensor: value, ctx };
}

const POST = {
  softmax: (s, o) => { const m = Math.max(...o), e = o.map((v) => Math.exp(v - m)), z = e.reduce((a, b) => a + b, 0); return e.map((v) => v / z); },
  sigmoid: (s, o) => { const p = 1 / (1 + Math.exp(-o[0])); return [1 - p, p]; },
  affine: (s, o) => o[0] * s.scale + s.shift,
  price: (s, o, ctx) => {
    const v = o[0] * s.scale + s.shift;
    return { price: v, delta: ctx.lastPrice + v, returns: ctx.lastPrice * (1 + v), log_returns: ctx.lastPrice * Math.exp(v) }[s.target];
  },
};

async function predict(doc, session, raws, batch = 256) {
  const post = POST[doc.postprocess.op];
  if (!post) throw new DocumentError(`postprocess '${doc.postprocess.op}' is not known to this client`);
  const results = [];
  for (let start = 0; start < raws.length; start += batch) {
    const items = raws.slice(start, start + batch).map((r) => preprocess(doc, r));
    const shape = [items.length, ...items[0].tensor.shape];
    const flat = items.flatMap((it) => it.tensor.data);
    const tensor = doc.input.dtype === 'int64'
      ? new ort.Tensor('int64', BigInt64Array.from(flat.map((v) => BigInt(v))), shape)
      : new ort.Tensor('float32', Float32Array.from(flat), shape);
    const out = (await session.run({ [doc.input.name]: tensor }))[doc.output.name];
    const k = out.dims[1];
    items.forEach((it, i) => {
      const o = Array.from(out.data.slice(i * k, (i + 1) * k));
      results.push({ model_input: it.tensor.data, output: o, answer: post(doc.postprocess, o, it.ctx) });
    });
  }
  return results;
}

function differs(got, want, tol, exact) {
  const g = [].concat(got).flat(Infinity), w = [].concat(want).flat(Infinity);
  if (g.length !== w.length) return `length ${g.length} != ${w.length}`;
  for (let i = 0; i < g.length; i++) {
    if (exact ? g[i] !== w[i] : !(Math.abs(g[i] - w[i]) <= tol)) return `at ${i}: ${g[i]} != ${w[i]}`;
  }
  return null;
}

async function selfTest(doc, session) {
  const { tolerance, cases } = doc.test_vectors, exact = doc.input.dtype === 'int64';
  const got = await predict(doc, session, cases.map((c) => c.raw));
  const failures = [];
  cases.forEach((c, i) => {
    for (const [what, g, w, ex] of [['model_input', got[i].model_input, c.model_input, exact],
      ['output', got[i].output, c.output, false], ['answer', got[i].answer, c.answer, false]]) {
      const why = differs(g, w, tolerance, ex);
      if (why) failures.push({ case: i, raw: c.raw, what, why });
    }
  });
  return { cases: cases.length, failures };
}

async function main(argv) {
  const [docPath, modelPath, inputsPath] = argv;
  if (!docPath || !modelPath) {
    process.stderr.write('usage: node client.js model.preprocessing.json model.onnx [inputs.json]\n');
    return 2;
  }
  const doc = JSON.parse(fs.readFileSync(docPath, 'utf8'));
  if (doc.format !== FORMAT || !VERSIONS.includes(doc.format_version)) {
    throw new DocumentError(`${docPath} is not a ${FORMAT} of version ${VERSIONS.join(', ')}`);
  }
  const session = await ort.InferenceSession.create(modelPath);
  const report = { self_test: await selfTest(doc, session) };
  if (report.self_test.failures.length) {
    process.stdout.write(JSON.stringify(report) + '\n');
    return 1;
  }
  if (inputsPath) {
    const raws = JSON.parse(fs.readFileSync(inputsPath, 'utf8'));
    report.predictions = await predict(doc, session, raws);
  }
  process.stdout.write(JSON.stringify(report) + '\n');
  return 0;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => {
  process.stderr.write(`error: ${e.message}\n`);
  process.exitCode = e instanceof DocumentError ? 2 : 3;
});
