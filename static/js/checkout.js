// The Stripe payment page: mounts the Payment Element (cards, wallets,
// Link and local methods, as the account enables them) and confirms the
// PaymentIntent with confirmPayment. Stripe sends the student back to the
// order's complete page, which asks Stripe itself how the payment went;
// nothing here can change the amount, which the server set.
(function () {
  'use strict';

  const form = document.getElementById('payment-form');
  const errors = document.getElementById('payment-errors');
  const button = document.getElementById('pay-button');
  if (!form) return;
  // Words come from the page, in its language.
  const words = form.dataset;

  function showError(message) {
    errors.textContent = message || '';
    errors.hidden = !message;
  }

  if (typeof window.Stripe !== 'function') {
    showError(words.msgLoadFailed);
    button.disabled = true;
    return;
  }

  const stripe = window.Stripe(form.dataset.stripeKey);
  const elements = stripe.elements({
    clientSecret: form.dataset.clientSecret,
    locale: form.dataset.locale,
    appearance: {
      theme: 'stripe',
      variables: { colorPrimary: '#4338ca', borderRadius: '8px', fontSizeBase: '16px' },
    },
  });
  const paymentElement = elements.create('payment', { layout: 'tabs' });
  paymentElement.mount('#payment-element');
  paymentElement.on('change', () => showError(''));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    showError('');
    let result;
    try {
      result = await stripe.confirmPayment({
        elements,
        confirmParams: { return_url: form.dataset.returnUrl },
      });
    } catch (err) {
      result = { error: { message: (err && err.message) || words.msgSendFailed } };
    }
    // Only reached when the payment did not go through: on success (or a
    // bank method that settles later) Stripe redirects to the return URL.
    const error = result && result.error;
    if (error) {
      const shown = error.type === 'card_error' || error.type === 'validation_error';
      showError(shown ? error.message : words.msgNotCompleted);
    }
    button.disabled = false;
  });
})();
