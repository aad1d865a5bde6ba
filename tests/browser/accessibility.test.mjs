// axe-core on every page a student and a staff member can reach, at
// desktop and phone widths: any violation fails.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { PASSWORD, SCREENSHOTS, addToCart, launchBrowser, logIn, payInSandbox, signUp, startKasir } from './server.mjs';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const WIDTHS = [
  { name: 'desktop', viewport: { width: 1280, height: 900 } },
  { name: 'phone', viewport: { width: 390, height: 844 }, isMobile: true },
];

let browser;
let kasir;
let paidNumber;
let pendingNumber;

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchBrowser();
  kasir = await startKasir();
  kasir.createStaff('boss@example.com', PASSWORD);
  // A student with a paid order (partly refunded) and a pending one.
  const context = await browser.newContext();
  const page = await context.newPage();
  await signUp(page, kasir.url, 'ada@example.com');
  await addToCart(page, 'Rust for Web Developers');
  await page.goto(kasir.url + '/cart');
  await Promise.all([page.waitForURL(/\/checkout\/ORD-/), page.click('button:has-text("Checkout")')]);
  paidNumber = page.url().split('/').pop();
  await payInSandbox(page, '4242 4242 4242 4242');
  await page.goto(kasir.url + '/');
  await addToCart(page, 'Modern JavaScript');
  await page.goto(kasir.url + '/cart');
  await Promise.all([page.waitForURL(/\/checkout\/ORD-/), page.click('button:has-text("Checkout")')]);
  pendingNumber = page.url().split('/').pop();
  await context.close();
  const staff = await browser.newContext();
  const office = await staff.newPage();
  await logIn(office, kasir.url, 'boss@example.com');
  await office.goto(`${kasir.url}/staff/orders/${paidNumber}`);
  await office.fill('#amount', '10.00');
  await office.fill('#reason', 'Started late');
  await Promise.all([office.waitForEvent('load'), office.click('form >> button:has-text("Refund")')]);
  await Promise.all([office.waitForEvent('load'), office.click('button:has-text("Refund $10.00")')]);
  await staff.close();
});

after(async () => {
  await browser?.close();
  await kasir?.stop();
});

/** The violations axe finds on the page as it is now, one line each. */
async function violations(page) {
  await page.addScriptTag({ path: AXE });
  const results = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  return results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`,
  );
}

/** Visits each path (or runs each step) and collects what axe says. */
async function audit(page, pages, width) {
  const found = [];
  for (const [name, visit] of pages) {
    if (process.env.DEBUG_A11Y) console.log(width, name);
    if (typeof visit === 'string') await page.goto(kasir.url + visit);
    else await visit(page);
    for (const v of await violations(page)) found.push(`${width} ${name}: ${v}`);
    await page.screenshot({ path: path.join(SCREENSHOTS, `a11y-${width}-${name}.png`), fullPage: true });
  }
  return found;
}

for (const { name: width, ...options } of WIDTHS) {
  test(`every page a visitor and a student reach has no axe violation (${width})`, async () => {
    // The shop's CSP forbids inline scripts; axe is injected as one.
    const context = await browser.newContext({ ...options, bypassCSP: true });
    const page = await context.newPage();
    const guest = [
      ['catalog', '/'],
      ['course', '/courses/rust-for-web-developers'],
      ['cart-empty', '/cart'],
      ['login', '/login'],
      ['register', '/register'],
      ['forgot', '/password/forgot'],
      ['not-found', '/courses/no-such-course'],
    ];
    const found = await audit(page, guest, width);
    await logIn(page, kasir.url, 'ada@example.com');
    const student = [
      ['cart-promo', async (p) => {
        await p.goto(kasir.url + '/');
        const card = p.locator('.course-card', { hasText: 'UX Design Foundations' });
        if (await card.getByRole('button', { name: 'Add to cart' }).count()) await addToCart(p, 'UX Design Foundations');
        await p.goto(kasir.url + '/cart');
        await p.click('text=Have a promo code?');
        await p.fill('#promo_code', 'NOPE');
        await Promise.all([p.waitForEvent('load'), p.click('button:has-text("Apply")')]);
      }],
      ['cart-billing-error', async (p) => {
        await p.goto(kasir.url + '/cart');
        await p.click('text=Invoice to a company?');
        await p.fill('#tax_id', 'DE123');
        await Promise.all([p.waitForEvent('load'), p.click('button:has-text("Save invoice details")')]);
      }],
      ['pay', `/checkout/${pendingNumber}`],
      ['complete', `/checkout/${paidNumber}/complete`],
      ['orders', '/orders'],
      ['invoice', `/orders/${paidNumber}`],
      ['credit-note', async (p) => {
        await p.goto(`${kasir.url}/orders/${paidNumber}`);
        await Promise.all([p.waitForEvent('load'), p.locator('tr[data-credit-note] a').first().click()]);
      }],
      ['pending-order', `/orders/${pendingNumber}`],
      ['my-courses', '/my-courses'],
      ['menu-open', async (p) => {
        await p.goto(kasir.url + '/my-courses');
        if (await p.locator('.nav-menu > summary').isVisible()) await p.click('.nav-menu > summary');
      }],
      ['indonesian', async (p) => {
        await p.goto(kasir.url + '/');
        await Promise.all([p.waitForEvent('load'), p.click('footer >> text=Bahasa Indonesia')]);
      }],
    ];
    found.push(...(await audit(page, student, width)));
    // Back to English: the switch is saved on the student's account.
    await Promise.all([page.waitForEvent('load'), page.click('footer >> text=English')]);
    // Nothing wider than the screen.
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
    assert.deepEqual(found, []);
    await context.close();
  });

  test(`every back-office page has no axe violation (${width})`, async () => {
    // The shop's CSP forbids inline scripts; axe is injected as one.
    const context = await browser.newContext({ ...options, bypassCSP: true });
    const page = await context.newPage();
    await logIn(page, kasir.url, 'boss@example.com');
    const pages = [
      ['staff-orders', '/staff/orders'],
      ['staff-order', `/staff/orders/${paidNumber}`],
      ['staff-refund-confirm', async (p) => {
        await p.goto(`${kasir.url}/staff/orders/${paidNumber}`);
        await p.fill('#reason', 'Checking the page');
        await Promise.all([p.waitForEvent('load'), p.click('form >> button:has-text("Refund")')]);
      }],
      ['staff-refund-error', async (p) => {
        await p.goto(`${kasir.url}/staff/orders/${paidNumber}`);
        await p.fill('#amount', '1000');
        await p.fill('#reason', 'Too much');
        await Promise.all([p.waitForEvent('load'), p.click('form >> button:has-text("Refund")')]);
      }],
      ['staff-documents', '/staff/documents'],
      ['staff-journal', '/staff/journal'],
      ['staff-reports', '/staff/reports'],
      ['staff-reports-month', async (p) => {
        await p.goto(kasir.url + '/staff/reports');
        await Promise.all([p.waitForEvent('load'), p.click('.presets >> text=This month')]);
      }],
      ['staff-courses', '/staff/courses'],
      ['staff-course-new', '/staff/courses/new'],
      ['staff-course-edit', async (p) => {
        await p.goto(kasir.url + '/staff/courses');
        await Promise.all([p.waitForEvent('load'), p.locator('a:has-text("Edit")').first().click()]);
      }],
      ['staff-promo-codes', '/staff/promo-codes'],
      ['staff-integrations', '/staff/integrations'],
      ['staff-settings', '/staff/settings'],
      ['staff-settings-error', async (p) => {
        await p.goto(kasir.url + '/staff/settings');
        await p.fill('#tax_id', 'DE12');
        await Promise.all([p.waitForEvent('load'), p.click('button:has-text("Save details")')]);
      }],
    ];
    const found = await audit(page, pages, width);
    assert.deepEqual(found, []);
    for (const wide of ['/staff/courses', `/staff/orders/${paidNumber}`, '/staff/journal', '/staff/reports', '/staff/settings']) {
      await page.goto(kasir.url + wide);
      const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
      assert.equal(fits, true, `${wide} fits the ${width} screen`);
    }
    await context.close();
  });
}
