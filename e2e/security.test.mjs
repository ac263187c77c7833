// End-to-end test of API keys and CORS in the browser (issue 12): a server
// started by scripts/e2e.sh with --api-key and --cors-origins naming one
// loopback origin, which this test serves a page from. Debian's chromium,
// driven by playwright-core. Environment: ONNXSERVE_SECURE_URL (the
// server), ONNXSERVE_KEY (its key), ONNXSERVE_PAGE_PORT (the listed
// origin's port).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import SwaggerParser from '@apidevtools/swagger-parser';

const BASE = (process.env.ONNXSERVE_SECURE_URL || '').replace(/\/$/, '');
const KEY = process.env.ONNXSERVE_KEY || '';
const PAGE_PORT = Number(process.env.ONNXSERVE_PAGE_PORT || 0);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
const TIMEOUT = 15_000;
const SETOSA = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };

let context;
let page;
let profile;
const pages = []; // the page servers of the other origins

// servePage serves an empty page on a loopback port (0: any free one), as
// the site of another origin would.
function servePage(port) {
  return new Promise((resolve, reject) => {
    const srv = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>another origin</title><p>another origin</p>');
    });
    srv.on('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      pages.push(srv);
      resolve(`http://127.0.0.1:${srv.address().port}`);
    });
  });
}

before(async () => {
  assert.ok(BASE && KEY && PAGE_PORT, 'ONNXSERVE_SECURE_URL, ONNXSERVE_KEY and ONNXSERVE_PAGE_PORT are not set: run with `make e2e` (scripts/e2e.sh)');
  mkdirSync(ARTIFACTS, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'onnxserve-e2e-security-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(TIMEOUT);
  page = context.pages()[0] || (await context.newPage());
  await context.route(/^(?!http:\/\/127\.0\.0\.1[:/])/, (route) => route.abort());
});

after(async () => {
  await context?.close();
  for (const srv of pages) srv.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

// predictFrom has the page at origin call predict on the server with
// fetch, with the key or without, and returns what the page could read:
// the status, the body and the X-Request-ID header, or the browser's error.
async function predictFrom(origin, withKey) {
  await page.goto(origin + '/');
  return page.evaluate(async ([url, key, body]) => {
    const headers = { 'Content-Type': 'application/json', 'X-Request-ID': 'from-another-origin' };
    if (key) headers.Authorization = `Bearer ${key}`;
    try {
      const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
      return { status: res.status, body: await res.text(), requestId: res.headers.get('X-Request-ID') };
    } catch (err) {
      return { error: String(err) };
    }
  }, [`${BASE}/v1/models/iris/predict`, withKey ? KEY : '', SETOSA]);
}

test('the spec of a server with keys is valid Swagger 2.0 and declares them', async () => {
  const res = await fetch(BASE + '/swagger/doc.json'); // open, as the UI must load before it has a key
  assert.equal(res.status, 200);
  const spec = await res.json();
  try {
    await SwaggerParser.validate(structuredClone(spec));
  } catch (err) {
    assert.fail(`swagger-parser: ${err.message}`);
  }
  assert.deepEqual(Object.keys(spec.securityDefinitions).sort(), ['APIKey', 'Bearer']);
  assert.ok(spec.paths['/v1/models/{name}/predict'].post.security, 'predict needs no key in the spec');
  assert.equal(spec.paths['/healthz'].get.security, undefined, '/healthz needs a key in the spec');
  // A model's own document, which the UI's selector opens, declares them too.
  const iris = await (await fetch(BASE + '/swagger/models/iris/doc.json')).json();
  try {
    await SwaggerParser.validate(structuredClone(iris));
  } catch (err) {
    assert.fail(`swagger-parser on iris: ${err.message}`);
  }
  assert.deepEqual(Object.keys(iris.securityDefinitions).sort(), ['APIKey', 'Bearer']);
  assert.ok(iris.paths['/v1/models/iris/predict'].post.security, 'the predict path of iris needs no key in its spec');
});

test('a page of the listed origin calls predict with fetch and reads the answer', async () => {
  const origin = await servePage(PAGE_PORT);
  const got = await predictFrom(origin, true);
  assert.equal(got.error, undefined, `fetch failed: ${got.error}`);
  assert.equal(got.status, 200, got.body);
  assert.equal(JSON.parse(got.body).predictions[0].label, 'setosa', got.body);
  assert.equal(got.requestId, 'from-another-origin', 'X-Request-ID is not exposed to the page');
  // Without the key the page reads the 401 itself.
  const refused = await predictFrom(origin, false);
  assert.equal(refused.status, 401, JSON.stringify(refused));
});

test('a page of an origin not listed is blocked by the browser', async () => {
  const origin = await servePage(0);
  assert.notEqual(origin, `http://127.0.0.1:${PAGE_PORT}`);
  const got = await predictFrom(origin, true);
  assert.equal(got.status, undefined, `the page read an answer: ${JSON.stringify(got)}`);
  assert.match(got.error, /TypeError|Failed to fetch/, got.error);
});

test("the Swagger UI's Authorize button takes the key, and Try it out gets 200", async () => {
  await page.goto(BASE + '/swagger/index.html');
  // iris's own definition, chosen in the UI's selector.
  const select = page.locator('select#select');
  await select.waitFor();
  await select.selectOption(await select.locator('option').filter({ hasText: /^model: iris$/ }).getAttribute('value'));
  const op = page.locator('.opblock.opblock-post')
    .filter({ has: page.locator('.opblock-summary-path[data-path="/v1/models/iris/predict"]') });
  await op.locator('.opblock-summary').first().click();
  await op.locator('button.try-out__btn').click();
  const execute = async () => {
    const sent = page.waitForRequest((r) => r.method() === 'POST' && r.url() === `${BASE}/v1/models/iris/predict`);
    await op.locator('button.execute').click();
    const request = await sent;
    const status = op.locator('.live-responses-table .response .response-col_status').first();
    await status.waitFor();
    await page.waitForFunction((el) => el.innerText.trim() !== '', await status.elementHandle());
    return [request, (await status.innerText()).trim()];
  };

  // Not yet authorized: the server answers 401.
  let [request, status] = await execute();
  assert.equal(status, '401');
  assert.equal(request.headers()['x-api-key'], undefined);

  await page.locator('.scheme-container button.authorize').click();
  const modal = page.locator('.modal-ux');
  // One form per scheme: APIKey takes the bare key (Bearer, "Bearer KEY").
  const scheme = modal.locator('form').filter({ hasText: /^APIKey/ });
  await scheme.locator('input').fill(KEY);
  await scheme.locator('button.authorize').click();
  await scheme.locator('button.btn-done').click();

  [request, status] = await execute();
  assert.equal(request.headers()['x-api-key'], KEY, 'the UI did not send the key');
  assert.equal(status, '200');
  const body = await op.locator('.live-responses-table .response-col_description pre').first().innerText();
  assert.equal(JSON.parse(body).predictions[0].label, 'setosa', body);
  await op.screenshot({ path: join(ARTIFACTS, 'iris-predict-authorized.png'), animations: 'disabled' });
});
