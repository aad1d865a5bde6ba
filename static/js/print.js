// The invoice's Print button: shown only where JavaScript can print (the
// browser's own Print works everywhere, and the page has print styles).
(function () {
  'use strict';
  document.querySelectorAll('[data-print]').forEach((button) => {
    button.hidden = false;
    button.addEventListener('click', () => window.print());
  });
})();
