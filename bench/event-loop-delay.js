// Preloaded into node processes (NODE_OPTIONS="--require ./bench/event-loop-delay.js"): measures how late the
// event loop runs its timers (perf_hooks.monitorEventLoopDelay, 1 ms resolution) over the process's life and,
// when it exits, appends one line per process to $EVENT_LOOP_LOG (default: event-loop-delay.log in the system's
// temp folder): pid, arguments, p50 / p99 / p99.9 / max in ms. A blocked loop (a slow synchronous call, a long
// garbage collection) shows in the tail. Example, the receiver under the ingest bench:
//   NODE_OPTIONS="--require $PWD/bench/event-loop-delay.js" bash bench/bench-receiver.sh 3 3
//   grep 'serve receiver' /tmp/event-loop-delay.log
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { monitorEventLoopDelay } = require('node:perf_hooks');

const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
const logPath = process.env.EVENT_LOOP_LOG || path.join(os.tmpdir(), 'event-loop-delay.log');
process.on('exit', () => {
  const ms = (ns) => (ns / 1e6).toFixed(1);
  const q = (p) => ms(histogram.percentile(p));
  const line =
    `${process.pid} ${process.argv.slice(2).join(' ')}: p50 ${q(50)} p99 ${q(99)} p99.9 ${q(99.9)} ` +
    `max ${ms(histogram.max)} ms over ${histogram.count} samples\n`;
  try {
    fs.appendFileSync(logPath, line);
  } catch {
    /* a measurement never fails the process it measures */
  }
});
