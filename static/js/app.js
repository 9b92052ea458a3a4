// Forms whose submit button has data-once: disable the button after the first submit, so a double
// click sends one request (the server is safe against two anyway).
document.addEventListener("submit", function (event) {
  var button = event.target.querySelector("button[data-once]");
  if (!button) return;
  if (button.dataset.sent) {
    event.preventDefault();
    return;
  }
  button.dataset.sent = "1";
  window.setTimeout(function () { button.disabled = true; }, 0);
});
