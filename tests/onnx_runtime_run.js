// Runs an ONNX file in ONNX Runtime (onnxruntime-node, which ./run.sh installs into the build's
// npm/ folder) on a float32 .npy batch and writes the first output as a float32 .npy:
//   node tests/onnx_runtime_run.js model.onnx input.npy output.npy
// Prints the input's and output's names and shapes. Exits 1 with the reason on any failure.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

// A little-endian float32 .npy (format 1.0-3.0, C order) as {shape, data}.
function readNpy(path) {
  const bytes = fs.readFileSync(path);
  if (bytes.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = bytes[6];
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = bytes.toString('latin1', headerStart, headerStart + headerLength);
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`${path}: not little-endian float32: ${header}`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${path}: Fortran order`);
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').map(s => s.trim()).filter(s => s).map(Number);
  const offset = headerStart + headerLength;
  const count = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  for (let i = 0; i < count; ++i) data[i] = bytes.readFloatLE(offset + 4 * i);
  return {shape, data};
}

function writeNpy(path, shape, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.alloc(4 * data.length);
  for (let i = 0; i < data.length; ++i) body.writeFloatLE(data[i], 4 * i);
  fs.writeFileSync(path, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
}

async function main() {
  const [model, inputPath, outputPath] = process.argv.slice(2);
  if (!outputPath) throw new Error('usage: node onnx_runtime_run.js model.onnx input.npy output.npy');
  const session = await ort.InferenceSession.create(model, {graphOptimizationLevel: 'all'});
  const input = readNpy(inputPath);
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', input.data, input.shape)};
  const results = await session.run(feeds);
  const output = results[session.outputNames[0]];
  writeNpy(outputPath, output.dims, output.data);
  console.log(`onnxruntime ${ort.env.versions.node}: ${session.inputNames[0]} [${input.shape}] -> ` +
              `${session.outputNames[0]} [${output.dims}]`);
}

main().catch(error => {
  console.error(String(error && error.stack || error));
  process.exit(1);
});
