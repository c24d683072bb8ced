#!/usr/bin/env node
// tfjs_ref.js: runs an original TF.js graph model with the pure-JavaScript
// CPU backend of @tensorflow/tfjs, as the reference for vigil's converted
// ONNX models. No network: model.json and its weight shards are read from
// disk and handed to tf.loadGraphModel through an in-memory IOHandler.
//
//   NODE_PATH=$VIGIL_CACHE/node/node_modules \
//   node tfjs_ref.js MODEL.json OUTDIR TFNAME=OUTNAME... -- INPUT.f32:d0,d1,... ...
//
// For each INPUT (raw little-endian float32, shape given after ':') it writes
// OUTDIR/<k>/OUTNAME.f32 (raw float32, row-major; k = 0, 1, ... in input order)
// and OUTDIR/<k>/shapes.json ({"OUTNAME": [dims...], ...}).
// Exit status 0 on success, 1 with a message on stderr otherwise.
'use strict';

const fs = require('fs');
const path = require('path');

function die(msg) {
  process.stderr.write('tfjs_ref: ' + msg + '\n');
  process.exit(1);
}

function parseArgs(argv) {
  const sep = argv.indexOf('--');
  if (argv.length < 4 || sep < 3 || sep === argv.length - 1) {
    die('usage: tfjs_ref.js MODEL.json OUTDIR TFNAME=OUTNAME... -- INPUT.f32:d0,d1,...');
  }
  const outputs = argv.slice(2, sep).map((s) => {
    const eq = s.indexOf('=');
    if (eq <= 0) die(`bad output mapping '${s}' (want TFNAME=OUTNAME)`);
    return { tf: s.slice(0, eq), name: s.slice(eq + 1) };
  });
  const inputs = argv.slice(sep + 1).map((s) => {
    const colon = s.lastIndexOf(':');
    if (colon <= 0) die(`bad input '${s}' (want FILE:d0,d1,...)`);
    const dims = s.slice(colon + 1).split(',').map(Number);
    if (dims.some((d) => !Number.isInteger(d) || d <= 0)) die(`bad shape in '${s}'`);
    return { file: s.slice(0, colon), dims };
  });
  return { model: argv[0], outdir: argv[1], outputs, inputs };
}

function readArtifacts(modelPath) {
  const json = JSON.parse(fs.readFileSync(modelPath, 'utf8'));
  const dir = path.dirname(modelPath);
  const specs = [];
  const buffers = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
    specs.push(...group.weights);
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return {
    modelTopology: json.modelTopology,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    signature: json.signature,
    userDefinedMetadata: json.userDefinedMetadata,
    weightSpecs: specs,
    weightData,
  };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const tf = require('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  await tf.ready();
  const artifacts = readArtifacts(args.model);
  const handler = { load: async () => artifacts };
  const model = await tf.loadGraphModel(handler);

  for (let k = 0; k < args.inputs.length; k++) {
    const inp = args.inputs[k];
    const buf = fs.readFileSync(inp.file);
    const count = inp.dims.reduce((a, b) => a * b, 1);
    if (buf.byteLength !== count * 4) {
      die(`${inp.file}: ${buf.byteLength} bytes, shape [${inp.dims}] needs ${count * 4}`);
    }
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(i * 4);
    const x = tf.tensor(data, inp.dims, 'float32');
    let ys = model.execute(x, args.outputs.map((o) => o.tf));
    if (!Array.isArray(ys)) ys = [ys];
    const dir = path.join(args.outdir, String(k));
    fs.mkdirSync(dir, { recursive: true });
    const shapes = {};
    for (let i = 0; i < ys.length; i++) {
      const v = ys[i].dataSync();
      const out = Buffer.alloc(v.length * 4);
      for (let j = 0; j < v.length; j++) out.writeFloatLE(v[j], j * 4);
      fs.writeFileSync(path.join(dir, args.outputs[i].name + '.f32'), out);
      shapes[args.outputs[i].name] = ys[i].shape;
    }
    fs.writeFileSync(path.join(dir, 'shapes.json'), JSON.stringify(shapes) + '\n');
    tf.dispose([x, ...ys]);
  }
}

main().catch((e) => die(e && e.stack ? e.stack : String(e)));
