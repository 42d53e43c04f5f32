// Catena's dashboard page (docs/dashboard.md). Once a second it reads GET /cluster from one node's
// admin port and redraws: the chains with their members in order, the slot map and a move's
// progress, each node's throughput and latency over the last minutes (hand-drawn SVG), and the
// events the node logged. It remembers every node's admin address from those documents; when the
// node it reads stops answering it tries the others in turn and follows the first that answers.
//
// The admin token, when the cluster has one, is taken from the fragment (#token=..., which a
// browser never sends to a server, so no log holds it) or typed into the form, kept in this tab's
// sessionStorage, and sent as a bearer header. Everything shown is built with DOM calls and
// textContent: nothing a node sends is parsed as HTML.

const pollIntervalMs = 1000;
const fetchTimeoutMs = 2500;
const seriesSecondsMax = 300;
const addressesKeptMax = 64;
const eventsShownMax = 100;
/** How long the note saying why the page moved to another node stays up. */
const followNoteMs = 60_000;
const slotCount = 16384;
const tokenKey = 'catena.adminToken';

const chainColors = ['#3182ce', '#dd6b20', '#38a169', '#805ad5', '#d53f8c', '#319795', '#b7791f', '#718096'];
const nodeColors = [
  '#2b6cb0',
  '#c05621',
  '#2f855a',
  '#6b46c1',
  '#b83280',
  '#2c7a7b',
  '#975a16',
  '#4a5568',
  '#e53e3e',
  '#00a3c4',
  '#68d391',
  '#f6ad55',
];

const state = {
  /** Admin base URLs (scheme://host:port) known, this page's own first. */
  bases: [location.origin],
  /** The base read last (successfully). */
  current: location.origin,
  token: readToken(),
  /** When the last document arrived, per base (to ask only for the seconds missing). */
  readAtMs: new Map(),
  /** Series per node id, merged across polls: [{atMs, ops, errors, p50Us, p99Us}]. */
  series: new Map(),
  seriesErrors: new Map(),
  document: null,
  /** Why the previous node was left, shown until it answers again. */
  followedFrom: null,
  followedAtMs: 0,
  needsToken: false,
};

// ---- the admin token -------------------------------------------------------------------------

function readToken() {
  const match = /^#token=(.+)$/.exec(location.hash);
  if (match !== null) {
    sessionStorage.setItem(tokenKey, decodeURIComponent(match[1]));
    history.replaceState(null, '', location.pathname + location.search); // out of the address bar and history
  }
  return sessionStorage.getItem(tokenKey);
}

document.getElementById('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = document.getElementById('token-input').value.trim();
  if (value === '') return;
  sessionStorage.setItem(tokenKey, value);
  state.token = value;
  state.needsToken = false;
  document.getElementById('token-form').hidden = true;
  void poll();
});

// ---- polling and following -------------------------------------------------------------------

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function fetchCluster(base) {
  const last = state.readAtMs.get(base);
  const seconds =
    last === undefined ? seriesSecondsMax : Math.min(seriesSecondsMax, Math.ceil((Date.now() - last) / 1000) + 2);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), fetchTimeoutMs);
  try {
    const headers = state.token === null ? {} : { authorization: `Bearer ${state.token}` };
    const response = await fetch(`${base}/cluster?seconds=${seconds}`, {
      headers,
      signal: controller.signal,
      cache: 'no-store',
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new HttpError(response.status, body.error ?? `HTTP ${response.status}`);
    return body;
  } catch (error) {
    if (error.name === 'AbortError') throw new Error(`no answer within ${fetchTimeoutMs} ms`, { cause: error });
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Reads the current node, else each other known node in turn; the first that answers becomes current. */
async function poll() {
  const order = [state.current, ...state.bases.filter((base) => base !== state.current)];
  const failures = [];
  const reasons = [];
  for (const base of order) {
    try {
      const doc = await fetchCluster(base);
      if (base !== state.current) {
        state.followedFrom = `${hostOf(state.current)} stopped answering (${reasons[0] ?? 'no answer'})`;
        state.followedAtMs = Date.now();
      } else if (state.followedFrom !== null && Date.now() - state.followedAtMs > followNoteMs) {
        state.followedFrom = null;
      }
      state.current = base;
      state.readAtMs.set(base, Date.now());
      accept(doc);
      return;
    } catch (error) {
      if (error instanceof HttpError && (error.status === 401 || error.status === 403)) {
        state.needsToken = true;
        renderConnection('unreachable', error.message);
        document.getElementById('token-form').hidden = false;
        return;
      }
      failures.push(`${hostOf(base)}: ${error.message}`);
      reasons.push(error.message);
    }
  }
  renderConnection('unreachable', `no node answers: ${failures.join('; ')}`);
}

function hostOf(base) {
  return base.replace(/^https?:\/\//, '');
}

/** Remembers the nodes' admin addresses and merges the series, then redraws. */
function accept(doc) {
  const scheme = location.protocol;
  for (const node of doc.nodes) {
    if (node.admin === '') continue;
    const base = `${scheme}//${node.admin}`;
    if (!state.bases.includes(base)) state.bases.push(base);
  }
  if (state.bases.length > addressesKeptMax) state.bases.splice(1, state.bases.length - addressesKeptMax);
  mergeSeries(doc);
  state.document = doc;
  render(doc);
}

function mergeSeries(doc) {
  const newestMs = doc.generatedAtMs;
  for (const [nodeId, one] of Object.entries(doc.series)) {
    const kept = state.series.get(nodeId) ?? [];
    const last = kept.at(-1)?.atMs ?? -Infinity;
    const merged = [...kept, ...one.samples.filter((sample) => sample.atMs > last)];
    state.series.set(
      nodeId,
      merged.filter((sample) => sample.atMs >= newestMs - seriesSecondsMax * 1000),
    );
    state.seriesErrors.set(nodeId, one.error);
  }
  for (const nodeId of state.series.keys()) {
    if (!(nodeId in doc.series)) {
      state.series.delete(nodeId);
      state.seriesErrors.delete(nodeId);
    }
  }
}

async function loop() {
  for (;;) {
    const started = Date.now();
    if (!state.needsToken) await poll();
    await new Promise((resolve) => setTimeout(resolve, Math.max(100, pollIntervalMs - (Date.now() - started))));
  }
}

// ---- DOM helpers -----------------------------------------------------------------------------

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null && value !== false) element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const svgNs = 'http://www.w3.org/2000/svg';

function s(tag, attributes = {}, text) {
  const element = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

function replace(id, ...children) {
  document.getElementById(id).replaceChildren(...children.flat());
}

const chainColorOf = (chainId) => chainColors[Number(/\d+$/.exec(chainId)?.[0] ?? 0) % chainColors.length];

function formatUs(us) {
  if (us === null || us === undefined) return '—';
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

const formatClock = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });
const formatNumber = (value) => (value === null || value === undefined ? '—' : String(value));

// ---- rendering -------------------------------------------------------------------------------

function render(doc) {
  const status = doc.status;
  document.getElementById('cluster-name').textContent =
    status.standalone !== null ? 'standalone node' : `cluster “${status.cluster}”`;
  const via = `${doc.servedBy} (${hostOf(state.current)})`;
  renderConnection(
    state.followedFrom === null ? 'live' : 'following',
    `reading ${via} · updated ${formatClock(doc.generatedAtMs)}`,
    doc.servedBy,
  );
  const banner = document.getElementById('banner');
  banner.hidden = state.followedFrom === null;
  banner.textContent = state.followedFrom === null ? '' : `${state.followedFrom}: now reading ${via}.`;
  renderChains(status);
  renderSlots(doc);
  renderPerformance(doc);
  renderEvents(doc);
}

function renderConnection(kind, text, servedBy) {
  const element = document.getElementById('connection');
  element.dataset.state = kind;
  if (servedBy !== undefined) element.dataset.servedBy = servedBy;
  element.replaceChildren(text);
}

const memberColumns = ['role', 'node', 'native', 'epoch', 'last', 'persisted', 'committed', 'lag', 'session', 'reads'];

function memberRow(node, manager) {
  const down = !node.reachable;
  const mark = node.manager || node.nodeId === manager ? ' ★' : '';
  const cells = [
    h('td', { class: 'role' }, node.role),
    h('td', {}, node.nodeId, mark),
    h('td', {}, node.native || '—'),
  ];
  if (down) {
    cells.push(
      h('td', { class: 'error', colspan: 7 }, `unreachable: ${node.error?.code ?? ''} ${node.error?.message ?? ''}`),
    );
  } else {
    const lag = node.lag === null ? '—' : node.lag > 0 ? `+${node.lag}` : String(node.lag);
    cells.push(
      h('td', { class: 'num' }, formatNumber(node.epoch)),
      h('td', { class: 'num' }, formatNumber(node.lastSequence)),
      h('td', { class: 'num' }, formatNumber(node.persistedSequence)),
      h('td', { class: 'num' }, formatNumber(node.committedSequence)),
      h('td', { class: 'num' }, lag),
      h('td', { class: node.sessionConnected ? 'yes' : 'no' }, node.sessionConnected ? 'connected' : 'lost'),
      h('td', { class: node.servingReads ? 'yes' : 'no' }, node.servingReads ? 'yes' : 'no'),
    );
  }
  return h('tr', { 'data-node': node.nodeId, 'data-role': node.role, class: down ? 'down' : undefined }, cells);
}

function flowOf(chain) {
  const parts = [];
  chain.members.forEach((node, i) => {
    if (i > 0) parts.push(h('span', { class: 'arrow' }, '→'));
    parts.push(h('span', { class: `member${node.reachable ? '' : ' down'}`, title: node.role }, node.nodeId));
  });
  if (chain.joining !== null) {
    parts.push(h('span', { class: 'arrow' }, '⇢'));
    parts.push(h('span', { class: 'member joining', title: 'joining' }, `${chain.joining.nodeId} (joining)`));
  }
  return h('div', { class: 'flow' }, parts);
}

function memberTable(nodes, manager) {
  const head = h('thead', {}, h('tr', {}, ...memberColumns.map((column) => h('th', {}, column))));
  const body = h('tbody', {}, ...nodes.map((node) => memberRow(node, manager)));
  return h('div', { class: 'scroll' }, h('table', {}, head, body));
}

function renderChains(status) {
  if (status.standalone !== null) {
    replace('chains', h('div', { class: 'chain', 'data-chain': '' }, memberTable([status.standalone], '')));
    replace('outside');
    return;
  }
  const ranges = new Map();
  for (const range of state.document?.slotMap.ranges ?? []) {
    const text = range.first === range.last ? `${range.first}` : `${range.first}-${range.last}`;
    ranges.set(range.chainId, [...(ranges.get(range.chainId) ?? []), text]);
  }
  const cards = status.chains.map((chain) => {
    const slots =
      chain.slots === null ? '' : `${chain.slots} slots (${(ranges.get(chain.chainId) ?? []).join(', ') || 'none'})`;
    const card = h(
      'article',
      { class: 'chain', 'data-chain': chain.chainId, 'data-epoch': chain.epoch },
      h('h3', {}, `chain ${chain.chainId}`, h('small', {}, `epoch ${chain.epoch}`), h('small', {}, slots)),
      flowOf(chain),
      memberTable(chain.joining === null ? chain.members : [...chain.members, chain.joining], status.manager),
    );
    card.style.setProperty('--chain-color', chainColorOf(chain.chainId));
    return card;
  });
  replace('chains', cards.length > 0 ? cards : h('p', { class: 'muted' }, 'no chain configured yet'));
  replace(
    'outside',
    status.outside.length === 0
      ? []
      : [
          h('h3', {}, 'Spare nodes', h('small', {}, 'in no chain: they join one that needs a node')),
          memberTable(status.outside, status.manager),
        ],
  );
}

function renderSlots(doc) {
  const svg = document.getElementById('slot-map');
  const width = 1000;
  const shapes = [];
  const owned = new Map();
  for (const range of doc.slotMap.ranges) {
    const x = (range.first / slotCount) * width;
    const w = ((range.last - range.first + 1) / slotCount) * width;
    shapes.push(s('rect', { x, y: 4, width: Math.max(w, 0.5), height: 30, fill: chainColorOf(range.chainId) }));
    owned.set(range.chainId, (owned.get(range.chainId) ?? 0) + range.last - range.first + 1);
  }
  const move = doc.move;
  if (move !== null) {
    const x = (move.first / slotCount) * width;
    const w = Math.max(((move.last - move.first + 1) / slotCount) * width, 2);
    shapes.push(
      s('rect', {
        x,
        y: 1,
        width: w,
        height: 36,
        fill: 'none',
        stroke: '#1a202c',
        'stroke-width': 3,
        'stroke-dasharray': '6 3',
      }),
    );
  }
  for (const slot of [0, 4096, 8192, 12288, 16383]) {
    const anchor = slot === 0 ? 'start' : slot === 16383 ? 'end' : 'middle';
    const at = { x: (slot / slotCount) * width, y: 56, 'font-size': 16, fill: '#68717d', 'text-anchor': anchor };
    shapes.push(s('text', at, String(slot)));
  }
  svg.replaceChildren(...shapes);
  document.getElementById('slot-version').textContent =
    doc.slotMap.version === 0 ? 'no slot map yet' : `version ${doc.slotMap.version}`;
  replace(
    'slot-legend',
    [...owned.entries()].map(([chainId, count]) => {
      const swatch = h('span', { class: 'swatch' });
      swatch.style.background = chainColorOf(chainId);
      return h('li', {}, swatch, `${chainId}: ${count} slots`);
    }),
  );
  renderMove(move);
}

function renderMove(move) {
  const element = document.getElementById('move');
  element.hidden = move === null;
  if (move === null) {
    element.replaceChildren();
    delete element.dataset.stage;
    return;
  }
  const done = Math.max(0, move.planned - move.remaining);
  const percent = move.planned > 0 ? Math.round((done / move.planned) * 100) : 0;
  const stage =
    { copy: 'copying', drop: 'dropping the old copy', 'next-batch': 'between batches' }[move.stage] ?? move.stage;
  element.dataset.stage = move.stage;
  element.dataset.percent = String(percent);
  element.replaceChildren(
    h('strong', {}, `Slot move: slots ${move.first}-${move.last} ${move.from} → ${move.to} (${stage})`),
    h('progress', { max: Math.max(move.planned, 1), value: done }),
    h('div', {}, `${percent}% · ${done} of ${move.planned} slots moved, ${move.remaining} to go`),
  );
}

// ---- charts ----------------------------------------------------------------------------------

const chart = { width: 720, height: 200, left: 62, right: 10, top: 10, bottom: 24 };

/** Lines of [atMs, value] points over the last options.spanMs; log scale for latencies. */
function drawChart(svg, lines, options) {
  const nowMs = options.nowMs;
  const spanMs = options.spanMs;
  const t0 = nowMs - spanMs;
  const plotW = chart.width - chart.left - chart.right;
  const plotH = chart.height - chart.top - chart.bottom;
  const values = lines.flatMap((line) => line.points.map(([, v]) => v)).filter((v) => v > 0);
  const shapes = [];
  let y;
  let ticks;
  if (options.log) {
    const low = Math.max(1, Math.min(...values, 100));
    const high = Math.max(...values, low * 10);
    const lo = Math.floor(Math.log10(low));
    const hi = Math.ceil(Math.log10(high));
    y = (v) => chart.top + plotH - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / Math.max(hi - lo, 1)) * plotH;
    ticks = Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i));
  } else {
    const high = niceCeiling(Math.max(...values, 1));
    y = (v) => chart.top + plotH - (v / high) * plotH;
    ticks = [0, high / 4, high / 2, (3 * high) / 4, high];
  }
  const x = (t) => chart.left + ((t - t0) / (nowMs - t0)) * plotW;
  for (const tick of ticks) {
    shapes.push(
      s('line', { x1: chart.left, x2: chart.width - chart.right, y1: y(tick), y2: y(tick), stroke: '#edf0f3' }),
    );
    shapes.push(s('text', { x: chart.left - 6, y: y(tick) + 4, 'text-anchor': 'end' }, options.format(tick)));
  }
  const stepMs = spanMs / 6;
  for (let i = 6; i >= 0; i--) {
    const agoS = Math.round((i * stepMs) / 1000);
    const label = i === 0 ? 'now' : agoS % 60 === 0 ? `-${agoS / 60} min` : `-${agoS} s`;
    const anchor = i === 6 ? 'start' : i === 0 ? 'end' : 'middle';
    shapes.push(s('text', { x: x(nowMs - i * stepMs), y: chart.height - 6, 'text-anchor': anchor }, label));
  }
  shapes.push(s('line', { x1: chart.left, x2: chart.left, y1: chart.top, y2: chart.top + plotH, stroke: '#a0aec0' }));
  for (const line of lines) {
    const points = line.points.filter(([t]) => t >= t0);
    if (points.length === 0) continue;
    const d = points.map(([t, v], i) => `${i === 0 ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const attributes = { d, fill: 'none', stroke: line.color, 'stroke-width': 1.6, 'data-node': line.nodeId };
    if (line.dashed) attributes['stroke-dasharray'] = '4 3';
    shapes.push(s('path', attributes));
  }
  svg.replaceChildren(...shapes);
}

function formatRate(value) {
  if (value >= 1000) return `${(value / 1000).toFixed(value >= 10_000 ? 0 : 1)}k/s`;
  return `${Number.isInteger(value) ? value : value.toFixed(1)}/s`;
}

function niceCeiling(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function renderPerformance(doc) {
  const nodeIds = [...state.series.keys()].sort();
  const colorOf = new Map(nodeIds.map((id, i) => [id, nodeColors[i % nodeColors.length]]));
  const nowMs = doc.generatedAtMs;
  // The last minute on a young cluster, growing by whole minutes to the five minutes kept.
  const oldestMs = Math.min(nowMs, ...nodeIds.map((id) => state.series.get(id)[0]?.atMs ?? nowMs));
  const spanMs = Math.min(seriesSecondsMax, Math.max(60, Math.ceil((nowMs - oldestMs) / 60_000) * 60)) * 1000;
  drawChart(
    document.getElementById('ops-chart'),
    nodeIds.map((id) => ({
      nodeId: id,
      color: colorOf.get(id),
      points: state.series.get(id).map((p) => [p.atMs, p.ops]),
    })),
    { nowMs, spanMs, log: false, format: formatRate },
  );
  drawChart(
    document.getElementById('latency-chart'),
    nodeIds.flatMap((id) => [
      {
        nodeId: id,
        color: colorOf.get(id),
        points: state.series
          .get(id)
          .filter((p) => p.ops > 0)
          .map((p) => [p.atMs, p.p99Us]),
      },
      {
        nodeId: id,
        color: colorOf.get(id),
        dashed: true,
        points: state.series
          .get(id)
          .filter((p) => p.ops > 0)
          .map((p) => [p.atMs, p.p50Us]),
      },
    ]),
    { nowMs, spanMs, log: true, format: formatUs },
  );
  const roles = roleOfNodes(doc.status);
  const rows = nodeIds.map((id) => {
    const last = state.series.get(id).at(-1);
    const swatch = h('span', { class: 'swatch' });
    swatch.style.background = colorOf.get(id);
    const error = state.seriesErrors.get(id);
    return h(
      'tr',
      { 'data-node': id },
      h('td', {}, swatch, id),
      h('td', {}, roles.get(id) ?? '—'),
      h('td', { class: 'num' }, last === undefined ? '—' : `${last.ops}/s`),
      h('td', { class: 'num' }, last === undefined || last.ops === 0 ? '—' : formatUs(last.p50Us)),
      h('td', { class: 'num' }, last === undefined || last.ops === 0 ? '—' : formatUs(last.p99Us)),
      h('td', { class: 'num' }, last === undefined ? '—' : `${last.errors}/s`),
      // Why the series is stale (the node did not answer /series) is in the cell's tooltip.
      h('td', { class: 'no', title: error ?? undefined }, error === null ? '' : 'stale'),
    );
  });
  replace(
    'nodes-table',
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['node', 'chain · role', 'now', 'p50', 'p99', 'errors', ''].map((c) => h('th', {}, c)),
      ),
    ),
    h('tbody', {}, rows),
  );
}

function roleOfNodes(status) {
  const roles = new Map();
  if (status.standalone !== null) roles.set(status.standalone.nodeId, 'standalone');
  for (const chain of status.chains) {
    for (const node of chain.members) roles.set(node.nodeId, `${chain.chainId} · ${node.role}`);
    if (chain.joining !== null) roles.set(chain.joining.nodeId, `${chain.chainId} · joining`);
  }
  for (const node of status.outside) roles.set(node.nodeId, 'spare');
  return roles;
}

function renderEvents(doc) {
  document.getElementById('events-source').textContent = `as ${doc.servedBy} saw them, newest first`;
  const events = doc.events.slice(-eventsShownMax).reverse();
  replace(
    'events',
    events.length === 0
      ? h('li', { class: 'muted' }, 'nothing yet')
      : events.map((event) =>
          h(
            'li',
            { 'data-kind': event.kind, 'data-chain': event.chainId, 'data-node': event.nodeId },
            h('time', { datetime: new Date(event.atMs).toISOString() }, formatClock(event.atMs)),
            h('span', { class: 'kind' }, event.kind),
            event.text,
          ),
        ),
  );
}

void loop();
