/** The library sender's slice size (its `REQUESTS_PER_SLICE`, which it does not export). */
export const REQUESTS_PER_SLICE = 128;

/**
 * Calls `send(index)` for every index below `count` on the library sender's schedule, so that the
 * floors run as it does: a round right away, then one every `interval` on planned times (a late
 * timer does not push the next round back; a run late by a whole interval plans afresh); a
 * round goes out in slices of `slice` calls, each in a timer task of its own, spread over the
 * first quarter of the interval; a round still
 * unfinished when the next is due delays that one until it ends.
 */
export function everyInterval(
  count: number,
  interval: number,
  send: (index: number) => void,
  slice = REQUESTS_PER_SLICE,
): void {
  let sending = false;
  let overdue = false;
  const sendSlice = (start: number) => {
    const end = Math.min(count, start + slice);
    for (let index = start; index < end; index += 1) {
      send(index);
    }
    if (end < count) {
      // Spread over the first quarter of the interval, as the library's sender does.
      setTimeout(sendSlice, overdue ? 0 : Math.floor(interval / 4 / Math.ceil(count / slice)), end);
    } else if (overdue) {
      overdue = false;
      setTimeout(sendSlice, 0, 0);
    } else {
      sending = false;
    }
  };
  let plannedAt = -1;
  const run = () => {
    const now = Date.now();
    if (plannedAt < 0 || now >= plannedAt + interval) {
      plannedAt = now;
    }
    if (sending) {
      overdue = true;
    } else {
      sending = true;
      sendSlice(0);
    }
    plannedAt += interval;
    setTimeout(run, Math.max(0, plannedAt - Date.now()));
  };
  setTimeout(run, 0);
}
