import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { SCREENSHOTS, launchBrowser, startKasir } from './server.mjs';

// A shop with a year of history: 48 courses (8 demo + 40), 600 paid orders.
let browser;
let kasir;

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchBrowser();
  kasir = await startKasir();
  kasir.benchSeed(['--courses', '40', '--users', '100', '--orders', '600', '--pending', '0', '--carts', '0']);
});

after(async () => {
  await browser?.close();
  await kasir?.stop();
});

test('a large catalog is paged and a year of revenue is charted by month', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(err.message));

  await page.goto(kasir.url + '/');
  assert.equal(await page.locator('.course-card').count(), 24);
  assert.equal(await page.locator('.pager span').innerText(), 'Page 1 of 2');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'catalog-paged.png'), fullPage: true });
  await Promise.all([page.waitForURL(/\?page=2$/), page.click('a[rel=next]')]);
  assert.equal(await page.locator('.course-card').count(), 24);
  assert.equal(await page.locator('.pager span').innerText(), 'Page 2 of 2');
  assert.equal(await page.locator('a[rel=next]').count(), 0);
  await page.locator('.pager').screenshot({ path: path.join(SCREENSHOTS, 'catalog-pager.png') });

  await page.goto(kasir.url + '/login');
  await page.fill('#email', 'bench-staff@example.com');
  await page.fill('#password', 'bench-password');
  await Promise.all([page.waitForURL(kasir.url + '/'), page.click('button[type=submit]')]);
  await page.goto(kasir.url + '/staff/reports');
  assert.equal(await page.locator('h2', { hasText: 'Net revenue by' }).innerText(), 'Net revenue by month');
  const bars = await page.locator('svg.chart rect').count();
  assert.ok(bars >= 12 && bars <= 13, `a bar per month, not per day (${bars})`);
  const chart = await page.locator('svg.chart').boundingBox();
  assert.ok(chart.width < 1280, `the chart fits the page (${chart.width}px)`);
  assert.equal(await page.locator('[data-kpi=orders]').innerText(), '600');
  assert.match(await page.locator('[data-chain]').innerText(), /journal chain intact/);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'reports-year.png'), fullPage: false });
  assert.deepEqual(problems, []);
  await context.close();
});
