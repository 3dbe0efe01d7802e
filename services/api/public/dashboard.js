/* global window, document, Node */
// lumbar-ai operator dashboard: reads /dashboard/summary every 5 s with the key of this tab (window.lumbar,
// set up by the page). Text goes in with textContent, never as HTML; key images come as blobs (they need the key).
(() => {
  'use strict';
  const L = window.lumbar;
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 5000;
  const images = new Map(); // "study/n" -> object URL
  let timer = null;
  let busy = false;

  function el(tag, props = {}, children = []) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'text') e.textContent = v === null || v === undefined ? '' : String(v);
      else if (k === 'class') e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.appendChild(c);
    return e;
  }

  function row(table, cells, head) {
    const tr = table.insertRow();
    for (const c of cells) {
      const td = c instanceof Node ? el(head ? 'th' : 'td', {}, [c]) : el(head ? 'th' : 'td', { text: c });
      tr.appendChild(td);
    }
    return tr;
  }

  function counts(table, obj, badKeys) {
    table.replaceChildren();
    row(table, Object.keys(obj), true);
    const tr = row(table, Object.values(obj));
    Object.keys(obj).forEach((k, i) => {
      if (badKeys.includes(k) && obj[k] > 0) tr.cells[i].className = 'bad';
    });
  }

  const isAdmin = (s) => s.viewer.scopes.includes('admin');

  async function retry(id, button) {
    button.disabled = true;
    $('msg').textContent = 'Retrying export ' + id + '...';
    try {
      const r = await L.api(L.root + '/exports/' + id + '/retry', { method: 'POST' });
      const body = await r.json().catch(() => ({}));
      $('msg').textContent = r.ok
        ? 'Export ' + id + ' queued again (' + body.export.status + ')'
        : 'Retry of export ' + id + ' refused: ' + (body.message || 'HTTP ' + r.status);
    } catch (e) {
      $('msg').textContent = 'Retry of export ' + id + ' failed: ' + e.message;
    }
    refresh();
  }

  function retryButton(s, id) {
    if (!isAdmin(s)) return el('span', { class: 'muted', text: 'admin key to retry' });
    const b = el('button', { type: 'button', class: 'retry', 'data-export': String(id), text: 'Retry' });
    b.addEventListener('click', () => retry(id, b));
    return b;
  }

  function timeline(hours) {
    const NS = 'http://www.w3.org/2000/svg';
    const W = 24 * 36,
      H = 120,
      max = Math.max(1, ...hours.flatMap((h) => [h.received, h.analysed, h.exported]));
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('width', String(W));
    svg.setAttribute('height', String(H + 18));
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'studies received, analysed and exported per hour');
    hours.forEach((h, i) => {
      ['received', 'analysed', 'exported'].forEach((k, j) => {
        const v = h[k];
        const bh = Math.round((v / max) * (H - 10));
        const r = document.createElementNS(NS, 'rect');
        r.setAttribute('x', String(i * 36 + 4 + j * 10));
        r.setAttribute('y', String(H - bh));
        r.setAttribute('width', '9');
        r.setAttribute('height', String(bh));
        r.setAttribute('class', k);
        const t = document.createElementNS(NS, 'title');
        t.textContent = h.hour.slice(11, 16) + ' ' + k + ': ' + v;
        r.appendChild(t);
        svg.appendChild(r);
      });
      if (i % 3 === 0) {
        const t = document.createElementNS(NS, 'text');
        t.setAttribute('x', String(i * 36 + 4));
        t.setAttribute('y', String(H + 14));
        t.setAttribute('font-size', '10');
        t.textContent = new Date(h.hour).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
        svg.appendChild(t);
      }
    });
    $('timeline').replaceChildren(svg);
  }

  async function keyImage(studyId, n, title) {
    const id = studyId + '/' + n;
    const img = el('img', { alt: title, 'data-key-image': id });
    const fig = el('figure', {}, [img, el('figcaption', { text: title })]);
    if (images.has(id)) img.src = images.get(id);
    else {
      L.api(L.root + '/studies/' + studyId + '/key-images/' + n + '.png')
        .then((r) => (r.ok ? r.blob() : Promise.reject(new Error('HTTP ' + r.status))))
        .then((b) => {
          images.set(id, URL.createObjectURL(b));
          img.src = images.get(id);
        })
        .catch(() => img.replaceWith(el('span', { class: 'muted', text: '(key image unavailable)' })));
    }
    return fig;
  }

  async function latest(s) {
    const out = [];
    for (const st of s.latest) {
      const box = el('div', { class: 'study', 'data-study': String(st.id) });
      box.appendChild(
        el('h3', { text: 'Study ' + st.id + ' · ' + st.status + ' · ' + st.instanceCount + ' instances' }),
      );
      box.appendChild(
        el('p', { class: 'muted', text: st.studyInstanceUid + ' · last instance ' + st.lastReceivedAt }),
      );
      if (st.summary) box.appendChild(el('p', { text: st.summary }));
      if (st.findings.length) {
        const t = el('table', { class: 'findings' });
        row(t, ['level', 'diagnosis', 'reason'], true);
        for (const f of st.findings) {
          const tr = row(t, [f.level, f.diagnosis, f.reason]);
          if (f.diagnosis === 'herniation') tr.cells[1].className = 'bad';
        }
        box.appendChild(t);
      }
      if (st.exports.length) {
        const t = el('table', { class: 'exports' });
        row(t, ['export', 'destination', 'status', 'attempts', 'sent', 'error', ''], true);
        for (const e of st.exports) {
          const tr = row(t, [
            String(e.id),
            e.destination,
            e.status,
            String(e.attempts),
            e.sentAt,
            e.lastError,
            e.status === 'failed' ? retryButton(s, e.id) : el('span'),
          ]);
          tr.cells[2].className = e.status === 'failed' ? 'bad' : e.status === 'succeeded' ? 'good' : '';
        }
        box.appendChild(t);
      }
      for (const k of st.keyImages) box.appendChild(await keyImage(st.id, k.n, k.title));
      out.push(box);
    }
    if (!out.length) out.push(el('p', { class: 'muted', text: 'no study yet' }));
    $('latest').replaceChildren(...out);
  }

  function render(s) {
    $('alg').textContent = s.algorithm.name + ' ' + s.algorithm.version;
    $('scopes').textContent = 'Logged in, scope ' + s.viewer.scopes.join(', ');
    $('board').hidden = !isAdmin(s);
    $('at').textContent = new Date(s.generatedAt).toLocaleString();
    $('last').textContent = s.lastInstanceAt ? new Date(s.lastInstanceAt).toLocaleString() : 'never';
    counts($('studies'), s.studies, ['failed']);
    counts($('exports'), s.exports, ['failed']);
    const q = $('queues');
    q.replaceChildren();
    if (s.queues === null) row(q, ['Redis does not answer']).className = 'bad';
    else {
      row(q, ['queue', 'waiting', 'active', 'delayed', 'failed'], true);
      for (const [n, c] of Object.entries(s.queues)) row(q, [n, c.waiting, c.active, c.delayed, c.failed]);
    }
    const l = $('latency');
    l.replaceChildren();
    row(l, ['exports sent', 'p50', 'p95'], true);
    const sec = (v) => (v === null ? '–' : v.toFixed(1) + ' s');
    row(l, [s.latency.samples, sec(s.latency.p50Seconds), sec(s.latency.p95Seconds)]);
    timeline(s.timeline);
    counts($('day'), s.last24h, ['analysesFailed', 'exportsFailed']);
    const inf = $('inference');
    inf.replaceChildren();
    row(inf, ['stage', 'analyses', 'p50', 'p95'], true);
    for (const x of s.inference) row(inf, [x.stage, x.samples, x.p50Ms + ' ms', x.p95Ms + ' ms']);
    if (!s.inference.length) row(inf, ['none in the last 24 hours']);
    const f = $('failures');
    f.replaceChildren();
    row(f, ['when', 'what', 'study', 'destination', 'error', ''], true);
    for (const x of s.failures) {
      row(f, [
        x.at,
        x.kind + ' ' + x.id,
        x.studyInstanceUid,
        x.destination,
        x.error,
        x.kind === 'export' ? retryButton(s, x.id) : el('span'),
      ]);
    }
    if (!s.failures.length) row(f, ['none']);
    return latest(s);
  }

  function showLogin(message) {
    L.setKey(null);
    $('err').textContent = message || '';
    $('login').hidden = false;
    $('out').hidden = true;
    $('who').hidden = true;
  }

  async function refresh() {
    if (!L.key()) return showLogin();
    if (busy) return;
    busy = true;
    try {
      const r = await L.api(L.summaryUrl);
      if (r.status === 401 || r.status === 403) return showLogin((await r.json()).message);
      if (!r.ok) throw new Error('HTTP ' + r.status);
      const s = await r.json();
      $('err').textContent = '';
      $('login').hidden = true;
      $('out').hidden = false;
      $('who').hidden = false;
      await render(s);
    } catch (e) {
      $('err').textContent = 'Cannot reach the API: ' + e.message;
    } finally {
      busy = false;
    }
  }

  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    L.setKey($('key').value.trim());
    $('key').value = '';
    refresh();
  });
  $('logout').addEventListener('click', () => showLogin('Logged out.'));
  $('board').addEventListener('click', async () => {
    // The board is a page of its own: it gets an HttpOnly session cookie, limited to /admin/queues.
    const r = await L.api(L.root + '/admin/queues/session', { method: 'POST' });
    if (r.ok) window.open(L.root + '/admin/queues', '_blank', 'noopener');
    else $('err').textContent = 'Queue board refused: HTTP ' + r.status;
  });
  refresh();
  timer = setInterval(refresh, POLL_MS);
  window.addEventListener('pagehide', () => clearInterval(timer));
})();
