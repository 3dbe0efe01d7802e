'use strict';
// The images' HEALTHCHECK (Dockerfile, Dockerfile.gpu): exit 0 when the service this container runs answers.
// It reads the container's command (PID 1, `node packages/cli/dist/main.js serve [service...]`):
// - the API (or every service, `serve` alone): GET /healthz on LUMBAR_API_PORT answers 200;
// - the receiver: the DICOM port LUMBAR_DICOM_PORT accepts a TCP connection (closed at once, no association);
// - the worker and the exporter listen on nothing: their process running is all there is to check (they
//   exit when Redis or Postgres is lost for good, and the container restarts).
// No dependency: node only. Usage: node deploy/healthcheck.js [api|receiver|worker|exporter]
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');

const TIMEOUT_MS = 4000;
const SERVICES = ['receiver', 'worker', 'exporter', 'api'];

/** The services the container runs: the argument, else those named after `serve` in PID 1's command line. */
function services() {
  if (process.argv[2]) return [process.argv[2]];
  let args = [];
  try {
    args = fs.readFileSync('/proc/1/cmdline', 'utf8').split('\0').filter(Boolean);
  } catch {
    return SERVICES;
  }
  const at = args.indexOf('serve');
  const named = at >= 0 ? args.slice(at + 1).filter((a) => SERVICES.includes(a)) : [];
  return named.length ? named : SERVICES;
}

/** The address to reach a service that listens on `host`: loopback when it listens on every interface. */
function reach(host) {
  return !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

function apiHealthy() {
  const port = Number(process.env.LUMBAR_API_PORT || 8080);
  return new Promise((resolve) => {
    const req = http.get(
      { host: reach(process.env.LUMBAR_API_HOST), port, path: '/healthz', timeout: TIMEOUT_MS },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200 ? null : `GET /healthz answered ${res.statusCode}`);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in ${TIMEOUT_MS} ms`)));
    req.on('error', (err) => resolve(`GET /healthz on port ${port}: ${err.message}`));
  });
}

function dicomListening() {
  const port = Number(process.env.LUMBAR_DICOM_PORT || 11112);
  return new Promise((resolve) => {
    const sock = net.connect({ host: reach(process.env.LUMBAR_DICOM_HOST), port, timeout: TIMEOUT_MS });
    sock.once('connect', () => {
      sock.end();
      resolve(null);
    });
    sock.once('timeout', () => sock.destroy(new Error(`no connection in ${TIMEOUT_MS} ms`)));
    sock.once('error', (err) => resolve(`DICOM port ${port}: ${err.message}`));
  });
}

async function main() {
  const run = services();
  const checks = [];
  if (run.includes('api')) checks.push(apiHealthy());
  if (run.includes('receiver')) checks.push(dicomListening());
  const problems = (await Promise.all(checks)).filter(Boolean);
  if (problems.length) {
    console.error(`unhealthy: ${problems.join('; ')}`);
    process.exit(1);
  }
  process.exit(0);
}

main();
