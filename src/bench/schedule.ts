/** The library sender's slice size (its `REQUESTS_PER_SLICE`, which it does not export). */
export const REQUESTS_PER_SLICE = 128;
/** The fewest requests a slice of a spread round carries (the library's `MIN_SLICE`). */
const MIN_SLICE = 16;

/**
 * Calls `send(index)` for every index below `count` on the library sender's schedule, so that the
 * floors run as it does: a round right away, then one every `interval` on planned times (a late
 * timer does not push the next round back; a run late by a whole interval plans afresh); a
 * round of more than 128 goes out in slices of 16 to 128 calls, each in a timer task of its own,
 * spread over the first quarter of the interval; a round still
 * unfinished when the next is due delays that one until it ends.
 */
export function everyInterval(
  count: number,
  interval: number,
  send: (index: number) => void,
  { burst = false } = {},
): void {
  const spreadMs = interval / 4;
  // As the library's sender: one slice for a small round, else slices of 16 to 128 (or, with
  // `burst`, the whole round at once, as a terminus poll does).
  const slice =
    burst || count <= REQUESTS_PER_SLICE
      ? Math.max(count, 1)
      : Math.min(REQUESTS_PER_SLICE, Math.max(MIN_SLICE, Math.ceil(count / spreadMs)));
  const gap = Math.floor(spreadMs / Math.ceil(count / slice));
  let sending = false;
  let overdue = false;
  let hurry = false;
  const sendSlice = (start: number) => {
    const end = Math.min(count, start + slice);
    for (let index = start; index < end; index += 1) {
      send(index);
    }
    if (end < count) {
      setTimeout(sendSlice, hurry || overdue ? 0 : gap, end);
    } else if (overdue) {
      overdue = false;
      hurry = true;
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
      hurry = false;
      sendSlice(0);
    }
    plannedAt += interval;
    setTimeout(run, Math.max(0, plannedAt - Date.now()));
  };
  setTimeout(run, 0);
}
