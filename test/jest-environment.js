// Jest runs each test file in its own realm, so a Float32Array made by the test is not `instanceof` the
// Float32Array of native addons such as onnxruntime-node (they check the main realm's constructors).
// This environment hands the test realm the main realm's typed array constructors and ArrayBuffer.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'DataView',
  'Float32Array',
  'Float64Array',
  'Int8Array',
  'Int16Array',
  'Int32Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Uint16Array',
  'Uint32Array',
  'BigInt64Array',
  'BigUint64Array',
];

class LumbarEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = LumbarEnvironment;
