// vigil serve's single page: cameras with live views, a zone and line editor,
// and the events list updated live. Plain JS, no framework, no build step;
// it talks to the REST API of docs/serve.md only.
//
// Coordinates: the API's zones are in source pixels of the camera (or 0..1
// with `units: normalized`). The editor's SVG overlay has a viewBox of the
// camera's source size (width/height from GET /api/cameras, else the
// picture's natural size) stretched over the picture, so SVG user units ARE
// source pixels whatever size the picture is shown at or was encoded at;
// pointer positions go through the SVG's screen matrix into those units.
//
// Rules: every new polygon zone gets one rule of kind intrusion
// ("ZONE_intrusion", classes [person]) and every new line one rule of kind
// line_crossing ("LINE_crossing", direction both, classes [person]), so a
// shape drawn and saved raises events at once. The panel of a selected
// shape edits them (kind, parameters, classes, cooldown), adds more or
// removes them; deleting a shape deletes its rules.
'use strict';

(() => {
  const TOKEN_KEY = 'vigil.token';
  // A browser opens at most 6 HTTP/1.1 connections to one server: the live
  // event stream takes one, each MJPEG view one. Cameras past the first
  // MAX_STREAMS show their latest picture refreshed on each poll instead,
  // so API calls always have a connection left.
  const MAX_STREAMS = 4;
  const CAMERA_POLL_MS = 3000;
  const EVENTS_PAGE = 50;
  const ZONE_KINDS = ['intrusion', 'dwell', 'occupancy'];
  const LINE_KINDS = ['line_crossing'];

  const $ = (id) => document.getElementById(id);
  const SVGNS = 'http://www.w3.org/2000/svg';

  // h('div', {class: 'x', onclick: f}, child, 'text', ...)
  function h(tag, attrs, ...children) {
    const el = tag.startsWith('svg:')
      ? document.createElementNS(SVGNS, tag.slice(4))
      : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    cameras: new Map(), // name -> {data, card, img, figs, badge, err}
    cameraOrder: [],
    ruleNames: new Map(), // camera -> [rule names] (for the filter)
    seenRules: new Set(),
    events: { ids: new Set(), count: 0, total: 0 },
    editor: null,
    sseConnectedOnce: false,
  };

  // --- the token and API calls --------------------------------------------

  let tokenWaiters = null; // pending promise while the form is shown

  // Shows the token form (once, however many calls hit 401) and resolves
  // when the user has given one.
  function askToken(refused) {
    if (!tokenWaiters) {
      let resolve;
      const promise = new Promise((r) => (resolve = r));
      tokenWaiters = { promise, resolve };
      $('token-error').textContent = refused ? 'That token was refused.' : '';
      $('token-form').hidden = false;
      $('token-input').focus();
    }
    return tokenWaiters.promise;
  }

  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = $('token-input').value.trim();
    if (!v) return;
    state.token = v;
    sessionStorage.setItem(TOKEN_KEY, v);
    $('token-form').hidden = true;
    $('token-input').value = '';
    const w = tokenWaiters;
    tokenWaiters = null;
    if (w) w.resolve();
    // Views opened without the token failed: open them again.
    for (const c of state.cameras.values()) c.img.removeAttribute('data-src');
    renderCameras();
  });

  // fetch() with the token; on 401 asks for the token and tries again.
  async function api(path, opts = {}) {
    for (;;) {
      const used = state.token;
      const headers = Object.assign({}, opts.headers || {});
      if (used) headers.Authorization = 'Bearer ' + used;
      const res = await fetch(path, Object.assign({}, opts, { headers }));
      if (res.status !== 401) return res;
      if (state.token !== used) continue; // a new token came meanwhile
      await askToken(!!used);
    }
  }

  async function errorOf(res) {
    let msg = '';
    try {
      const j = await res.json();
      msg = j && j.error ? j.error : '';
    } catch (e) {
      /* not JSON */
    }
    return msg || res.status + ' ' + res.statusText;
  }

  async function getJSON(path) {
    const res = await api(path);
    if (!res.ok) throw new Error(await errorOf(res));
    return res.json();
  }

  // URLs an <img> loads cannot carry a header: the token goes in the query.
  function withToken(url) {
    if (!state.token) return url;
    return url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(state.token);
  }

  const camPath = (name) => '/api/cameras/' + encodeURIComponent(name);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // --- cameras --------------------------------------------------------------

  function fmt(v, digits) {
    return typeof v === 'number' && isFinite(v) ? v.toFixed(digits) : '–';
  }

  function fmtBytes(b) {
    if (typeof b !== 'number' || !(b > 0)) return '';
    return b >= 1 << 30 ? (b / (1 << 30)).toFixed(1) + ' GiB' : (b / (1 << 20)).toFixed(0) + ' MiB';
  }

  function cameraCard(name) {
    const img = h('img', { class: 'live', alt: 'live view of ' + name, draggable: 'false' });
    img.addEventListener('error', () => {
      img.dataset.failed = '1';
      img.closest('.cam').classList.add('no-picture');
    });
    img.addEventListener('load', () => {
      delete img.dataset.failed;
      img.closest('.cam').classList.remove('no-picture');
    });
    const badge = h('span', { class: 'badge' });
    const figs = h('span', { class: 'figs' });
    const err = h('span', { class: 'error' });
    const view = h(
      'button',
      { type: 'button', class: 'view', title: 'draw zones on ' + name, onclick: () => openEditor(name) },
      img,
      h('span', { class: 'no-picture-text' }, 'no picture yet')
    );
    const card = h(
      'article',
      { class: 'cam', dataset: { name } },
      view,
      h('div', { class: 'cam-info' }, h('b', { class: 'cam-name' }, name), badge, figs, err)
    );
    return { data: null, card, img, figs, badge, err };
  }

  function updateCameraCard(c) {
    const d = c.data;
    // the source's state while running (live, stalled, backoff...), else
    // the camera's (added, ended)
    const live = (d.state && d.state !== 'running' ? d.state : d.live_state || d.state) || '';
    c.badge.textContent = live;
    c.badge.className = 'badge state-' + live;
    const parts = [
      'fps ' + fmt(d.fps, 1),
      d.detect_fps !== undefined ? 'detect ' + fmt(d.detect_fps, 1) : null,
      'drops ' + (d.frames_dropped ?? 0),
      'reconnects ' + (d.reconnects ?? 0),
      fmtBytes(d.memory_bytes),
    ].filter(Boolean);
    c.figs.textContent = parts.join(' · ');
    c.err.textContent = d.error || '';
    c.card.classList.toggle('ended', d.state === 'ended' || d.state === 'removed');
  }

  // Points each card's <img> at its live stream (first MAX_STREAMS) or at
  // its latest picture, refreshed on each poll. A stream is opened once and
  // again only after it failed.
  function renderCameras() {
    const grid = $('cameras');
    state.cameraOrder.forEach((name, i) => {
      const c = state.cameras.get(name);
      if (c.card.parentNode !== grid || grid.children[i] !== c.card) grid.insertBefore(c.card, grid.children[i] || null);
      const stream = i < MAX_STREAMS;
      const src = stream
        ? withToken(camPath(name) + '/stream.mjpeg')
        : withToken(camPath(name) + '/frame.jpg?width=480');
      if (stream) {
        if (c.img.dataset.src !== src || c.img.dataset.failed) {
          c.img.dataset.src = src;
          delete c.img.dataset.failed;
          // a fresh URL each time: the browser would not reopen the same one
          c.img.src = src + (src.includes('?') ? '&' : '?') + 'r=' + Date.now();
        }
      } else {
        c.img.dataset.src = src;
        c.img.src = src + '&t=' + Date.now();
      }
    });
    $('cameras-empty').hidden = state.cameraOrder.length > 0;
  }

  function setCameras(list) {
    const names = list.map((d) => d.name);
    for (const [name, c] of state.cameras) {
      if (!names.includes(name)) {
        c.img.removeAttribute('src'); // closes its stream
        c.card.remove();
        state.cameras.delete(name);
      }
    }
    for (const d of list) {
      let c = state.cameras.get(d.name);
      if (!c) {
        c = cameraCard(d.name);
        state.cameras.set(d.name, c);
        loadRuleNames(d.name);
      }
      c.data = d;
      updateCameraCard(c);
    }
    state.cameraOrder = names;
    renderCameras();
    setOptions($('filter-camera'), names);
  }

  let cameraTimer = null;
  async function refreshCameras() {
    clearTimeout(cameraTimer);
    try {
      const j = await getJSON('/api/cameras');
      setCameras(j.cameras || []);
      $('cameras-title').classList.remove('stale');
    } catch (e) {
      $('cameras-title').classList.add('stale');
    }
    cameraTimer = setTimeout(refreshCameras, CAMERA_POLL_MS);
  }

  // A camera object from the live stream (its state changed).
  function cameraChanged(d) {
    const c = state.cameras.get(d.name);
    if (!c) {
      refreshCameras();
      return;
    }
    c.data = Object.assign({}, c.data, d);
    updateCameraCard(c);
    if (d.state === 'removed') refreshCameras();
  }

  $('add-camera-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const el = (n) => f.elements.namedItem(n); // (f.name is the form's own name)
    const body = { name: el('name').value.trim(), input: el('input').value.trim(), loop: el('loop').checked };
    $('add-camera-error').textContent = '';
    try {
      const res = await api('/api/cameras', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(await errorOf(res));
      f.reset();
      refreshCameras();
    } catch (e) {
      $('add-camera-error').textContent = e.message;
    }
  });

  // --- the editor -------------------------------------------------------------

  const svg = $('overlay');
  const shapes = $('shapes');
  const picture = $('picture');

  const HINTS = {
    select: 'Select: click a zone or line to edit it, drag its corners to move them; double-click an edge to add a corner, a corner to remove it.',
    polygon: 'Zone: click its corners; double-click, click the first corner or press Close shape to finish. Esc cancels.',
    line: 'Line: click A, then B. Walking from the left of A→B to its right is A>B. Esc cancels.',
  };

  function editorStatus(text, kind) {
    const s = $('editor-status');
    s.textContent = text || '';
    s.className = 'status' + (kind ? ' ' + kind : '');
  }

  // Loads a picture into the editor; resolves when it loaded or failed.
  function loadPicture(name) {
    return new Promise((resolve) => {
      picture.onload = () => resolve(true);
      picture.onerror = () => resolve(false);
      picture.src = withToken(camPath(name) + '/frame.jpg?t=' + Date.now());
    });
  }

  async function openEditor(name) {
    const E0 = state.editor;
    if (E0 && E0.dirty && E0.camera !== name && !confirm('Discard the unsaved changes of ' + E0.camera + '?')) return;
    const c = state.cameras.get(name);
    const E = {
      camera: name,
      w: (c && c.data && c.data.width) || 0,
      h: (c && c.data && c.data.height) || 0,
      doc: {},
      items: [],
      rules: [],
      owner: new WeakMap(),
      sel: null,
      tool: 'select',
      draft: null,
      drag: null,
      dirty: false,
      hover: null,
    };
    state.editor = E;
    $('editor').hidden = false;
    $('editor-camera').textContent = name;
    $('item-panel').hidden = true;
    $('save-rules').classList.remove('dirty');
    shapes.replaceChildren();
    editorStatus('Loading…');
    setTool('select');
    const [doc, ok] = await Promise.all([
      getJSON(camPath(name) + '/rules').catch((e) => ({ error: e.message })),
      loadPicture(name),
    ]);
    if (state.editor !== E) return;
    if (doc.error) {
      editorStatus(doc.error, 'bad');
      return;
    }
    if (!(E.w > 0 && E.h > 0)) {
      E.w = ok ? picture.naturalWidth : 0;
      E.h = ok ? picture.naturalHeight : 0;
    }
    if (!(E.w > 0 && E.h > 0)) {
      editorStatus('The camera has no picture yet: its size is unknown. Try again when it runs.', 'bad');
      return;
    }
    setDoc(E, doc);
    $('stage').style.aspectRatio = E.w + ' / ' + E.h;
    svg.setAttribute('viewBox', '0 0 ' + E.w + ' ' + E.h);
    editorStatus(ok ? '' : 'No picture yet (the camera has not sent a frame).', ok ? '' : 'bad');
    renderShapes();
    $('editor').scrollIntoView({ behavior: 'smooth', block: 'start' });
  }

  // Turns the API's {zones, rules} into editor items (points in pixels);
  // each item keeps its original object so unknown keys survive a save.
  function setDoc(E, doc) {
    E.doc = doc;
    E.items = (doc.zones || []).map((z) => {
      const isLine = Array.isArray(z.line);
      const norm = z.units === 'normalized' || z.units === 'normalised';
      const pts = (isLine ? z.line : z.polygon || []).map(([x, y]) => (norm ? [x * E.w, y * E.h] : [x, y]));
      return { obj: z, name: z.name, type: isLine ? 'line' : 'polygon', pts, norm };
    });
    // A rule belongs to a shape (E.owner), not to a name: while two shapes
    // share a name (the server refuses that) each keeps its own rules, and
    // renaming a shape takes its rules along. r.zone is set at save time.
    E.owner = new WeakMap();
    E.rules = (doc.rules || []).map((r) => {
      const copy = Object.assign({}, r);
      const it = E.items.find((i) => i.name === r.zone);
      if (it) E.owner.set(copy, it);
      return copy;
    });
    E.dirty = false;
    if (E.sel && !E.items.includes(E.sel)) E.sel = E.items.find((i) => i.name === E.sel.name) || null;
  }

  function docOf(E) {
    const round = (v, norm) => (norm ? Math.round(v * 10000) / 10000 : Math.round(v));
    const zones = E.items.map((it) => {
      const z = Object.assign({}, it.obj);
      z.name = it.name;
      const pts = it.pts.map(([x, y]) => (it.norm ? [round(x / E.w, 1), round(y / E.h, 1)] : [round(x), round(y)]));
      delete z.polygon;
      delete z.line;
      if (it.type === 'line') z.line = pts;
      else z.polygon = pts;
      return z;
    });
    const rules = E.rules.map((r) => {
      const it = E.owner.get(r);
      return it ? Object.assign({}, r, { zone: it.name }) : r;
    });
    return Object.assign({}, E.doc, { zones, rules });
  }

  function markDirty() {
    const E = state.editor;
    E.dirty = true;
    $('save-rules').classList.add('dirty');
    editorStatus('Unsaved changes.');
  }

  // base, or base_1, base_2, ... (shapes are always numbered: zone_1).
  function uniqueName(base, taken) {
    if (!taken.has(base) && base !== 'zone' && base !== 'line') return base;
    for (let i = 1; ; i++) if (!taken.has(base + '_' + i)) return base + '_' + i;
  }

  const zoneNames = (E) => new Set(E.items.map((i) => i.name));
  const ruleNamesOf = (E) => new Set(E.rules.map((r) => r.name));
  const rulesOf = (E, item) => E.rules.filter((r) => E.owner.get(r) === item);

  const autoName = (item, kind) => item.name + '_' + (kind === 'line_crossing' ? 'crossing' : kind);

  function defaultRule(E, item, kind) {
    const r = { name: uniqueName(autoName(item, kind), ruleNamesOf(E)), kind, zone: item.name };
    if (kind === 'dwell') r.seconds = 5;
    if (kind === 'occupancy') {
      r.more_than = 3;
      r.seconds = 2;
    }
    if (kind === 'line_crossing') r.direction = 'both';
    r.classes = ['person'];
    E.owner.set(r, item);
    return r;
  }

  function finishDraft() {
    const E = state.editor;
    const d = E.draft;
    if (!d) return;
    const need = d.type === 'line' ? 2 : 3;
    if (d.pts.length < need) return;
    const item = {
      obj: {},
      name: uniqueName(d.type === 'line' ? 'line' : 'zone', zoneNames(E)),
      type: d.type,
      pts: d.pts,
      norm: false,
    };
    E.items.push(item);
    E.rules.push(defaultRule(E, item, d.type === 'line' ? 'line_crossing' : 'intrusion'));
    E.draft = null;
    E.sel = item;
    setTool('select');
    markDirty();
    renderShapes();
  }

  function setTool(tool) {
    const E = state.editor;
    if (E) {
      E.tool = tool;
      if (tool === 'select' || (E.draft && E.draft.type !== tool)) E.draft = null;
    }
    for (const b of document.querySelectorAll('.tool')) b.classList.toggle('active', b.dataset.tool === tool);
    $('editor-hint').textContent = HINTS[tool];
    svg.classList.toggle('drawing', tool !== 'select');
    updateCloseButton();
    if (E) renderShapes();
  }

  function updateCloseButton() {
    const E = state.editor;
    $('close-shape').disabled = !(E && E.draft && E.draft.type === 'polygon' && E.draft.pts.length >= 3);
  }

  for (const b of document.querySelectorAll('.tool')) b.addEventListener('click', () => setTool(b.dataset.tool));
  $('close-shape').addEventListener('click', finishDraft);
  $('refresh-picture').addEventListener('click', () => state.editor && loadPicture(state.editor.camera));
  $('editor-close').addEventListener('click', () => {
    const E = state.editor;
    if (E && E.dirty && !confirm('Discard the unsaved changes?')) return;
    state.editor = null;
    $('editor').hidden = true;
    picture.removeAttribute('src');
  });

  // Pointer position in source pixels.
  function toSource(ev) {
    const pt = svg.createSVGPoint();
    pt.x = ev.clientX;
    pt.y = ev.clientY;
    const p = pt.matrixTransform(svg.getScreenCTM().inverse());
    const E = state.editor;
    return [Math.min(Math.max(p.x, 0), E.w), Math.min(Math.max(p.y, 0), E.h)];
  }

  // Source pixels per screen pixel.
  function unit() {
    const E = state.editor;
    const w = svg.getBoundingClientRect().width;
    return w > 0 ? E.w / w : 1;
  }

  function near(a, b, screenPx) {
    const k = unit() * screenPx;
    return Math.hypot(a[0] - b[0], a[1] - b[1]) <= k;
  }

  svg.addEventListener('pointerdown', (ev) => {
    const E = state.editor;
    if (!E || !E.w || ev.button !== 0) return;
    const p = toSource(ev);
    if (E.tool === 'select') {
      const t = ev.target;
      if (t.dataset.vertex !== undefined) {
        const item = E.items[+t.dataset.item];
        E.sel = item;
        E.drag = { item, index: +t.dataset.vertex, moved: false };
        svg.setPointerCapture(ev.pointerId);
        ev.preventDefault();
        renderPanel();
        return;
      }
      let sel = t.dataset.item !== undefined ? E.items[+t.dataset.item] : null;
      // just outside the selected zone's edge: keep it (a double-click there adds a corner)
      if (!sel && E.sel && E.sel.type === 'polygon' && nearestEdge(E.sel, p) >= 0) sel = E.sel;
      if (sel !== E.sel) {
        E.sel = sel;
        renderShapes();
      }
      return;
    }
    ev.preventDefault();
    if (!E.draft) E.draft = { type: E.tool, pts: [] };
    const d = E.draft;
    const last = d.pts[d.pts.length - 1];
    if (last && near(p, last, 6)) return; // the second click of a double-click
    if (d.type === 'polygon' && d.pts.length >= 3 && near(p, d.pts[0], 10)) {
      finishDraft();
      return;
    }
    d.pts.push(p);
    if (d.type === 'line' && d.pts.length === 2) finishDraft();
    else renderShapes();
    updateCloseButton();
  });

  svg.addEventListener('pointermove', (ev) => {
    const E = state.editor;
    if (!E || !E.w) return;
    if (E.drag) {
      E.drag.item.pts[E.drag.index] = toSource(ev);
      E.drag.moved = true;
      renderShapes();
    } else if (E.draft) {
      E.hover = toSource(ev);
      renderShapes();
    }
  });

  function endDrag() {
    const E = state.editor;
    if (E && E.drag) {
      const moved = E.drag.moved;
      E.drag = null;
      if (moved) {
        markDirty();
        renderShapes();
      }
    }
  }
  svg.addEventListener('pointerup', endDrag);
  svg.addEventListener('pointercancel', endDrag);

  // Distance from p to the segment a-b.
  function segmentDistance(p, a, b) {
    const dx = b[0] - a[0];
    const dy = b[1] - a[1];
    const len2 = dx * dx + dy * dy;
    const t = len2 > 0 ? Math.min(1, Math.max(0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2)) : 0;
    return Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy);
  }

  // The polygon edge (index of its first corner) within 10 screen pixels
  // of p, or -1.
  function nearestEdge(it, p) {
    let best = -1;
    let bestD = unit() * 10;
    it.pts.forEach((a, i) => {
      const d = segmentDistance(p, a, it.pts[(i + 1) % it.pts.length]);
      if (d <= bestD) {
        bestD = d;
        best = i;
      }
    });
    return best;
  }

  svg.addEventListener('dblclick', (ev) => {
    const E = state.editor;
    if (!E) return;
    if (E.draft && E.draft.type === 'polygon') {
      ev.preventDefault();
      finishDraft();
      return;
    }
    // On the selected zone, by position (the pointer capture of a drag
    // makes the event's target the SVG itself).
    const it = E.sel;
    if (E.tool !== 'select' || !it || it.type !== 'polygon') return;
    ev.preventDefault();
    const p = toSource(ev);
    const corner = it.pts.findIndex((q) => near(p, q, 9));
    if (corner >= 0) {
      if (it.pts.length <= 3) return;
      it.pts.splice(corner, 1); // a corner removed
    } else {
      const best = nearestEdge(it, p); // a corner added on it
      if (best < 0) return;
      it.pts.splice(best + 1, 0, p);
    }
    markDirty();
    renderShapes();
  });

  document.addEventListener('keydown', (ev) => {
    const E = state.editor;
    if (!E || /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement && document.activeElement.tagName)) return;
    if (ev.key === 'Escape' && E.draft) {
      E.draft = null;
      renderShapes();
      updateCloseButton();
    } else if (ev.key === 'Enter' && E.draft) {
      finishDraft();
    } else if ((ev.key === 'Delete' || ev.key === 'Backspace') && E.sel && E.tool === 'select') {
      ev.preventDefault();
      deleteItem(E.sel);
    }
  });

  new ResizeObserver(() => state.editor && renderShapes()).observe($('stage'));

  // Arrowhead at b of the segment a->b, size in source pixels.
  function arrowHead(a, b, size) {
    const ang = Math.atan2(b[1] - a[1], b[0] - a[0]);
    const p = (da, r) => [b[0] - r * Math.cos(ang + da), b[1] - r * Math.sin(ang + da)];
    return [b, p(0.45, size), p(-0.45, size)].map((q) => q.join(',')).join(' ');
  }

  function renderShapes() {
    const E = state.editor;
    if (!E || !E.w) return;
    const k = unit();
    const out = [];
    E.items.forEach((it, i) => {
      const sel = it === E.sel;
      const cls = (it.type === 'line' ? 'line' : 'zone') + (sel ? ' selected' : '');
      const pts = it.pts.map((p) => p.join(',')).join(' ');
      const data = { item: i };
      if (it.type === 'line') {
        const [a, b] = it.pts;
        out.push(h('svg:line', { class: 'hit', x1: a[0], y1: a[1], x2: b[0], y2: b[1], 'stroke-width': 14 * k, dataset: data }));
        out.push(h('svg:line', { class: cls, x1: a[0], y1: a[1], x2: b[0], y2: b[1], dataset: data }));
        out.push(h('svg:polygon', { class: cls + ' head', points: arrowHead(a, b, 16 * k), dataset: data }));
        out.push(h('svg:text', { class: 'end', x: a[0] + 8 * k, y: a[1] - 6 * k, 'font-size': 13 * k }, 'A'));
        out.push(h('svg:text', { class: 'end', x: b[0] + 8 * k, y: b[1] - 6 * k, 'font-size': 13 * k }, 'B'));
      } else {
        out.push(h('svg:polygon', { class: cls, points: pts, dataset: data }));
      }
      const cx = it.pts.reduce((s, p) => s + p[0], 0) / it.pts.length;
      const cy = it.pts.reduce((s, p) => s + p[1], 0) / it.pts.length;
      out.push(h('svg:text', { class: 'label', x: cx, y: cy, 'font-size': 14 * k, 'text-anchor': 'middle' }, it.name));
      if (sel && E.tool === 'select') {
        it.pts.forEach((p, j) =>
          out.push(h('svg:circle', { class: 'vertex', cx: p[0], cy: p[1], r: 7 * k, dataset: { item: i, vertex: j } }))
        );
      }
    });
    const d = E.draft;
    if (d && d.pts.length) {
      const pts = d.pts.concat(E.hover ? [E.hover] : []);
      out.push(h('svg:polyline', { class: 'draft', points: pts.map((p) => p.join(',')).join(' ') }));
      d.pts.forEach((p, j) =>
        out.push(h('svg:circle', { class: 'vertex draft-vertex' + (j === 0 ? ' first' : ''), cx: p[0], cy: p[1], r: 5 * k }))
      );
    }
    shapes.replaceChildren(...out);
    renderPanel();
    renderItemList();
  }

  function deleteItem(item) {
    const E = state.editor;
    E.items = E.items.filter((i) => i !== item);
    E.rules = E.rules.filter((r) => E.owner.get(r) !== item);
    if (E.sel === item) E.sel = null;
    markDirty();
    renderShapes();
  }

  function renameItem(item, name) {
    const E = state.editor;
    name = name.trim();
    if (!name || name === item.name) return;
    // rule names the page gave follow the shape's name
    for (const r of rulesOf(E, item))
      if (r.name === autoName(item, r.kind)) r.name = uniqueName(autoName({ name }, r.kind), ruleNamesOf(E));
    item.name = name;
    markDirty();
    renderShapes();
  }

  function field(label, input) {
    return h('label', { class: 'field' }, h('span', {}, label), input);
  }

  function numberInput(value, onchange, attrs) {
    return h('input', Object.assign({ type: 'number', value: value ?? '', onchange: (e) => onchange(e.target.value) }, attrs || {}));
  }

  function ruleEditor(E, item, r) {
    const kinds = item.type === 'line' ? LINE_KINDS : ZONE_KINDS;
    const changed = () => {
      markDirty();
      renderPanel();
    };
    // a number field: empty removes the key (the server's default applies)
    const num = (key, cls, parse, attrs) =>
      numberInput(r[key], (v) => {
        const n = parse(v);
        if (v === '' || !isFinite(n)) delete r[key];
        else r[key] = n;
        changed();
      }, Object.assign({ class: cls }, attrs));
    const kindSel = h(
      'select',
      {
        class: 'rule-kind',
        onchange: (e) => {
          // a name the page gave (ZONE_KIND, ZONE_KIND_2) follows the kind
          const auto = r.name === autoName(item, r.kind) || r.name.startsWith(autoName(item, r.kind) + '_');
          r.kind = e.target.value;
          delete r.seconds;
          delete r.more_than;
          delete r.direction;
          const d = defaultRule(E, item, r.kind);
          Object.assign(r, d, { name: auto ? d.name : r.name, classes: r.classes });
          changed();
        },
      },
      kinds.map((k) => h('option', { value: k, selected: r.kind === k || (k === 'dwell' && r.kind === 'loitering') }, k))
    );
    const params = [];
    if (r.kind === 'dwell' || r.kind === 'loitering' || r.kind === 'occupancy') {
      if (r.kind === 'occupancy')
        params.push(field('more than', num('more_than', 'rule-more-than', (v) => parseInt(v, 10), { min: 0, step: 1 })));
      params.push(field('seconds', num('seconds', 'rule-seconds', parseFloat, { min: 0, step: 0.5 })));
    }
    if (r.kind === 'line_crossing' || r.kind === 'crossing') {
      const names = { both: 'both', a_to_b: 'A>B' + (item.obj.a_to_b ? ' (' + item.obj.a_to_b + ')' : ''), b_to_a: 'B>A' + (item.obj.b_to_a ? ' (' + item.obj.b_to_a + ')' : '') };
      params.push(
        field(
          'direction',
          h(
            'select',
            { class: 'rule-direction', onchange: (e) => ((r.direction = e.target.value), changed()) },
            Object.entries(names).map(([v, t]) => h('option', { value: v, selected: (r.direction || 'both') === v }, t))
          )
        )
      );
    }
    const classes = h('input', {
      class: 'rule-classes',
      value: (r.classes || []).join(', '),
      placeholder: 'every class',
      onchange: (e) => {
        const v = e.target.value.split(/[\s,]+/).filter(Boolean);
        if (v.length) r.classes = v;
        else delete r.classes;
        changed();
      },
    });
    const cooldown = num('cooldown', 'rule-cooldown', parseFloat, { min: 0, step: 1, placeholder: 'default' });
    return h(
      'fieldset',
      { class: 'rule', dataset: { rule: r.name } },
      h('legend', {}, 'Rule'),
      field('name', h('input', { value: r.name, class: 'rule-name', onchange: (e) => ((r.name = e.target.value.trim()), changed()) })),
      field('kind', kindSel),
      params,
      field('classes', classes),
      field('cooldown s', cooldown),
      h('button', { type: 'button', class: 'link danger remove-rule', onclick: () => ((E.rules = E.rules.filter((x) => x !== r)), changed()) }, 'remove rule')
    );
  }

  function renderPanel() {
    const E = state.editor;
    const panel = $('item-panel');
    if (!E || !E.sel) {
      panel.hidden = true;
      panel.replaceChildren();
      return;
    }
    // Leave the panel alone while the user types in it.
    if (panel.contains(document.activeElement) && panel.dataset.item === E.sel.name && document.activeElement.tagName === 'INPUT') return;
    const it = E.sel;
    panel.dataset.item = it.name;
    const what = it.type === 'line' ? 'Line' : 'Zone';
    const rules = rulesOf(E, it);
    const dirFields = [];
    if (it.type === 'line') {
      for (const key of ['a_to_b', 'b_to_a']) {
        dirFields.push(
          field(
            key === 'a_to_b' ? 'A>B is called' : 'B>A is called',
            h('input', {
              value: it.obj[key] || '',
              placeholder: key === 'a_to_b' ? 'A>B' : 'B>A',
              onchange: (e) => {
                const v = e.target.value.trim();
                it.obj = Object.assign({}, it.obj);
                if (v) it.obj[key] = v;
                else delete it.obj[key];
                markDirty();
              },
            })
          )
        );
      }
    }
    panel.replaceChildren(
      h('div', { class: 'panel-head' },
        field(what + ' name', h('input', { id: 'item-name', value: it.name, onchange: (e) => renameItem(it, e.target.value) })),
        h('button', { type: 'button', class: 'danger', id: 'delete-item', onclick: () => deleteItem(it) }, 'Delete ' + what.toLowerCase())
      ),
      ...dirFields,
      ...rules.map((r) => ruleEditor(E, it, r)),
      h('button', {
        type: 'button',
        id: 'add-rule',
        onclick: () => {
          E.rules.push(defaultRule(E, it, it.type === 'line' ? 'line_crossing' : 'intrusion'));
          markDirty();
          renderPanel();
        },
      }, '+ Add a rule')
    );
    panel.hidden = false;
  }

  function renderItemList() {
    const E = state.editor;
    const ul = $('item-list');
    ul.replaceChildren(
      ...E.items.map((it) =>
        h('li', {},
          h('button', { type: 'button', class: 'link', onclick: () => { E.sel = it; setTool('select'); } },
            (it.type === 'line' ? 'line ' : 'zone ') + it.name),
          ': ',
          rulesOf(E, it).map((r) => r.name + ' (' + r.kind + ')').join(', ') || 'no rule'
        )
      )
    );
  }

  $('save-rules').addEventListener('click', async () => {
    const E = state.editor;
    if (!E || !E.w) return;
    const body = JSON.stringify(docOf(E));
    editorStatus('Saving…');
    try {
      const res = await api(camPath(E.camera) + '/rules', {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
      if (!res.ok) {
        editorStatus('Not saved: ' + (await errorOf(res)), 'bad');
        return;
      }
      const doc = await getJSON(camPath(E.camera) + '/rules');
      if (state.editor !== E) return;
      setDoc(E, doc);
      $('save-rules').classList.remove('dirty');
      editorStatus('Saved.', 'good');
      renderShapes();
      ruleNamesFrom(E.camera, doc);
    } catch (e) {
      editorStatus('Not saved: ' + e.message, 'bad');
    }
  });

  $('remove-camera').addEventListener('click', async () => {
    const E = state.editor;
    if (!E || !confirm('Remove camera ' + E.camera + '? Its events stay.')) return;
    const res = await api(camPath(E.camera), { method: 'DELETE' });
    if (!res.ok && res.status !== 404) {
      editorStatus('Not removed: ' + (await errorOf(res)), 'bad');
      return;
    }
    state.editor = null;
    $('editor').hidden = true;
    refreshCameras();
  });

  // --- events -----------------------------------------------------------------

  function setOptions(select, values) {
    const cur = select.value;
    const want = [''].concat(values);
    const have = [...select.options].map((o) => o.value);
    if (want.length === have.length && want.every((v, i) => v === have[i])) return;
    select.replaceChildren(h('option', { value: '' }, 'all'), ...values.map((v) => h('option', { value: v }, v)));
    if (cur && !values.includes(cur)) select.append(h('option', { value: cur }, cur));
    select.value = cur;
  }

  function ruleNamesFrom(camera, doc) {
    state.ruleNames.set(camera, (doc.rules || []).map((r) => r.name));
    updateRuleFilter();
  }

  async function loadRuleNames(camera) {
    try {
      ruleNamesFrom(camera, await getJSON(camPath(camera) + '/rules'));
    } catch (e) {
      /* the filter simply lacks them */
    }
  }

  function updateRuleFilter() {
    const cam = $('filter-camera').value;
    const names = new Set(state.seenRules);
    for (const [c, rules] of state.ruleNames) if (!cam || c === cam) rules.forEach((r) => names.add(r));
    setOptions($('filter-rule'), [...names].sort());
  }

  function eventMatches(ev) {
    const cam = $('filter-camera').value;
    const rule = $('filter-rule').value;
    return (!cam || ev.camera === cam) && (!rule || ev.rule === rule);
  }

  function fmtTime(ms) {
    if (!ms) return '';
    const d = new Date(ms);
    const today = new Date().toDateString() === d.toDateString();
    return today ? d.toLocaleTimeString() : d.toLocaleString();
  }

  // Snapshots are fetched with the token header (an <img> cannot send it)
  // when they scroll into view. A snapshot is written just after its event
  // is announced: a 404 is asked again a few times (0.5, 1, 2, 4 s later).
  const snapshotUrls = new Set(); // object URLs of the list, freed on reload
  const snapshotObserver = new IntersectionObserver(
    (entries) => {
      for (const e of entries) {
        if (!e.isIntersecting) continue;
        snapshotObserver.unobserve(e.target);
        loadSnapshot(e.target, 0);
      }
    },
    { rootMargin: '300px' }
  );

  async function loadSnapshot(img, tries) {
    try {
      const res = await api('/api/events/' + img.dataset.id + '/snapshot');
      if (res.ok) {
        const url = URL.createObjectURL(await res.blob());
        snapshotUrls.add(url);
        img.src = url;
        return;
      }
    } catch (e) {
      /* asked again below */
    }
    if (tries < 4) setTimeout(() => img.isConnected && loadSnapshot(img, tries + 1), 500 * 2 ** tries);
    else img.closest('.thumb').classList.add('none');
  }

  function snapshotImg(ev) {
    const img = h('img', { alt: 'snapshot of event ' + ev.id, dataset: { id: ev.id } });
    snapshotObserver.observe(img);
    return img;
  }

  function showSnapshot(img, caption) {
    if (!img.src) return;
    $('snapshot-img').src = img.src;
    $('snapshot-caption').textContent = caption;
    $('snapshot-view').showModal();
  }
  $('snapshot-view').addEventListener('click', () => $('snapshot-view').close());

  function eventItem(ev) {
    let thumb = h('span', { class: 'thumb none' }, 'no snapshot');
    if (ev.snapshot) {
      const img = snapshotImg(ev);
      const caption = [ev.rule, ev.kind, ev.zone, ev.camera, fmtTime(ev.wall_ms)].filter(Boolean).join(' · ');
      thumb = h('button', { type: 'button', class: 'thumb', title: 'show the snapshot', onclick: () => showSnapshot(img, caption) }, img);
    }
    const what = [ev.zone, ev.direction].filter(Boolean).join(' · ');
    const who = [
      ev.camera,
      ev.class ? ev.class + (typeof ev.score === 'number' ? ' ' + ev.score.toFixed(2) : '') : null,
      ev.track_id >= 0 ? 'track ' + ev.track_id : null,
      ev.kind === 'occupancy' && ev.count ? ev.count + ' in zone' : null,
    ].filter(Boolean).join(' · ');
    return h(
      'li',
      { class: 'ev kind-' + ev.kind, dataset: { id: ev.id, camera: ev.camera, rule: ev.rule, zone: ev.zone || '' } },
      thumb,
      h('div', { class: 'ev-text' },
        h('div', {}, h('b', {}, ev.rule), ' ', h('span', { class: 'kind' }, ev.kind), what ? ' ' + what : ''),
        h('div', { class: 'muted' }, who),
        h('time', { class: 'muted', title: typeof ev.time_s === 'number' ? 'at ' + ev.time_s.toFixed(1) + ' s of the input' : '' }, fmtTime(ev.wall_ms))
      )
    );
  }

  // Inserts an event in id order (newest first); false when already shown.
  function addEvent(ev, fresh) {
    const E = state.events;
    if (E.ids.has(ev.id)) return false;
    E.ids.add(ev.id);
    E.count++;
    const li = eventItem(ev);
    if (fresh) li.classList.add('fresh');
    const list = $('events');
    let before = null;
    for (const x of list.children) {
      if (+x.dataset.id < ev.id) {
        before = x;
        break;
      }
    }
    list.insertBefore(li, before);
    if (ev.rule && !state.seenRules.has(ev.rule)) {
      state.seenRules.add(ev.rule);
      updateRuleFilter();
    }
    return true;
  }

  function eventsFooter() {
    const E = state.events;
    $('events-empty').hidden = E.count > 0;
    $('events-more').hidden = E.count >= E.total;
    $('events-total').textContent = E.total ? '(' + E.total + ')' : '';
  }

  // Loads a page of events: the first (reset) or the next ("More"). The
  // offset is the number shown: the list always holds the newest ones.
  async function loadEvents(reset) {
    const E = state.events;
    const q = new URLSearchParams({ limit: EVENTS_PAGE, offset: reset ? 0 : E.count });
    const cam = $('filter-camera').value;
    const rule = $('filter-rule').value;
    if (cam) q.set('camera', cam);
    if (rule) q.set('rule', rule);
    try {
      const j = await getJSON('/api/events?' + q);
      if (reset) {
        E.ids.clear();
        E.count = 0;
        $('events').replaceChildren();
        for (const u of snapshotUrls) URL.revokeObjectURL(u);
        snapshotUrls.clear();
      }
      for (const ev of j.events || []) addEvent(ev, false);
      E.total = Math.max(j.total || 0, E.count);
    } catch (e) {
      $('events-total').textContent = '(' + e.message + ')';
      return;
    }
    eventsFooter();
  }

  function liveEvent(ev) {
    if (!eventMatches(ev)) return;
    if (addEvent(ev, true)) {
      state.events.total++;
      eventsFooter();
    }
  }

  $('events-more').addEventListener('click', () => loadEvents(false));
  $('filter-camera').addEventListener('change', () => {
    updateRuleFilter();
    loadEvents(true);
  });
  $('filter-rule').addEventListener('change', () => loadEvents(true));

  // --- live updates: Server-Sent Events over fetch (so the token travels in
  // the Authorization header; EventSource cannot send one) ------------------

  function setConn(text, ok) {
    const c = $('conn');
    c.textContent = text;
    c.classList.toggle('ok', !!ok);
  }

  function sseMessage(type, data) {
    let obj;
    try {
      obj = JSON.parse(data);
    } catch (e) {
      return;
    }
    if (type === 'event') liveEvent(obj);
    else if (type === 'camera') cameraChanged(obj);
  }

  async function sseLoop() {
    let delay = 1000;
    for (;;) {
      try {
        const res = await api('/api/sse', { headers: { Accept: 'text/event-stream' }, cache: 'no-store' });
        if (!res.ok || !res.body) throw new Error(await errorOf(res));
        setConn('live', true);
        delay = 1000;
        if (state.sseConnectedOnce) {
          // events may have come while we were away; the server may have
          // restarted, ending the live views
          for (const c of state.cameras.values()) delete c.img.dataset.src;
          loadEvents(true);
          refreshCameras();
        }
        state.sseConnectedOnce = true;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          buf = buf.replace(/\r\n|\r(?!$)/g, '\n');
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let type = 'message';
            const data = [];
            for (const line of block.split('\n')) {
              if (!line || line.startsWith(':')) continue;
              const c = line.indexOf(':');
              const key = c < 0 ? line : line.slice(0, c);
              const val = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
              if (key === 'event') type = val;
              else if (key === 'data') data.push(val);
            }
            if (data.length) sseMessage(type, data.join('\n'));
          }
        }
      } catch (e) {
        /* reconnect below */
      }
      setConn('reconnecting…', false);
      await sleep(delay);
      delay = Math.min(delay * 2, 15000);
    }
  }

  // --- start ------------------------------------------------------------------

  refreshCameras();
  loadEvents(true);
  sseLoop();
})();
