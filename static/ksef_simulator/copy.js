// "Kopiuj" buttons: copy the text of the element named in data-copy-target to the clipboard.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy-target]");
  if (!button) return;
  var source = document.getElementById(button.getAttribute("data-copy-target"));
  if (!source) return;
  var text = source.value || source.textContent;
  var done = function () {
    button.textContent = button.getAttribute("data-copied-label") || "OK";
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () {
      source.select();
      document.execCommand("copy");
      done();
    });
  } else {
    source.select();
    document.execCommand("copy");
    done();
  }
});
