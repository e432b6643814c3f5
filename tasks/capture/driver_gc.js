'use strict';
// Loaded into Playwright's driver (node) by tasks/capture/browser.py through NODE_OPTIONS
// (--require): a full garbage collection whenever the driver's heap has grown GROWTH_MB past the
// level the last one left.
//
// Every screenshot, printed PDF and recorded HAR passes through the driver as one large string
// and is garbage right after. V8 sizes when it next collects from the machine's memory, so the
// driver's heap rose from about 30 MB of live objects by 2 MB a second during a round, to some
// 80 MB of garbage before V8 collected it (measured at 2 captures at once): memory that grew with
// the length of the round. Collected at 16 MB, the driver stays level.
const GROWTH_MB = 16;
const CHECK_EVERY_MS = 1000;

// V8's collector, made reachable here only (--expose-gc in NODE_OPTIONS is refused by a node
// older than 22.3); nothing else in the driver sees a global gc.
function collector() {
  try {
    require('v8').setFlagsFromString('--expose-gc');
    return require('vm').runInNewContext('gc');
  } catch (e) {
    return null; // the driver runs as it would without this file
  }
}

const collect = collector();
if (typeof collect === 'function') {
  let floor = process.memoryUsage().heapUsed;
  setInterval(() => {
    const used = process.memoryUsage().heapUsed;
    if (used - floor > GROWTH_MB * 2 ** 20) {
      collect();
      floor = process.memoryUsage().heapUsed;
    } else {
      floor = Math.min(floor, used); // V8 collected by itself meanwhile
    }
  }, CHECK_EVERY_MS).unref(); // never what keeps the driver running
}
