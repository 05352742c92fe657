import { createHash } from 'node:crypto';

/**
 * The dashboard page: one self-contained HTML document with its CSS and vanilla JS inline, no
 * CDN and no front-end build (the tsc build carries it as strings). The page subscribes to
 * `events` (server-sent events, see dashboard.messages.ts) and renders what they push; between
 * pushes it only re-renders the time since each heartbeat, from the server's clock as the last
 * message told it. Every piece of data reaches the DOM through `textContent` or an attribute,
 * never as markup; the Content-Security-Policy below allows no other script or style anyway.
 */

const STYLE = `
:root { color-scheme: light; --ok: #1a7f37; --late: #9a6700; --bad: #cf222e; --muted: #656d76;
  --line: #d0d7de; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1f2328; background: #fff; }
header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; padding: 16px 24px;
  border-bottom: 1px solid var(--line); background: var(--bg); }
h1 { margin: 0; font-size: 18px; }
h2 { margin: 24px 0 8px; font-size: 15px; }
main { padding: 0 24px 24px; }
.muted { color: var(--muted); }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
#connection { padding: 2px 10px; border-radius: 999px; font-size: 12px; font-weight: 600;
  background: #eaeef2; }
#connection[data-state="live"] { background: #dafbe1; color: var(--ok); }
#connection[data-state="reconnecting"] { background: #ffebe9; color: var(--bad); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid var(--line);
  vertical-align: middle; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
td.num { font-variant-numeric: tabular-nums; text-align: right; white-space: nowrap; }
tr.lost td { color: var(--muted); background: #fff8f8; }
tr.lost td.id { text-decoration: line-through; }
.status { font-size: 12px; font-weight: 600; white-space: nowrap; }
.status.up { color: var(--ok); }
.status.lost { color: var(--bad); }
.slot-map { display: flex; flex-wrap: wrap; gap: 3px; max-width: 320px; }
.slot { width: 14px; height: 14px; border-radius: 3px; border: 1px solid #8c959f; background: #fff; }
.slot.allocated { background: #0969da; border-color: #0969da; }
.jobs { font-size: 12px; color: var(--muted); }
.since { display: flex; align-items: center; gap: 8px; justify-content: flex-end; }
.meter { width: 60px; height: 6px; border-radius: 3px; background: #eaeef2; overflow: hidden; }
.meter > div { height: 100%; width: 0; background: var(--ok); }
.since.late .meter > div { background: var(--late); }
.since.critical .meter > div { background: var(--bad); }
.since.critical { color: var(--bad); }
#empty td { color: var(--muted); text-align: center; padding: 20px; }
#timeline { list-style: none; margin: 0; padding: 0; max-height: 320px; overflow: auto;
  border: 1px solid var(--line); border-radius: 6px; }
#timeline li { display: grid; grid-template-columns: 110px minmax(80px, 180px) 1fr; gap: 12px;
  padding: 6px 12px; border-bottom: 1px solid var(--line); }
td.id, #timeline li > span { overflow-wrap: anywhere; }
#timeline li:last-child { border-bottom: 0; }
#timeline li.released .what { color: var(--bad); }
#timeline li.released[data-reason="goodbye"] .what { color: var(--muted); }
#timeline li.registered .what { color: var(--ok); }
`;

// Plain ES2017 for any current browser; kept free of backticks and "${" (it lives in a template).
const SCRIPT = `
'use strict';
(function () {
  var LOST_ROW_MS = 10000;
  var TIMELINE_MAX = 200;
  var RELEASES = {
    timeout: 'lost: heartbeat timeout',
    unreachable: 'lost: unreachable',
    goodbye: 'left (goodbye)',
    replaced: 'replaced by a new registration'
  };
  var offset = 0;
  var heartbeat = { interval: 0, timeout: 0 };
  var pushIntervalMs = 0;
  var rows = new Map();
  var tbody = document.getElementById('task-managers');
  var emptyRow = document.getElementById('empty');
  var timeline = document.getElementById('timeline');
  var connection = document.getElementById('connection');

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = String(text); }
    return node;
  }
  function serverNow() { return Date.now() + offset; }
  function pad(n, width) { var s = String(n); while (s.length < width) { s = '0' + s; } return s; }
  function clock(at) {
    var d = new Date(at);
    return pad(d.getHours(), 2) + ':' + pad(d.getMinutes(), 2) + ':' + pad(d.getSeconds(), 2) +
      '.' + pad(d.getMilliseconds(), 3);
  }
  function releaseText(reason) {
    return Object.prototype.hasOwnProperty.call(RELEASES, reason) ? RELEASES[reason] : 'released: ' + reason;
  }
  function setConnection(state, text) {
    connection.dataset.state = state;
    connection.textContent = text;
  }

  function createRow(tm) {
    var tr = el('tr');
    tr.dataset.taskManager = tm.id;
    tr.dataset.state = 'up';
    var cells = {
      id: el('td', 'id mono'),
      status: el('td'),
      address: el('td', 'mono'),
      slots: el('td', 'num'),
      map: el('td'),
      since: el('td', 'num'),
      rtt: el('td', 'num')
    };
    cells.id.dataset.field = 'id';
    cells.status.dataset.field = 'status';
    cells.address.dataset.field = 'address';
    cells.slots.dataset.field = 'slots';
    cells.map.dataset.field = 'slot-map';
    cells.since.dataset.field = 'since';
    cells.rtt.dataset.field = 'round-trip';
    var statusBadge = el('span', 'status up', 'up');
    cells.status.appendChild(statusBadge);
    var slotMap = el('div', 'slot-map');
    var jobs = el('div', 'jobs');
    cells.map.appendChild(slotMap);
    cells.map.appendChild(jobs);
    var since = el('div', 'since');
    var sinceText = el('span');
    var meter = el('div', 'meter');
    var meterFill = el('div');
    meter.appendChild(meterFill);
    since.appendChild(sinceText);
    since.appendChild(meter);
    cells.since.appendChild(since);
    ['id', 'status', 'address', 'slots', 'map', 'since', 'rtt'].forEach(function (key) {
      tr.appendChild(cells[key]);
    });
    return {
      tm: tm, tr: tr, cells: cells, statusBadge: statusBadge, slotMap: slotMap, jobs: jobs,
      since: since, sinceText: sinceText, meterFill: meterFill, lost: false, removal: 0
    };
  }

  function renderSlots(row) {
    var tm = row.tm;
    row.cells.slots.textContent = tm.freeSlots + ' free / ' + tm.slotsNumber;
    row.slotMap.replaceChildren();
    var jobCounts = new Map();
    tm.slots.forEach(function (slot) {
      var box = el('span', slot.free ? 'slot' : 'slot allocated');
      box.title = 'slot ' + slot.index + (slot.free ? ': free' : ': ' + (slot.jobId || 'allocated'));
      row.slotMap.appendChild(box);
      if (!slot.free) {
        var job = slot.jobId || '(no job)';
        jobCounts.set(job, (jobCounts.get(job) || 0) + 1);
      }
    });
    var parts = [];
    jobCounts.forEach(function (count, job) { parts.push(count > 1 ? job + ' \\u00d7' + count : job); });
    row.jobs.textContent = parts.length ? parts.join(', ') : 'all free';
  }

  function renderRoundTrip(row) {
    row.cells.rtt.textContent = row.tm.roundTripMs === null ? '\\u2014' : row.tm.roundTripMs + ' ms';
  }

  function renderSince(row) {
    if (row.lost) { return; }
    var since = Math.max(0, serverNow() - row.tm.lastHeartbeat);
    row.sinceText.textContent = since + ' ms';
    var timeout = heartbeat.timeout || 1;
    row.meterFill.style.width = Math.min(100, (since / timeout) * 100) + '%';
    // Late: a heartbeat missed, beyond what the coalescing of the pushes delays; critical: half the timeout.
    var late = 2 * heartbeat.interval + pushIntervalMs;
    row.since.classList.toggle('critical', since >= timeout / 2);
    row.since.classList.toggle('late', since >= late && since < timeout / 2);
  }

  function render(row) {
    row.cells.id.textContent = row.tm.id;
    row.cells.address.textContent = row.tm.address;
    renderSlots(row);
    renderRoundTrip(row);
    renderSince(row);
  }

  function updateEmpty() {
    emptyRow.hidden = rows.size > 0;
    var live = 0, free = 0, total = 0;
    rows.forEach(function (row) {
      if (!row.lost) { live += 1; free += row.tm.freeSlots; total += row.tm.slotsNumber; }
    });
    document.getElementById('summary').textContent =
      live + (live === 1 ? ' TaskManager' : ' TaskManagers') + ', ' + free + ' of ' + total + ' slots free';
  }

  function removeRow(id) {
    var row = rows.get(id);
    if (!row) { return; }
    clearTimeout(row.removal);
    row.tr.remove();
    rows.delete(id);
  }

  function upsert(tm) {
    removeRow(tm.id);
    var row = createRow(tm);
    rows.set(tm.id, row);
    tbody.appendChild(row.tr);
    render(row);
  }

  function markLost(id, reason) {
    var row = rows.get(id);
    if (!row || row.lost) { return; }
    row.lost = true;
    row.tr.classList.add('lost');
    row.tr.dataset.state = 'lost';
    row.tr.dataset.reason = reason;
    row.statusBadge.className = 'status lost';
    row.statusBadge.textContent = releaseText(reason);
    row.sinceText.textContent = '\\u2014';
    row.meterFill.style.width = '0';
    row.removal = setTimeout(function () { removeRow(id); updateEmpty(); }, LOST_ROW_MS);
  }

  function addEntry(entry) {
    var li = el('li', entry.kind);
    li.dataset.taskManager = entry.taskManagerId;
    li.dataset.kind = entry.kind;
    li.appendChild(el('span', 'muted mono', clock(entry.at)));
    li.appendChild(el('span', 'mono', entry.taskManagerId));
    var what;
    if (entry.kind === 'registered') {
      what = 'registered from ' + entry.address + ' with ' + entry.slotsNumber +
        (entry.slotsNumber === 1 ? ' slot' : ' slots');
    } else {
      li.dataset.reason = entry.reason;
      what = releaseText(entry.reason);
    }
    li.appendChild(el('span', 'what', what));
    timeline.insertBefore(li, timeline.firstChild);
    while (timeline.childElementCount > TIMELINE_MAX) { timeline.lastElementChild.remove(); }
  }

  var handlers = {
    snapshot: function (message) {
      rows.forEach(function (row) { clearTimeout(row.removal); row.tr.remove(); });
      rows.clear();
      heartbeat = message.heartbeat;
      pushIntervalMs = message.pushIntervalMs;
      document.getElementById('resource-manager').textContent = message.resourceManagerId;
      document.getElementById('settings').textContent =
        'heartbeat every ' + heartbeat.interval + ' ms, timeout ' + heartbeat.timeout + ' ms';
      message.taskManagers.forEach(upsert);
      timeline.replaceChildren();
      message.timeline.forEach(addEntry);
    },
    registered: function (message) {
      upsert(message.taskManager);
      addEntry(message.entry);
    },
    released: function (message) {
      markLost(message.taskManagerId, message.reason);
      addEntry(message.entry);
    },
    heartbeats: function (message) {
      message.taskManagers.forEach(function (update) {
        var row = rows.get(update.id);
        if (!row || row.lost) { return; }
        row.tm.lastHeartbeat = update.lastHeartbeat;
        row.tm.roundTripMs = update.roundTripMs;
        row.tm.freeSlots = update.freeSlots;
        if (update.slots) { row.tm.slots = update.slots; }
        renderSlots(row);
        renderRoundTrip(row);
        renderSince(row);
      });
    }
  };

  var source = new EventSource('events');
  source.onopen = function () { setConnection('live', 'live'); };
  source.onerror = function () { setConnection('reconnecting', 'reconnecting\\u2026'); };
  Object.keys(handlers).forEach(function (type) {
    source.addEventListener(type, function (event) {
      var message = JSON.parse(event.data);
      offset = message.now - Date.now();
      handlers[type](message);
      updateEmpty();
    });
  });
  // The page's own clock: only the time since each heartbeat moves between pushes.
  setInterval(function () { rows.forEach(renderSince); }, 100);
  updateEmpty();
})();
`;

const BODY = `
<header>
  <h1>ResourceManager <span id="resource-manager" class="mono">\u2026</span></h1>
  <span id="connection" data-state="connecting">connecting\u2026</span>
  <span id="settings" class="muted"></span>
  <span id="summary" class="muted"></span>
</header>
<main>
  <h2>TaskManagers</h2>
  <table>
    <thead>
      <tr>
        <th>TaskManager</th><th>Status</th><th>Address</th><th class="num">Slots</th>
        <th>Slot map and jobs</th><th class="num">Since last heartbeat</th><th class="num">Round trip</th>
      </tr>
    </thead>
    <tbody id="task-managers">
      <tr id="empty"><td colspan="7">No TaskManager registered</td></tr>
    </tbody>
  </table>
  <h2>Registrations and losses <span class="muted">(newest first)</span></h2>
  <ol id="timeline"></ol>
</main>
`;

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ResourceManager dashboard</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${SCRIPT}</script>
</body>
</html>
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Only this page's own inline script and style run, and it may only talk to its own origin. */
export const DASHBOARD_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
