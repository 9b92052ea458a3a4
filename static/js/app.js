// Forms whose submit button has data-once: disable the button after the first submit, so a double
// click sends one request (the server is safe against two anyway).
document.addEventListener("submit", function (event) {
  // A form on its way (not stopped by anything): parts of the page that follow it start now (htmx
  // listens for "portal-submit"; listening for "submit" itself would make htmx cancel the submission).
  if (!event.defaultPrevented) {
    event.target.dispatchEvent(new CustomEvent("portal-submit", { bubbles: true }));
  }
  var button = event.target.querySelector("button[data-once]");
  if (!button) return;
  if (button.dataset.sent) {
    event.preventDefault();
    return;
  }
  button.dataset.sent = "1";
  window.setTimeout(function () { button.disabled = true; }, 0);
});

// Parts of a page that change more often than the page (the unsent-invoices banner on Dokumenty) are
// fetched after it loads, so that the page itself can be kept as it was rendered.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-fragment]").forEach(function (slot) {
    fetch(slot.dataset.fragment, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) { slot.innerHTML = html; })
      .catch(function () {});
  });
});
