import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { PASSWORD, SCREENSHOTS, addToCart, launchBrowser, logIn, startKasir, startStripe, signUp, watch } from './server.mjs';

let browser;

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

test('sandbox: staff makes a code, a student pays with 4242 and sees the result', async () => {
  const kasir = await startKasir();
  try {
    kasir.createStaff('boss@example.com', PASSWORD);
    const staff = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const staffPage = await staff.newPage();
    await logIn(staffPage, kasir.url, 'boss@example.com');
    await staffPage.click('text=Back office');
    await staffPage.click('.tabs >> text=Promo codes');
    await staffPage.fill('#code', 'launch20');
    await staffPage.fill('#percent', '20');
    await staffPage.fill('#max_redemptions', '50');
    await Promise.all([staffPage.waitForLoadState(), staffPage.click('button:has-text("Create code")')]);
    await staffPage.locator('tr[data-promo-code="LAUNCH20"]').waitFor();
    await staffPage.screenshot({ path: path.join(SCREENSHOTS, 'staff-promo-codes.png'), fullPage: true });
    await staff.close();

    const student = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await student.newPage();
    const problems = watch(page);
    await signUp(page, kasir.url, 'ada@example.com');
    await addToCart(page, 'Rust for Web Developers');
    await addToCart(page, 'Modern JavaScript');
    await page.click('.cart-link');
    await page.fill('#promo_code', 'launch20');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'cart-with-promo.png'), fullPage: true });
    await Promise.all([page.waitForURL(/\/checkout\/INV-\d{4}-\d{6}$/), page.click('button:has-text("Checkout")')]);

    // $89 + $49 = $138, 20 % off = $27.60, total $110.40, all from the server.
    assert.equal(await page.locator('[data-order-discount]').innerText(), '-$27.60');
    assert.equal(await page.locator('[data-order-total]').innerText(), '$110.40');
    await page.fill('#card_number', '4000 0000 0000 0002');
    await page.fill('#expiry', '12/40');
    await page.fill('#cvc', '123');
    await Promise.all([page.waitForLoadState(), page.click('button:has-text("Pay $110.40")')]);
    assert.equal(await page.locator('#card-errors').innerText(), 'Your card was declined.');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'checkout-declined.png'), fullPage: true });

    await page.fill('#card_number', '4242 4242 4242 4242');
    await page.fill('#expiry', '12/40');
    await page.fill('#cvc', '123');
    await Promise.all([page.waitForURL(/\/complete$/), page.click('button:has-text("Pay $110.40")')]);
    assert.equal(await page.locator('.outcome h1').innerText(), "You're in!");
    await page.screenshot({ path: path.join(SCREENSHOTS, 'checkout-complete.png'), fullPage: true });
    assert.equal(await page.locator('#cart-count').innerText(), '0', 'the paid courses left the cart');
    await page.click('text=Go to my courses');
    assert.deepEqual((await page.locator('.list-title').allInnerTexts()).sort(), ['Modern JavaScript', 'Rust for Web Developers']);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'my-courses.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await student.close();
  } finally {
    await kasir.stop();
  }
});

test('stripe: the Card Element mounts from STRIPE_JS_URL and errors show inline', async () => {
  const localstripe = await startStripe();
  const kasir = await startKasir({
    STRIPE_SECRET_KEY: 'sk_test_browser',
    STRIPE_PUBLISHABLE_KEY: 'pk_test_browser',
    STRIPE_WEBHOOK_SECRET: 'whsec_browser',
    STRIPE_API_BASE: localstripe.url,
    STRIPE_JS_URL: `${localstripe.url}/js.stripe.com/v3/`,
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const cspViolations = [];
    page.on('console', (msg) => /Content Security Policy/.test(msg.text()) && cspViolations.push(msg.text()));
    await signUp(page, kasir.url, 'grace@example.com');
    assert.equal(await page.locator('.sandbox-banner').count(), 0, 'no sandbox banner with real Stripe keys');
    await addToCart(page, 'PostgreSQL in Practice');
    await page.goto(kasir.url + '/cart');
    await Promise.all([page.waitForURL(/\/checkout\/INV-/), page.click('button:has-text("Checkout")')]);

    // localstripe's Stripe.js stand-in renders plain inputs in the element.
    const number = page.locator('#card-element input[placeholder="number"]');
    await number.waitFor();
    await number.fill('4242424242424242');
    await page.fill('#card-element input[placeholder="exp_month"]', '12');
    await page.fill('#card-element input[placeholder="exp_year"]', '40');
    await page.fill('#card-element input[placeholder="cvc"]', '123');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'checkout-stripe.png'), fullPage: true });
    await page.click('#pay-button');
    // Its confirmCardPayment is a 3-D Secure step only; on a fresh intent
    // it answers with an error, which the page must show in place.
    await page.click('button:has-text("Complete authentication")');
    const errors = page.locator('#card-errors');
    await errors.waitFor({ state: 'visible' });
    assert.ok((await errors.innerText()).length > 0);
    assert.match(page.url(), /\/checkout\/INV-\d{4}-\d{6}$/, 'still on the payment page');
    assert.equal(await page.locator('#pay-button').isEnabled(), true, 'the student can try again');
    assert.deepEqual(cspViolations, []);
    await context.close();
  } finally {
    await kasir.stop();
    await localstripe.stop();
  }
});
