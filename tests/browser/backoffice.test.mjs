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

test('staff set the seller on the settings page, and the next invoice is from it', async () => {
  const staff = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const office = await staff.newPage();
  await logIn(office, kasir.url, 'boss@example.com');
  await office.click('text=Back office');
  await office.click('.tabs >> text=Settings');
  assert.match(await office.locator('[data-seller-preview]').innerText(), /kasir/, 'the configured seller first');
  // A malformed EU VAT number is refused, with what was typed kept.
  await office.fill('#name', 'PT Kursus Maju');
  await office.fill('#tax_id', 'DE12');
  await Promise.all([office.waitForEvent('load'), office.click('button:has-text("Save details")')]);
  assert.match(await office.locator('[role=alert]').innerText(), /DE/);
  assert.equal(await office.locator('#name').inputValue(), 'PT Kursus Maju');
  await office.screenshot({ path: path.join(SCREENSHOTS, 'staff-settings-error.png'), fullPage: true });
  // From here on, nothing fails to load (the refusal above is a 400).
  const problems = watch(office);
  await office.fill('#tax_id', '01.234.567.8-901.000');
  await office.fill('#address', 'Jl. Sudirman 1\nJakarta 10220');
  await office.fill('#footer', 'Bank BCA 123-456-789');
  await Promise.all([office.waitForEvent('load'), office.click('button:has-text("Save details")')]);
  assert.match(await office.locator('.flash-ok').innerText(), /Seller details saved/);
  const preview = await office.locator('[data-seller-preview]').innerText();
  assert.match(preview, /PT Kursus Maju/);
  assert.match(preview, /Jakarta 10220/);
  assert.match(await office.locator('[data-last-change]').innerText(), /boss@example\.com/);
  await office.screenshot({ path: path.join(SCREENSHOTS, 'staff-settings.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await staff.close();

  const student = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await student.newPage();
  await signUp(page, kasir.url, 'bea@example.com');
  await addToCart(page, 'Modern JavaScript');
  await page.goto(kasir.url + '/cart');
  await Promise.all([page.waitForURL(/\/checkout\/ORD-/), page.click('button:has-text("Checkout")')]);
  const number = page.url().split('/').pop();
  await payInSandbox(page, '4242 4242 4242 4242');
  await page.goto(`${kasir.url}/orders/${number}`);
  const seller = await page.locator('[data-seller]').innerText();
  assert.match(seller, /PT Kursus Maju/);
  assert.match(seller, /Jl\. Sudirman 1/);
  assert.equal(await page.locator('[data-seller-tax-id]').innerText(), 'Tax number: 01.234.567.8-901.000');
  assert.equal(await page.locator('[data-invoice-footer]').innerText(), 'Bank BCA 123-456-789');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'invoice-seller.png'), fullPage: true });
  await student.close();
});
