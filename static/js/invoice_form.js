// Wystaw / Dodaj / Korekta: add and remove lines, live totals per VAT rate, and filling a remembered
// contractor's data from the NIP. Amounts are exact (BigInt grosze) and rounded half-up like the server,
// which recomputes everything authoritatively on save.
(function () {
  "use strict";
  var form = document.querySelector("[data-invoice-form]");
  if (!form) return;
  var linesBox = form.querySelector("[data-lines]");
  var template = document.getElementById("line-template");
  var total = form.querySelector("input[name$='-TOTAL_FORMS']");
  var totals = form.querySelector("[data-totals]");

  // --- exact decimals -----------------------------------------------------------------------------------
  function parseDec(text) {
    var s = String(text || "").replace(/[\s\u00a0]/g, "").replace(",", ".");
    if (!/^-?\d*(\.\d*)?$/.test(s) || s === "" || s === "." || s === "-") return null;
    var neg = s.charAt(0) === "-";
    if (neg) s = s.slice(1);
    var parts = s.split(".");
    var frac = parts[1] || "";
    var v = BigInt((parts[0] || "0") + frac);
    return { v: neg ? -v : v, s: frac.length };
  }
  function pow10(n) { return BigInt("1" + "0".repeat(n)); }
  function toGrosze(v, scale) {  // half-up, away from zero
    if (scale <= 2) return v * pow10(2 - scale);
    var d = pow10(scale - 2), q = v / d, r = v % d;
    if (r < 0n) r = -r;
    if (r * 2n >= d) q += v < 0n ? -1n : 1n;
    return q;
  }
  function vatOf(netGrosze, code) {
    if (!/^\d+$/.test(code)) return 0n;
    return toGrosze(netGrosze * BigInt(code), 4);
  }
  function vatInGross(grossGrosze, code) {  // art. 106e ust. 8: gross x r / (100 + r), half-up
    if (!/^\d+$/.test(code)) return 0n;
    var r = BigInt(code), num = grossGrosze * r, den = 100n + r;
    var q = num / den, rem = num % den;
    if (rem < 0n) rem = -rem;
    if (rem * 2n >= den) q += num < 0n ? -1n : 1n;
    return q;
  }
  // A discount on the whole invoice over the lines' values (grosze), as invoices.totals.spread_discount does.
  function spread(values, percent, amount) {
    if (percent && percent.v > 0n) {
      return values.map(function (v) { return toGrosze(v * percent.v, 4 + percent.s); });
    }
    var zero = values.map(function () { return 0n; });
    if (!amount || amount.v <= 0n) return zero;
    var a = toGrosze(amount.v, amount.s), sum = values.reduce(function (x, y) { return x + y; }, 0n);
    if (sum <= 0n) return zero;
    var shares = values.map(function (v) { return (a * v) / sum; });
    var rems = values.map(function (v, i) { return { i: i, r: (a * v) % sum }; });
    var left = a - shares.reduce(function (x, y) { return x + y; }, 0n);
    rems.sort(function (x, y) { return x.r === y.r ? x.i - y.i : (y.r > x.r ? 1 : -1); });
    for (var k = 0; k < rems.length && left > 0n; k++, left--) shares[rems[k].i] += 1n;
    return shares;
  }
  function fmt(g) {
    var neg = g < 0n, a = neg ? -g : g, s = a.toString().padStart(3, "0");
    var whole = s.slice(0, -2), frac = s.slice(-2);
    whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, "\u00a0");
    return (neg ? "-" : "") + whole + "," + frac;
  }

  // --- lines --------------------------------------------------------------------------------------------
  function rows() {
    return Array.prototype.filter.call(linesBox.querySelectorAll("[data-line]"), function (row) {
      return !row.hidden;
    });
  }
  function field(row, suffix) { return row.querySelector("[name$='-" + suffix + "']"); }

  function renumber() {
    rows().forEach(function (row, i) { row.querySelector("[data-line-no]").textContent = (i + 1) + "."; });
  }

  function addLine() {
    var index = parseInt(total.value, 10);
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var row = holder.firstElementChild;
    linesBox.appendChild(row);
    total.value = String(index + 1);
    renumber();
    recalc();
    var name = field(row, "name");
    if (name) name.focus();
  }

  function removeLine(row) {
    if (rows().length <= 1) {  // keep one row: clear it instead
      ["name", "unit_price"].forEach(function (s) { var f = field(row, s); if (f) f.value = ""; });
    } else {
      var del = field(row, "DELETE");
      if (del) del.checked = true;
      row.hidden = true;
    }
    renumber();
    recalc();
  }

  // --- totals -------------------------------------------------------------------------------------------
  // rate codes in the select's (FA(3)) order; an object's keys would put "5" before "23"
  var rateLabels = {}, rateOrder = [];
  var firstSelect = form.querySelector("select[name$='-vat_rate']") || (template && template.content.querySelector("select"));
  if (firstSelect) {
    Array.prototype.forEach.call(firstSelect.options, function (o) {
      rateLabels[o.value] = o.textContent;
      rateOrder.push(o.value);
    });
  }
  var before = {};
  if (totals && totals.dataset.beforeNets) {
    var raw = JSON.parse(totals.dataset.beforeNets);
    Object.keys(raw).forEach(function (code) {
      var d = parseDec(raw[code]);
      before[code] = d ? toGrosze(d.v, d.s) : 0n;
    });
  }

  // --- pricing: net, gross (art. 106e ust. 7-8) or a margin scheme, and a discount on the whole invoice ----
  var grossBox = form.querySelector("input[name='prices_gross']");
  var marginBox = form.querySelector("select[name='margin_scheme']");
  var discountPercent = form.querySelector("input[name='discount_percent']");
  var discountAmount = form.querySelector("input[name='discount_amount']");
  var MARGIN = "margin";
  if (totals) {
    rateLabels[MARGIN] = totals.dataset.marginLabel || MARGIN;
    rateOrder.push(MARGIN);
  }
  function pricing() {
    if (marginBox ? marginBox.value : totals && totals.dataset.pricing === "margin") return "margin";
    if (grossBox ? grossBox.checked : totals && totals.dataset.pricing === "gross") return "gross";
    return "net";
  }
  function showPricing(mode) {
    linesBox.parentNode.querySelectorAll("[data-line]").forEach(function (row) {
      var price = field(row, "unit_price"), rate = field(row, "vat_rate");
      var label = price && form.querySelector("label[for='" + price.id + "']");
      if (label && totals) label.textContent = mode === "net" ? totals.dataset.netPrice : totals.dataset.grossPrice;
      var valueLabel = row.querySelector("[data-line-value-label]");
      if (valueLabel && totals) valueLabel.textContent = mode === "net" ? totals.dataset.netValue : totals.dataset.grossValue;
      var rateField = rate && rate.closest(".field");
      if (rateField) rateField.style.display = mode === "margin" ? "none" : "";  // .field sets its own display
    });
  }

  function recalc() {
    if (!totals) return;
    var mode = pricing();
    showPricing(mode);
    var nets = {};
    var valid = [], values = [];
    rows().forEach(function (row) {
      var q = parseDec(field(row, "quantity").value), p = parseDec(field(row, "unit_price").value);
      var out = row.querySelector("[data-line-net]");
      if (!q || !p) { out.textContent = "—"; return; }
      var net = toGrosze(q.v * p.v, q.s + p.s);
      var off = field(row, "discount_percent"), d = off ? parseDec(off.value) : null;
      if (d && d.v > 0n) net -= toGrosze(net * d.v, 4 + d.s);  // P_10: the percent of quantity x price
      valid.push(row);
      values.push(net);
    });
    var percent = discountPercent ? parseDec(discountPercent.value) : parseDec(totals.dataset.discountPercent);
    var amount = discountAmount ? parseDec(discountAmount.value) : parseDec(totals.dataset.discountAmount);
    var shares = spread(values, percent, amount), discountSum = 0n;
    valid.forEach(function (row, i) {
      var value = values[i] - shares[i];
      discountSum += shares[i];
      row.querySelector("[data-line-net]").textContent = fmt(value);
      var code = mode === "margin" ? MARGIN : field(row, "vat_rate").value;
      nets[code] = (nets[code] || 0n) + value;
    });
    var note = totals.querySelector("[data-discount-note]");
    if (note) {
      note.hidden = discountSum === 0n;
      note.querySelector("output").textContent = fmt(discountSum);
    }
    var codes = rateOrder.filter(function (c) { return c in nets || c in before; });
    var body = totals.querySelector("[data-rate-rows]");
    body.textContent = "";
    var sumNet = 0n, sumVat = 0n;
    codes.forEach(function (code) {
      var after = nets[code] || 0n, prior = before[code] || 0n, net, vat;
      if (mode === "net") {
        net = after - prior; vat = vatOf(after, code) - vatOf(prior, code);
      } else {  // the lines' values are gross: the tax is taken out of each rate's sum (none in a margin scheme)
        vat = vatInGross(after, code) - vatInGross(prior, code); net = after - prior - vat;
      }
      sumNet += net; sumVat += vat;
      var tr = document.createElement("tr");
      [rateLabels[code] || code, fmt(net), fmt(vat), fmt(net + vat)].forEach(function (text, i) {
        var cell = document.createElement(i === 0 ? "th" : "td");
        if (i === 0) cell.scope = "row"; else cell.className = "num";
        cell.textContent = text;
        tr.appendChild(cell);
      });
      body.appendChild(tr);
    });
    totals.querySelector("[data-total-net]").textContent = fmt(sumNet);
    totals.querySelector("[data-total-vat]").textContent = fmt(sumVat);
    totals.querySelector("[data-total-gross]").textContent = fmt(sumNet + sumVat);
  }

  // --- contractor by NIP --------------------------------------------------------------------------------
  var lookupUrl = form.dataset.lookupUrl;
  var status = form.querySelector("[data-lookup-status]");
  var lastLooked = "";
  function lookup(nipInput) {
    var nip = nipInput.value.replace(/\D/g, "");
    if (!lookupUrl || nip.length !== 10 || nip === lastLooked) return;
    lastLooked = nip;
    fetch(lookupUrl + "?nip=" + encodeURIComponent(nip), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { found: false }; })
      .then(function (data) {
        if (!data.found) { if (status) status.textContent = ""; return; }
        ["name", "address_line1", "address_line2", "country_code", "email", "bank_account", "delivery_email", "delivery_language"].forEach(function (key) {
          var input = form.querySelector("[name='" + key + "']");
          if (input && data[key] && !(key === "bank_account" && form.querySelector("[name='number']") === null)) {
            input.value = data[key];
          }
        });
        if (status) status.textContent = form.dataset.foundText || "";
      })
      .catch(function () { /* the user can still type the data */ });
  }

  // --- wiring -------------------------------------------------------------------------------------------
  form.addEventListener("click", function (event) {
    var target = event.target;
    if (target.closest("[data-add-line]")) { event.preventDefault(); addLine(); }
    var remove = target.closest("[data-remove-line]");
    if (remove) { event.preventDefault(); removeLine(remove.closest("[data-line]")); }
  });
  function pricingInput(target) {
    return target === grossBox || target === marginBox || target === discountPercent || target === discountAmount;
  }
  form.addEventListener("input", function (event) {
    if (event.target.closest("[data-line]") || pricingInput(event.target)) recalc();
    if (event.target.name === "nip") lookup(event.target);
  });
  form.addEventListener("change", function (event) {
    if (event.target.closest("[data-line]") || pricingInput(event.target)) recalc();
    if (event.target.name === "nip") lookup(event.target);
  });
  var addButton = form.querySelector("[data-add-line]");
  if (addButton) {
    // rows removed before a failed submit stay removed when the page comes back
    Array.prototype.forEach.call(linesBox.querySelectorAll("[data-line]"), function (row) {
      var del = field(row, "DELETE");
      if (del && del.checked) row.hidden = true;
    });
  }
  renumber();
  recalc();
  // --- kind of invoice: show the advance's amount for ZAL and the advances to settle for ROZ ----------------
  var kindBox = form.querySelector("[data-kind-box]");
  if (kindBox) {
    var showKind = function () {
      var chosen = kindBox.querySelector("input[name='kind']:checked");
      var kind = chosen ? chosen.value : "VAT";
      kindBox.querySelectorAll("[data-kind-only]").forEach(function (part) {
        part.hidden = part.getAttribute("data-kind-only") !== kind;
      });
    };
    kindBox.addEventListener("change", showKind);
    showKind();
  }
})();
