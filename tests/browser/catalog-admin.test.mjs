import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { PASSWORD, SCREENSHOTS, addToCart, launchBrowser, logIn, payInSandbox, signUp, startKasir, watch } from './server.mjs';

const COVER = path.resolve(import.meta.dirname, '..', 'fixtures', 'cover.png');
let browser;
let kasir;

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchBrowser();
  kasir = await startKasir();
  kasir.createStaff('boss@example.com', PASSWORD);
});

after(async () => {
  await browser?.close();
  await kasir?.stop();
});

test('staff create a course with a cover, a student buys it, staff reprice and withdraw it', async () => {
  const staff = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const office = await staff.newPage();
  const officeProblems = watch(office);
  await logIn(office, kasir.url, 'boss@example.com');
  await office.click('text=Back office');
  await office.click('.tabs >> text=Courses');
  await office.screenshot({ path: path.join(SCREENSHOTS, 'staff-courses.png'), fullPage: true });
  await office.click('text=New course');
  await office.fill('#title', 'Kubernetes from Zero');
  await office.fill('#summary', 'Clusters without fear, in four weeks.');
  await office.fill('#description', 'Week one: pods and deployments.\n\nWeek two: services and ingress.');
  await office.fill('#price', '89.00');
  await office.check('input[name=published]');
  await office.setInputFiles('#cover', COVER);
  await office.screenshot({ path: path.join(SCREENSHOTS, 'staff-course-new.png'), fullPage: true });
  await Promise.all([office.waitForURL(/\/staff\/courses\/\d+\/edit$/), office.click('button:has-text("Create course")')]);
  assert.match(await office.locator('.flash').first().innerText(), /Course “Kubernetes from Zero” created/);
  const editUrl = office.url();

  // The student finds it in the catalog, with its cover, and buys it.
  const student = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await student.newPage();
  const studentProblems = watch(page);
  await signUp(page, kasir.url, 'ada@example.com');
  const card = page.locator('.course-card', { hasText: 'Kubernetes from Zero' });
  const cover = card.locator('img.course-cover-image');
  assert.equal(await cover.count(), 1);
  assert.ok(await cover.evaluate((img) => img.complete && img.naturalWidth === 320), 'the cover image loads');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'catalog-with-cover.png'), fullPage: true });
  await card.locator('a').first().click();
  assert.equal(await page.locator('.prose p').count(), 2, 'the description in paragraphs');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'course-with-cover.png'), fullPage: true });
  await page.goto(kasir.url + '/');
  await addToCart(page, 'Kubernetes from Zero');
  await page.goto(kasir.url + '/cart');
  await Promise.all([page.waitForURL(/\/checkout\/ORD-/), page.click('button:has-text("Checkout")')]);
  const number = page.url().split('/').pop();
  await payInSandbox(page, '4242 4242 4242 4242');

  // Staff reprice it: the catalog changes, the invoice does not.
  await office.goto(editUrl);
  await office.fill('#price', '79.00');
  await Promise.all([office.waitForEvent('load'), office.click('button:has-text("Save changes")')]);
  assert.match(await office.locator('.flash').first().innerText(), /Saved “Kubernetes from Zero”: 1 change/);
  assert.match(await office.locator('[data-course-history] > li').first().innerText(), /Price: \$89\.00 → \$79\.00/);
  await page.goto(kasir.url + '/courses/kubernetes-from-zero');
  assert.match(await page.locator('.buy-price').innerText(), /\$79\.00/);
  await page.goto(kasir.url + `/orders/${number}`);
  assert.equal(await page.locator('[data-invoice-total]').innerText(), '$89.00');

  // Staff withdraw it: gone from the catalog, still in My courses.
  await office.goto(editUrl);
  await office.uncheck('input[name=published]');
  await Promise.all([office.waitForEvent('load'), office.click('button:has-text("Save changes")')]);
  const history = office.locator('[data-course-history] > li');
  assert.equal(await history.count(), 3);
  assert.match(await history.first().innerText(), /Unpublished/);
  assert.match(await history.first().innerText(), /boss@example\.com/);
  await office.screenshot({ path: path.join(SCREENSHOTS, 'staff-course-history.png'), fullPage: true });
  await page.goto(kasir.url + '/');
  assert.equal(await page.locator('.course-card', { hasText: 'Kubernetes from Zero' }).count(), 0);
  await page.goto(kasir.url + '/my-courses');
  assert.match(await page.locator('main').innerText(), /Kubernetes from Zero/);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'my-courses-withdrawn.png'), fullPage: true });
  await office.click('.tabs >> text=Courses');
  const row = office.locator('tr[data-course-slug="kubernetes-from-zero"]');
  assert.match(await row.innerText(), /Not published/);
  await office.screenshot({ path: path.join(SCREENSHOTS, 'staff-courses-after.png'), fullPage: true });

  // No LMS is configured here: the grant waits in the outbox, and staff see it.
  await office.click('.tabs >> text=Integrations');
  assert.match(await office.locator('.notice-warning').first().innerText(), /Not configured/);
  assert.equal(await office.locator('[data-kpi=waiting]').innerText(), '1');
  assert.match(await office.locator('tr[data-event-id]').innerText(), /enrollment\.granted[\s\S]*ada@example\.com[\s\S]*Kubernetes from Zero/);
  await office.screenshot({ path: path.join(SCREENSHOTS, 'staff-integrations.png'), fullPage: true });
  assert.deepEqual(officeProblems, []);
  assert.deepEqual(studentProblems, []);
  await student.close();
  await staff.close();
});
