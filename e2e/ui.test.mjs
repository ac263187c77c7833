// End-to-end test of the browser experience (issue 5): Debian's chromium,
// driven by playwright-core, against the real server with the shipped
// models. scripts/e2e.sh starts the server and sets ONNXSERVE_URL; run it
// via `make e2e`. Screenshots go to e2e/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import SwaggerParser from '@apidevtools/swagger-parser';

const BASE = (process.env.ONNXSERVE_URL || '').replace(/\/$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
const TIMEOUT = 15_000;

let context; // a persistent context: its own fresh --user-data-dir
let page;
let profile;
let models; // GET /v1/models, then each model's GET /v1/models/{name}

async function getJSON(path) {
  const res = await fetch(BASE + path);
  assert.equal(res.status, 200, `GET ${path}: ${res.status}`);
  return res.json();
}

const shape = (dims) => `[${dims.join(', ')}]`;

// The operation block of a model's own predict path in the Swagger UI.
function opblock(name) {
  return page
    .locator('.opblock.opblock-post')
    .filter({ has: page.locator(`.opblock-summary-path[data-path="/v1/models/${name}/predict"]`) });
}

// Opens the Swagger UI on a definition of its selector ("model: NAME" or
// the index) by choosing it in the selector, as a user does, and waits for
// its operations.
async function selectDefinition(name) {
  const select = page.locator('select#select');
  await select.waitFor();
  const value = await select.locator('option').filter({ hasText: new RegExp(`^${name}$`) }).getAttribute('value');
  if ((await select.inputValue()) !== value) await select.selectOption(value);
  // The spec's title (info.title, then the version badges) says which
  // definition is rendered.
  const title = name === 'onnxserve API' ? 'onnxserve' : `onnxserve: ${name.replace(/^model: /, '')}`;
  await page.waitForFunction((t) => {
    const h = document.querySelector('.information-container h2.title');
    return h && h.firstChild && h.firstChild.textContent.trim() === t && document.querySelector('.opblock');
  }, title);
}

async function expand(op) {
  if (!(await op.evaluate((el) => el.classList.contains('is-open')))) {
    await op.locator('.opblock-summary').first().click();
  }
  await op.locator('.opblock-body .opblock-description-wrapper').waitFor();
}

async function shoot(locator, file) {
  await locator.screenshot({ path: join(ARTIFACTS, file), animations: 'disabled' });
}

// Screenshots the page from the top of `from` to the bottom of `to`, so
// the picture runs from the operation to the server's live response and
// leaves out the static response docs below it.
async function shootSpan(from, to, file) {
  const box = async (l) => l.evaluate((el) => {
    const r = el.getBoundingClientRect();
    return { x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, bottom: r.bottom + window.scrollY };
  });
  const a = await box(from);
  const b = await box(to);
  await page.screenshot({
    path: join(ARTIFACTS, file), fullPage: true, animations: 'disabled',
    clip: { x: a.x, y: a.y, width: a.width, height: b.bottom - a.y + 8 },
  });
}

before(async () => {
  assert.ok(BASE, 'ONNXSERVE_URL is not set: run the e2e test with `make e2e` (scripts/e2e.sh)');
  mkdirSync(ARTIFACTS, { recursive: true });
  const list = await getJSON('/v1/models');
  assert.ok(list.models.length > 0, 'the server serves no model');
  models = await Promise.all(list.models.map((m) => getJSON(`/v1/models/${encodeURIComponent(m.name)}`)));

  profile = mkdtempSync(join(tmpdir(), 'onnxserve-e2e-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
      '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run',
    ],
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(TIMEOUT);
  page = context.pages()[0] || (await context.newPage());
  // Nothing but the server under test: the UI must not need the internet.
  await context.route(/^(?!http:\/\/127\.0\.0\.1[:/])/, (route) => route.abort());

  await page.goto(BASE + '/'); // redirects to /swagger/index.html
  await page.locator('.opblock-tag').first().waitFor();
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function validate(path) {
  const spec = await getJSON(path);
  assert.equal(spec.swagger, '2.0', path);
  try {
    await SwaggerParser.validate(structuredClone(spec));
  } catch (err) {
    assert.fail(`swagger-parser on ${path}: ${err.message}`);
  }
  return spec;
}

test('the index spec and every model\'s own spec are valid Swagger 2.0', async () => {
  const index = await validate('/swagger/doc.json');
  assert.ok(index.paths['/v1/models/{name}/predict'], 'the index lacks the generic predict path');
  for (const m of models) {
    const spec = await validate(`/swagger/models/${encodeURIComponent(m.name)}/doc.json`);
    assert.ok(spec.paths[`/v1/models/${m.name}/predict`], `the spec of ${m.name} lacks its predict path`);
  }
});

test('the definition selector lists every model, and each model\'s page states its tensors', async () => {
  assert.match(page.url(), /\/swagger\/index\.html/);
  await shoot(page.locator('#swagger-ui'), 'index.png');
  const options = await page.locator('select#select option').allInnerTexts();
  assert.equal(options[0], 'onnxserve API', `the index is not the first definition: ${options}`);
  for (const m of models) {
    assert.ok(options.includes(`model: ${m.name}`), `the selector lacks model: ${m.name}: ${options}`);
    await selectDefinition(`model: ${m.name}`);
    const tag = page.locator(`h3.opblock-tag[data-tag="model: ${m.name}"]`);
    await tag.waitFor();
    // The tag's description begins with config.yaml's description.
    const tagText = await tag.innerText();
    assert.ok(tagText.includes(m.description.slice(0, 40)), `tag of ${m.name} lacks its description: ${tagText}`);
    // Every tensor's shape is stated on the model's page.
    for (const t of [...m.inputs, ...m.outputs]) {
      assert.ok(tagText.includes(`${t.name}`) && tagText.includes(shape(t.shape)),
        `tag of ${m.name} lacks ${t.name} ${shape(t.shape)}: ${tagText}`);
    }
    assert.equal(await opblock(m.name).count(), 1, `no POST /v1/models/${m.name}/predict in the UI`);
    if (m.name === 'iris') await shoot(page.locator('#swagger-ui'), 'models.png');
  }
});

// Issue 14: a model with a 4M-element input. Its spec is fetched when its
// definition is chosen (measured: the decoded body of the response the
// browser got), and every operation on its page opens, parameters and
// responses rendered, within 2 s of the click.
test('large (a [1, 3, 1024, 1024] input): spec under 200 KB, every operation opens in under 2 s', async () => {
  assert.ok(models.some((m) => m.name === 'large'), 'the e2e model large is not served');
  await selectDefinition('onnxserve API');
  const fetched = page.waitForResponse((r) => r.url() === `${BASE}/swagger/models/large/doc.json`);
  await selectDefinition('model: large');
  const res = await fetched;
  const bytes = (await res.body()).length;
  console.log(`e2e: large's spec is ${bytes} bytes (${res.headers()['content-encoding'] || 'identity'} on the wire)`);
  assert.ok(bytes < 200_000, `large's spec is ${bytes} bytes`);
  const ops = page.locator('.opblock');
  const n = await ops.count();
  assert.ok(n >= 1, 'no operation on large\'s page');
  for (let i = 0; i < n; i++) {
    const op = ops.nth(i);
    const start = Date.now();
    await op.locator('.opblock-summary').first().click();
    await op.locator('.opblock-body .parameters-container').waitFor();
    await op.locator('.opblock-body .responses-wrapper .response').first().waitFor();
    await op.locator('.opblock-body .responses-wrapper .microlight, .opblock-body .responses-wrapper .model-example').first().waitFor();
    const ms = Date.now() - start;
    const path = await op.locator('.opblock-summary-path').getAttribute('data-path');
    console.log(`e2e: large: ${path} opened in ${ms} ms`);
    assert.ok(ms < 2000, `${path} took ${ms} ms to open`);
    const text = await op.innerText();
    assert.ok(text.includes('[-1, 3, 1024, 1024]'), `${path}: the page does not state the input's shape`);
    await shoot(op, `large-operation-${i}.png`);
  }
  await selectDefinition('model: iris');
});

test("iris's operation carries its description, features, labels and tensor shapes", async () => {
  const iris = models.find((m) => m.name === 'iris');
  assert.ok(iris, 'iris is not served');
  await selectDefinition('model: iris');
  const op = opblock('iris');
  await expand(op);
  // The operation's own description, not just the examples and models below it.
  const text = await op.locator('.opblock-description-wrapper').innerText();
  assert.ok(text.includes(iris.description), `no description in:\n${text}`);
  for (const f of ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']) {
    assert.ok(text.includes(f), `feature ${f} missing from:\n${text}`);
  }
  for (const l of ['setosa', 'versicolor', 'virginica']) {
    assert.ok(text.includes(l), `label ${l} missing from:\n${text}`);
  }
  assert.ok(text.includes('[-1, 4]'), `input shape [-1, 4] missing from:\n${text}`);
  for (const t of [...iris.inputs, ...iris.outputs]) {
    assert.ok(text.includes(shape(t.shape)), `shape of ${t.name} missing from:\n${text}`);
  }
  await shoot(op, 'iris-operation.png');
});

// Issue 14 §5: a model's page lists every error status with a real
// example (not "string"), its Model tab writes examples as JSON (not
// OrderedMap {…}), and v2's examples have no additionalProp1 placeholders.
test("iris's page: an example per error status, JSON in the Model tab; v2 examples without placeholders", async () => {
  await selectDefinition('model: iris');
  const op = opblock('iris');
  await expand(op);
  for (const [status, has] of [['404', 'not found'], ['413', 'request body larger than'], ['422', 'sepal_length'], ['503', 'is not available'], ['504', 'deadline']]) {
    const row = op.locator(`.responses-table tr.response[data-code="${status}"]`);
    await row.waitFor();
    const text = await row.innerText();
    assert.ok(text.includes(has), `${status}: no real example:\n${text}`);
    assert.ok(!text.includes('"string"'), `${status}: a placeholder example:\n${text}`);
  }
  await op.locator('.parameters-container .tablinks[data-name="model"]').first().click();
  const model = await op.locator('.parameters-container .model-box').first().innerText();
  assert.ok(!model.includes('OrderedMap'), `the Model tab shows OrderedMap:\n${model}`);
  assert.ok(model.includes('"sepal_length":5.1'), `the Model tab lacks the example as JSON:\n${model}`);
  await op.locator('.parameters-container .tablinks[data-name="example"]').first().click();
  await shoot(op, 'iris-errors.png');

  await selectDefinition('onnxserve API');
  const infer = page.locator('.opblock.opblock-post').filter({ has: page.locator('.opblock-summary-path[data-path="/v2/models/{name}/infer"]') });
  await expand(infer);
  const text = await infer.innerText();
  assert.ok(!text.includes('additionalProp'), `v2 infer shows additionalProp placeholders:\n${text}`);
  assert.ok(text.includes('"timeout": 200000'), `v2 infer's example lacks its parameters:\n${text}`);
  assert.ok(text.includes("unexpected shape for input 'X'"), `v2 infer's 400 has no real example:\n${text}`);
  await infer.locator('.opblock-summary').first().click(); // close it again
  await selectDefinition('model: iris');
});

// Issue 14 §3: a model whose output is an image (digitview) answers with
// a PNG when the response content type image/png is chosen, and the UI
// shows the picture.
test('digitview: Execute with image/png shows the PNG the server drew', async () => {
  await selectDefinition('model: digitview');
  const op = opblock('digitview');
  await expand(op);
  await op.locator('button.try-out__btn').click();
  await op.locator('textarea.body-param__text').waitFor();
  await op.locator('.opblock-section-header select, .responses-inner select').filter({ has: page.locator('option[value="image/png"]') }).first().selectOption('image/png');
  const sent = page.waitForRequest((r) => r.method() === 'POST' && r.url().startsWith(`${BASE}/v1/models/digitview/predict`));
  await op.locator('button.execute').click();
  const request = await sent;
  assert.equal(request.headers()['accept'], 'image/png', 'the UI did not ask for a PNG');
  const img = op.locator('.live-responses-table img');
  await img.waitFor();
  await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
  const size = await img.evaluate((el) => [el.naturalWidth, el.naturalHeight]);
  assert.deepEqual(size, [32, 32], `the picture is ${size}`);
  await shootSpan(op, op.locator('.live-responses-table'), 'digitview-png.png');
  await selectDefinition('model: iris');
});

// Issue 14 §2: a committed image of a digit, uploaded through the file
// picker of digits' predict with image files, is classified as its digit.
test('digits: an image file uploaded through the file picker returns its class', async () => {
  await selectDefinition('model: digits');
  const op = page.locator('.opblock.opblock-post').filter({ has: page.locator('.opblock-summary-path[data-path="/v1/models/digits/versions/1/predict"]') });
  await expand(op);
  await op.locator('button.try-out__btn').click();
  const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'models', 'digits', 'images', 'zero_8x8.png');
  await op.locator('input[type="file"]').setInputFiles(file);
  const sent = page.waitForRequest((r) => r.method() === 'POST' && r.url().startsWith(`${BASE}/v1/models/digits/versions/1/predict`));
  await op.locator('button.execute').click();
  const request = await sent;
  assert.match(request.headers()['content-type'], /^multipart\/form-data/, 'the UI did not send a form');
  const row = op.locator('.live-responses-table .response').first();
  await row.locator('.response-col_status').waitFor();
  await op.locator('.live-responses-table .response-col_description pre').first().waitFor();
  const status = (await row.locator('.response-col_status').innerText()).trim();
  const body = await op.locator('.live-responses-table .response-col_description pre').first().innerText();
  assert.equal(status, '200', `status ${status}, body:\n${body}`);
  assert.equal(JSON.parse(body).predictions[0].label, 'zero', body);
  await shootSpan(op, op.locator('.live-responses-table'), 'digits-upload.png');
  await selectDefinition('model: iris');
});

// Clicks Execute and returns [the request the browser sent, the response
// status and body text the UI shows].
async function execute(op) {
  const isPredict = (r) => r.method() === 'POST' && r.url() === `${BASE}/v1/models/iris/predict`;
  const sent = page.waitForRequest(isPredict);
  const answered = page.waitForResponse((r) => isPredict(r.request()));
  await op.locator('button.execute').click();
  const request = await sent;
  const want = String((await answered).status());
  // The table may still show the previous Execute's answer for a moment:
  // wait (10 s at most) until it shows this one's status, so that status
  // and body are read from the answer to this request.
  const row = op.locator('.live-responses-table .response').first();
  let status = '';
  for (const until = Date.now() + 10_000; Date.now() < until; await page.waitForTimeout(50)) {
    if (await row.locator('.response-col_status').count()) {
      status = (await row.locator('.response-col_status').innerText()).trim();
      if (status === want) break;
    }
  }
  await op.locator('.live-responses-table .response-col_description pre').first().waitFor();
  const body = await op.locator('.live-responses-table .response-col_description pre').first().innerText();
  return [request, status, body];
}

test('iris: Try it out + Execute sends the prefilled example and shows 200 with setosa', async () => {
  const op = opblock('iris');
  await expand(op);
  await op.locator('button.try-out__btn').click();
  const textarea = op.locator('textarea.body-param__text');
  await textarea.waitFor();
  const prefilled = JSON.parse(await textarea.inputValue());
  assert.deepEqual(prefilled, { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 });

  const [request, status, body] = await execute(op);
  assert.deepEqual(request.postDataJSON(), prefilled, 'the UI did not send the prefilled example');
  assert.equal(status, '200', `status ${status}, body:\n${body}`);
  const json = JSON.parse(body);
  assert.equal(json.predictions[0].label, 'setosa', body);
  assert.ok(body.includes('setosa'));
  await shootSpan(op, op.locator('.live-responses-table'), 'iris-predict-200.png');
});

// Swagger UI (5.18.2, from swaggo/files/v2) checks the body against the
// schema before sending: a value of the wrong JSON type such as "abc" never
// reaches the server, and the UI itself names the field.
test('iris: a non-number typed into the body is refused by the UI, naming the field', async () => {
  const op = opblock('iris');
  await expand(op);
  const textarea = op.locator('textarea.body-param__text');
  if (!(await textarea.isVisible())) await op.locator('button.try-out__btn').click();
  await textarea.fill(JSON.stringify({ sepal_length: 'abc', sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }, null, 2));
  let sent = false;
  const onRequest = (r) => { if (r.url().endsWith('/v1/models/iris/predict')) sent = true; };
  page.on('request', onRequest);
  try {
    await op.locator('button.execute').click();
    const errors = op.locator('.validation-errors');
    await errors.waitFor();
    const text = await errors.innerText();
    assert.ok(text.includes('sepal_length'), `the UI's error does not name sepal_length:\n${text}`);
    await shootSpan(op, errors, 'iris-ui-validation.png');
  } finally {
    page.off('request', onRequest);
  }
  assert.equal(sent, false, 'the UI sent a body it reported invalid');
});

// A number sent as a string passes the UI's check and reaches the server,
// whose 422 names the field.
test('iris: a bad value typed into the body shows the 422 naming the field', async () => {
  const op = opblock('iris');
  await expand(op);
  const textarea = op.locator('textarea.body-param__text');
  if (!(await textarea.isVisible())) await op.locator('button.try-out__btn').click();
  const bad = JSON.stringify({ sepal_length: '5.1', sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }, null, 2);
  await textarea.fill(bad);

  const [request, status, body] = await execute(op);
  assert.equal(request.postDataJSON().sepal_length, '5.1', 'the UI did not send the typed body');
  assert.equal(status, '422', `status ${status}, body:\n${body}`);
  const json = JSON.parse(body);
  assert.ok(json.details.some((d) => d.field === 'sepal_length'), `no detail names sepal_length:\n${body}`);
  assert.ok(body.includes('sepal_length'));
  await shootSpan(op, op.locator('.live-responses-table'), 'iris-predict-422.png');
});
