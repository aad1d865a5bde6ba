import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { PASSWORD, SCREENSHOTS, addToCart, launchBrowser, logIn, startKasir, startStripe, startStripeStandin, signUp, watch } from './server.mjs';

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
    await page.click('text=Have a promo code?');
    await page.fill('#promo_code', 'launch20');
    await Promise.all([page.waitForEvent('load'), page.click('button:has-text("Apply")')]);
    assert.equal(await page.locator('[data-cart-total]').innerText(), '$110.40', 'the cart shows the discounted total');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'cart-with-promo.png'), fullPage: true });
    await Promise.all([page.waitForURL(/\/checkout\/ORD-\d{4}-\d{6}$/), page.click('button:has-text("Checkout")')]);

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

test('stripe: the Payment Element pays, shows a decline in place, and a bank debit stays processing', async () => {
  // Bank debits stay `processing` for two minutes: longer than this test.
  const stripe = await startStripe({ settleSeconds: 120 });
  const standin = await startStripeStandin(stripe, 'sk_test_browser');
  const kasir = await startKasir({
    STRIPE_SECRET_KEY: 'sk_test_browser',
    STRIPE_PUBLISHABLE_KEY: 'pk_test_browser',
    STRIPE_WEBHOOK_SECRET: 'whsec_browser',
    STRIPE_API_BASE: stripe.url,
    STRIPE_JS_URL: standin.jsUrl,
  });
  // One student per payment: localstripe cannot retry a declined intent.
  const buyer = async (email, course) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = watch(page);
    await signUp(page, kasir.url, email);
    await addToCart(page, course);
    await page.goto(kasir.url + '/cart');
    await Promise.all([page.waitForURL(/\/checkout\/ORD-\d{4}-\d{6}$/), page.click('button:has-text("Checkout")')]);
    await page.locator('#payment-element [data-standin="payment-element"]').waitFor();
    return { context, page, problems, number: page.url().split('/').pop() };
  };
  const payByCard = async (page, number) => {
    await page.fill('#standin-number', number);
    await page.fill('#standin-expiry', '12 / 40');
    await page.fill('#standin-cvc', '123');
    await page.click('#pay-button');
  };
  try {
    const declined = await buyer('grace@example.com', 'PostgreSQL in Practice');
    assert.equal(await declined.page.locator('.sandbox-banner').count(), 0, 'no sandbox banner with Stripe keys');
    await payByCard(declined.page, '4000000000000341');
    const errors = declined.page.locator('#payment-errors');
    await errors.waitFor({ state: 'visible' });
    assert.equal(await errors.innerText(), 'Your card was declined.');
    assert.match(declined.page.url(), /\/checkout\/ORD-\d{4}-\d{6}$/, 'still on the payment page');
    assert.equal(await declined.page.locator('#pay-button').isEnabled(), true, 'the student can try again');
    await declined.page.screenshot({ path: path.join(SCREENSHOTS, 'payment-element-declined.png'), fullPage: true });
    assert.deepEqual(declined.problems, []);
    await declined.context.close();

    const paid = await buyer('ada@example.com', 'Rust for Web Developers');
    await paid.page.screenshot({ path: path.join(SCREENSHOTS, 'payment-element.png'), fullPage: true });
    await Promise.all([paid.page.waitForURL(/\/complete\?payment_intent=pi_.*redirect_status=succeeded/), payByCard(paid.page, '4242424242424242')]);
    assert.equal(await paid.page.locator('.outcome h1').innerText(), "You're in!");
    await paid.page.screenshot({ path: path.join(SCREENSHOTS, 'payment-element-paid.png'), fullPage: true });
    await paid.page.goto(kasir.url + '/orders');
    assert.equal(await paid.page.locator(`tr:has-text("${paid.number}") .status`).innerText(), 'Paid');
    assert.deepEqual(paid.problems, []);
    await paid.context.close();

    const debit = await buyer('bob@example.com', 'Modern JavaScript');
    await debit.page.click('[role=tab][data-method="sepa_debit"]');
    await debit.page.fill('#standin-name', 'Bob Example');
    await debit.page.fill('#standin-email', 'bob@example.com');
    await debit.page.fill('#standin-iban', 'DE89 3704 0044 0532 0130 00');
    await Promise.all([debit.page.waitForURL(/redirect_status=processing/), debit.page.click('#pay-button')]);
    assert.equal(await debit.page.locator('.outcome h1').innerText(), 'Payment processing');
    await debit.page.screenshot({ path: path.join(SCREENSHOTS, 'payment-element-processing.png'), fullPage: true });
    await debit.page.goto(kasir.url + '/orders');
    assert.equal(await debit.page.locator(`tr:has-text("${debit.number}") .status`).innerText(), 'Awaiting payment', 'it stays pending');
    await debit.page.goto(kasir.url + `/checkout/${debit.number}`);
    assert.match(debit.page.url(), /\/complete$/, 'a processing payment is not offered again');
    assert.deepEqual(debit.problems, []);
    await debit.context.close();

    // Every request the page's payments made was one today's Stripe accepts.
    const violations = (await stripe.requests()).flatMap((r) => r.violations);
    assert.deepEqual(violations, []);
  } finally {
    await kasir.stop();
    await standin.stop();
    await stripe.stop();
  }
});
