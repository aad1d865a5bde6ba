// The Stripe payment page: mounts the Card Element and confirms the
// PaymentIntent with confirmCardPayment (which also runs 3-D Secure).
// The server set the amount; nothing here can change it.
(function () {
  'use strict';

  const form = document.getElementById('payment-form');
  if (!form || typeof window.Stripe !== 'function') {
    const errors = document.getElementById('card-errors');
    if (form && errors) {
      errors.textContent = 'The card form could not load. Check your connection and reload the page.';
      errors.hidden = false;
    }
    return;
  }
  const stripe = window.Stripe(form.dataset.stripeKey);
  const card = stripe.elements().create('card', { hidePostalCode: true });
  card.mount('#card-element');
  const errors = document.getElementById('card-errors');
  const button = document.getElementById('pay-button');

  function showError(message) {
    errors.textContent = message;
    errors.hidden = !message;
  }

  card.on('change', (event) => showError(event.error ? event.error.message : ''));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    showError('');
    let result;
    try {
      result = await stripe.confirmCardPayment(form.dataset.clientSecret, { payment_method: { card } });
    } catch (err) {
      result = { error: { message: (err && err.message) || 'The payment could not be sent. Try again.' } };
    }
    if (result.error) {
      showError(result.error.message || 'Your payment was not completed.');
      button.disabled = false;
      return;
    }
    window.location.assign(form.dataset.returnUrl);
  });
})();
