'use strict';
// Loaded into Playwright's driver (node) by tasks/capture/browser.py, with --expose-gc, through
// NODE_OPTIONS: a full garbage collection whenever the driver's heap has grown GROWTH_MB past what
// the last one left.
//
// Every screenshot, printed PDF and recorded HAR passes through the driver as one large string
// and is garbage right after. V8 sizes when it next collects from the machine's memory, so the
// driver's heap rose from about 30 MB of live objects by 2 MB a second during a round, to some
// 80 MB of garbage before V8 collected it (measured at 2 captures at once): memory that grew with
// the length of the round. Collected at 16 MB, the driver stays level.
const GROWTH_MB = 16;
const CHECK_EVERY_MS = 1000;

if (typeof gc === 'function') {
  let floor = process.memoryUsage().heapUsed;
  setInterval(() => {
    const used = process.memoryUsage().heapUsed;
    if (used - floor > GROWTH_MB * 2 ** 20) {
      gc();
      floor = process.memoryUsage().heapUsed;
    } else {
      floor = Math.min(floor, used); // V8 collected by itself meanwhile
    }
  }, CHECK_EVERY_MS).unref(); // never what keeps the driver running
}
