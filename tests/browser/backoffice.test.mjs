import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { PASSWORD, SCREENSHOTS, addToCart, launchBrowser, logIn, payInSandbox, signUp, startKasir, watch } from './server.mjs';
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

test('staff open an invoice, refund it, and find the refund in the journal and reports', async () => {
  // A student buys a course in the sandbox.
  const student = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await student.newPage();
  await signUp(page, kasir.url, 'ada@example.com');
  await addToCart(page, 'Data Analysis with Python');
  await page.goto(kasir.url + '/cart');
  await Promise.all([page.waitForURL(/\/checkout\/ORD-/), page.click('button:has-text("Checkout")')]);
  const number = page.url().split('/').pop();
  await payInSandbox(page, '4242 4242 4242 4242');
  await page.goto(kasir.url + '/orders');
  await page.click(`text=${number}`);
  assert.equal(await page.locator('[data-invoice-total]').innerText(), '$79.00');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'invoice.png'), fullPage: true });
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.locator('.navbar').isVisible(), false, 'the navbar is not printed');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'invoice-print.png'), fullPage: true });
  await student.close();

  // Staff find it, refund it, and see the refund everywhere.
  const staff = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const office = await staff.newPage();
  const problems = watch(office);
  await logIn(office, kasir.url, 'boss@example.com');
  await office.click('text=Back office');
  await office.fill('input[name=email]', 'ada@');
  await Promise.all([office.waitForLoadState(), office.click('button:has-text("Filter")')]);
  await office.screenshot({ path: path.join(SCREENSHOTS, 'staff-orders.png'), fullPage: true });
  await Promise.all([office.waitForURL(new RegExp(`/staff/orders/${number}$`)), office.click(`text=${number}`)]);
  // A partial refund, typed in money, confirmed on its own page.
  assert.equal(await office.locator('#amount').inputValue(), '79.00', 'all that is left, prefilled');
  await office.fill('#amount', '10.00');
  await office.fill('#reason', 'Started late');
  await Promise.all([office.waitForEvent('load'), office.click('form >> button:has-text("Refund")')]);
  assert.match(await office.locator('[data-refund-confirm]').innerText(), /Refund \$10\.00 to ada@example\.com/);
  assert.match(await office.locator('[data-refund-confirm]').innerText(), /keeps access/);
  await office.screenshot({ path: path.join(SCREENSHOTS, 'staff-refund-confirm.png'), fullPage: true });
  await Promise.all([office.waitForURL(new RegExp(`/staff/orders/${number}$`)), office.click('button:has-text("Refund $10.00")')]);
  assert.match(await office.locator('.flash-ok').innerText(), /Refund of \$10\.00 requested/);
  assert.equal(await office.locator('[data-order-status]').innerText(), 'Partly refunded');
  // Then the rest.
  assert.equal(await office.locator('#amount').inputValue(), '69.00');
  await office.fill('#reason', 'Course did not fit the student');
  await Promise.all([office.waitForEvent('load'), office.click('form >> button:has-text("Refund")')]);
  assert.match(await office.locator('[data-refund-confirm]').innerText(), /access to Data Analysis with Python ends/);
  await Promise.all([office.waitForURL(new RegExp(`/staff/orders/${number}$`)), office.click('button:has-text("Refund $69.00")')]);
  assert.match(await office.locator('.flash-ok').innerText(), /Refund of \$69\.00 requested/);
  assert.equal(await office.locator('[data-order-status]').innerText(), 'Refunded');
  await office.screenshot({ path: path.join(SCREENSHOTS, 'staff-order-refunded.png'), fullPage: true });
  // Each refund issued a credit note against the invoice: print the first.
  const notes = office.locator('[data-documents] [data-credit-note] a');
  assert.equal(await notes.count(), 2);
  await Promise.all([office.waitForURL(/\/credit-notes\/CN-\d{4}-\d{6}$/), notes.first().click()]);
  assert.equal(await office.locator('h1[data-document]').innerText(), 'Credit note');
  assert.equal(await office.locator('[data-credited]').innerText(), '-$10.00');
  assert.match(await office.locator('[data-credit-reason]').innerText(), /Started late/);
  await office.emulateMedia({ media: 'print' });
  assert.equal(await office.locator('.navbar').isVisible(), false, 'printed without the navbar');
  await office.screenshot({ path: path.join(SCREENSHOTS, 'credit-note-print.png'), fullPage: true });
  await office.emulateMedia({ media: 'screen' });
  await office.goto(`${kasir.url}/staff/orders/${number}`);

  await office.click('.tabs >> text=Journal');
  const refundRow = office.locator('tr[data-journal-type="refund"]');
  assert.equal(await refundRow.count(), 2);
  assert.match(await refundRow.first().innerText(), /Started late|\$10\.00/);
  await office.screenshot({ path: path.join(SCREENSHOTS, 'staff-journal.png'), fullPage: true });

  await office.click('.tabs >> text=Reports');
  assert.equal(await office.locator('[data-kpi=refunds]').innerText(), '$79.00');
  assert.equal(await office.locator('[data-kpi=net]').innerText(), '$0.00');
  assert.match(await office.locator('[data-chain]').innerText(), /intact/);
  await office.screenshot({ path: path.join(SCREENSHOTS, 'staff-reports.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await staff.close();
});
