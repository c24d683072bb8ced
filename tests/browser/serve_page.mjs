// The page of `vigil serve` in headless Chromium (driven by playwright-core),
// run by tests/test_serve_browser.sh against a running server:
//   token   the server wants a token: the page asks for it once, then works
//   live    a camera's live view (MJPEG <img>) shows two different frames
//   draw    a zone polygon drawn by mouse clicks in the editor (double-click
//           closes it), a corner dragged, one added and removed (double-
//           clicks), renamed, a dwell rule added, saved: GET .../rules has
//           it at the clicked source pixels, with its intrusion rule and the
//           dwell rule, and so has the config file
//   reject  a line (A->B arrow) named like the zone: Save shows the
//           server's 400 message and the stored rules stay as they were;
//           deleted, the rules save again
//   event   an event of the drawn zone appears in the events list (live)
//   phone   at phone width the page is one column
// Environment: SERVE_URL, SERVE_CAMERA, SERVE_CONFIG, SERVE_TOKEN,
// PLAYWRIGHT_CORE (the package's folder), VIGIL_CHROMIUM, VIGIL_SCREENSHOT
// and VIGIL_SCREENSHOT_PHONE (optional PNG paths). Prints `ok NAME` or
// `FAIL NAME: why`; exit 0 when everything passed.
import fs from 'node:fs';
import path from 'node:path';

const env = (k, d) => process.env[k] ?? d;
const URL0 = env('SERVE_URL');
const CAM = env('SERVE_CAMERA');
const CFG = env('SERVE_CONFIG');
const TOKEN = env('SERVE_TOKEN', '');
const { chromium } = await import(path.join(env('PLAYWRIGHT_CORE'), 'index.mjs'));

// Generous bounds: a loaded 2-core machine; every wait polls a condition.
const LONG = 120000;
let fails = 0;
const T0 = Date.now();
const at = () => ' [' + ((Date.now() - T0) / 1000).toFixed(1) + ' s]';
const ok = (name) => console.log('ok   ' + name + at());
const fail = (name, why) => {
  console.log('FAIL ' + name + ': ' + why + at());
  fails++;
};

async function apiGet(p) {
  const res = await fetch(new URL(p, URL0), { headers: TOKEN ? { Authorization: 'Bearer ' + TOKEN } : {} });
  if (!res.ok) throw new Error(p + ': ' + res.status);
  return res.json();
}

// The zone, in source pixels: the middle of vtest.avi's walkway, where the
// walkers' feet are (examples/site.yaml's "plaza").
const ZONE = [
  [300, 240],
  [760, 240],
  [760, 420],
  [300, 420],
];

const browser = await chromium.launch({
  executablePath: env('VIGIL_CHROMIUM', '/usr/bin/chromium'),
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const errors = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(LONG);
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(URL0);

  // token: the form shows up (every /api call answered 401), once
  if (TOKEN) {
    await page.waitForSelector('#token-form:not([hidden])');
    await page.fill('#token-input', TOKEN);
    await page.press('#token-input', 'Enter');
    await page.waitForSelector('#token-form[hidden]', { state: 'attached' });
    const stored = await page.evaluate(() => sessionStorage.getItem('vigil.token'));
    if (stored === TOKEN) ok('token: asked once, kept in sessionStorage');
    else fail('token', 'sessionStorage has ' + stored);
  }

  // live: two different pictures in the camera's <img> (drawn to a canvas)
  const img = `.cam[data-name="${CAM}"] img.live`;
  await page.waitForFunction((sel) => {
    const i = document.querySelector(sel);
    return i && i.complete && i.naturalWidth > 0;
  }, img);
  const sig = () =>
    page.evaluate((sel) => {
      const i = document.querySelector(sel);
      const c = document.createElement('canvas');
      c.width = 96;
      c.height = 72;
      const g = c.getContext('2d');
      g.drawImage(i, 0, 0, c.width, c.height);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      let h = 0;
      for (let k = 0; k < d.length; k++) h = (h * 31 + d[k]) >>> 0;
      return h;
    }, img);
  const first = await sig();
  let changed = false;
  for (const t0 = Date.now(); Date.now() - t0 < LONG; ) {
    await page.waitForTimeout(250);
    if ((await sig()) !== first) {
      changed = true;
      break;
    }
  }
  if (changed) ok('live: the live view shows a new frame');
  else fail('live', 'the live view did not change');

  // draw: open the editor, click the polygon's corners, double-click the last
  const cams = (await apiGet('/api/cameras')).cameras;
  const cam = cams.find((c) => c.name === CAM);
  await page.click(`.cam[data-name="${CAM}"] .view`);
  await page.waitForFunction(() => {
    const s = document.getElementById('overlay').getAttribute('viewBox');
    return s && document.getElementById('picture').complete && !/Loading/.test(document.getElementById('editor-status').textContent);
  });
  const vb = (await page.getAttribute('#overlay', 'viewBox')).split(' ').map(Number);
  const W = cam.width || vb[2];
  const H = cam.height || vb[3];
  if (vb[2] !== W || vb[3] !== H) fail('draw', `overlay viewBox ${vb} is not the source size ${W}x${H}`);
  // the page scrolls the editor into view: wait until the picture stays put
  let box = await page.locator('#overlay').boundingBox();
  for (const t0 = Date.now(); Date.now() - t0 < LONG; ) {
    await page.waitForTimeout(200);
    const b = await page.locator('#overlay').boundingBox();
    if (b.x === box.x && b.y === box.y && b.width === box.width) break;
    box = b;
  }
  // source pixels -> page coordinates (clicks elsewhere may have scrolled)
  const screen = async ([x, y]) => {
    await page.locator('#overlay').scrollIntoViewIfNeeded();
    box = await page.locator('#overlay').boundingBox();
    return [box.x + (x * box.width) / W, box.y + (y * box.height) / H];
  };
  await page.click('button[data-tool="polygon"]');
  for (const p of ZONE.slice(0, -1)) await page.mouse.click(...(await screen(p)));
  await page.mouse.dblclick(...(await screen(ZONE[ZONE.length - 1])));
  await page.waitForSelector('#item-name');
  // move the third corner by dragging its handle
  const MOVED = [730, 440];
  const handle = page.locator('#shapes circle.vertex[data-vertex="2"]');
  const hb = await handle.boundingBox();
  await page.mouse.move(hb.x + hb.width / 2, hb.y + hb.height / 2);
  await page.mouse.down();
  await page.mouse.move(...(await screen([745, 430])));
  await page.mouse.move(...(await screen(MOVED)));
  await page.mouse.up();
  ZONE[2] = MOVED;
  // a corner added by double-clicking an edge, removed by double-clicking it
  const corners = () => page.locator('#shapes circle.vertex').count();
  await page.mouse.dblclick(...(await screen([530, 240])));
  const added = await corners();
  await page.mouse.dblclick(...(await screen([530, 240])));
  const removed = await corners();
  if (added !== 5 || removed !== 4) fail('draw', `corners after adding and removing one: ${added}, ${removed}`);
  await page.fill('#item-name', 'walkway');
  await page.press('#item-name', 'Enter');
  // a second rule on the zone: dwell, 3 s
  await page.click('#add-rule');
  const second = page.locator('#item-panel fieldset.rule').nth(1);
  await second.locator('select.rule-kind').selectOption('dwell');
  await second.locator('input.rule-seconds').fill('3');
  await second.locator('input.rule-seconds').press('Tab');
  await page.click('#save-rules');
  await page.waitForFunction(() => /Saved|Not saved/.test(document.getElementById('editor-status').textContent));
  const status = await page.textContent('#editor-status');
  if (!/Saved/.test(status) || /Not saved/.test(status)) fail('draw', 'save: ' + status);
  const saved = await apiGet(`/api/cameras/${encodeURIComponent(CAM)}/rules`);
  const z = (saved.zones || []).find((q) => q.name === 'walkway');
  // one screen pixel is W / box.width source pixels; allow two
  const tol = (2 * W) / box.width;
  const closeTo = (a, b) => a && a.length === b.length && a.every((p, i) => Math.abs(p[0] - b[i][0]) <= tol && Math.abs(p[1] - b[i][1]) <= tol);
  const rule = (saved.rules || []).find((r) => r.zone === 'walkway' && r.kind === 'intrusion');
  const dwell = (saved.rules || []).find((r) => r.zone === 'walkway' && (r.kind === 'dwell' || r.kind === 'loitering'));
  if (!z) fail('draw', 'no zone walkway in ' + JSON.stringify(saved));
  else if (!closeTo(z.polygon, ZONE)) fail('draw', `polygon ${JSON.stringify(z.polygon)}, clicked ${JSON.stringify(ZONE)}`);
  else if (!rule) fail('draw', 'no intrusion rule on walkway: ' + JSON.stringify(saved.rules));
  else if (!dwell || dwell.seconds !== 3) fail('draw', 'no 3 s dwell rule on walkway: ' + JSON.stringify(saved.rules));
  else if (!/walkway/.test(fs.readFileSync(CFG, 'utf8'))) fail('draw', 'the config file does not have the zone');
  else ok(`draw: zone stored at ${JSON.stringify(z.polygon)} with rules ${rule.name}, ${dwell.name}; config file updated`);

  // reject: a line (A then B) named like the zone
  await page.click('button[data-tool="line"]');
  await page.mouse.click(...(await screen([100, 60])));
  await page.mouse.click(...(await screen([100, 200])));
  if ((await page.locator('#shapes polygon.head').count()) !== 1) fail('reject', 'the line has no arrow');
  await page.fill('#item-name', 'walkway');
  await page.press('#item-name', 'Enter');
  await page.click('#save-rules');
  await page.waitForFunction(() => /Not saved|Saved/.test(document.getElementById('editor-status').textContent));
  const bad = await page.textContent('#editor-status');
  const after = await apiGet(`/api/cameras/${encodeURIComponent(CAM)}/rules`);
  if (!/Not saved: .*walkway/.test(bad)) fail('reject', 'status: ' + bad);
  else if (JSON.stringify(after) !== JSON.stringify(saved)) fail('reject', 'rules changed: ' + JSON.stringify(after));
  else ok('reject: ' + bad);
  await page.click('#delete-item');
  await page.click('#save-rules'); // the stored rules again: saves cleanly
  await page.waitForFunction(() => /^Saved/.test(document.getElementById('editor-status').textContent));
  const again = await apiGet(`/api/cameras/${encodeURIComponent(CAM)}/rules`);
  if (JSON.stringify(again) !== JSON.stringify(saved)) fail('reject', 'after deleting the line: ' + JSON.stringify(again));

  // event: an event of the zone in the list
  try {
    await page.waitForSelector('#events li[data-zone="walkway"]', { timeout: LONG });
    const text = (await page.innerText('#events li[data-zone="walkway"]')).replace(/\s+/g, ' ');
    const snap = await page.$('#events li[data-zone="walkway"] img');
    if (snap)
      await page
        .waitForFunction((e) => e.complete && e.naturalWidth > 0, snap, { timeout: 30000 })
        .catch(() => fail('event', 'the snapshot did not load'));
    ok('event: ' + text);
  } catch (e) {
    fail('event', 'no event of zone walkway in the list');
  }
  if (env('VIGIL_SCREENSHOT')) {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: env('VIGIL_SCREENSHOT'), fullPage: true });
  }

  // phone: the same page at a phone's width is one column
  await page.setViewportSize({ width: 390, height: 844 });
  await page.evaluate(() => window.scrollTo(0, 0));
  const a = await page.locator('#cameras-section').boundingBox();
  const b = await page.locator('#events-section').boundingBox();
  const scrollW = await page.evaluate(() => document.documentElement.scrollWidth);
  if (Math.abs(a.x - b.x) < 2 && b.y > a.y && scrollW <= 390) ok('phone: one column, no sideways scrolling');
  else fail('phone', `cameras at ${a.x},${a.y}, events at ${b.x},${b.y}, page width ${scrollW}`);
  if (env('VIGIL_SCREENSHOT_PHONE')) await page.screenshot({ path: env('VIGIL_SCREENSHOT_PHONE') });
  await context.close();
} catch (e) {
  fail('page', e.message.split('\n')[0]);
} finally {
  await browser.close();
}
if (errors.length) fail('page', 'script errors: ' + errors.join('; '));
process.exit(fails ? 1 : 0);
