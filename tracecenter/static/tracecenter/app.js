// TraceCenter's small amount of script: repeating form rows and live derived dates.
// Everything works without it (one empty row of each kind is always served).
(function () {
  "use strict";

  function addRow(fieldset) {
    var prefix = fieldset.dataset.prefix;
    var total = fieldset.querySelector("input[name='" + prefix + "-TOTAL_FORMS']");
    var template = fieldset.querySelector("template");
    var index = parseInt(total.value, 10);
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var row = holder.firstElementChild;
    fieldset.querySelector(".rows").appendChild(row);
    total.value = String(index + 1);
    var first = row.querySelector("input, select");
    if (first) { first.focus(); }
  }

  function refreshDerived(form) {
    var url = form.dataset.derivedUrl;
    if (!url) { return; }
    var data = new FormData();
    ["csrfmiddlewaretoken", "case-symptom_onset", "case-asymptomatic"].forEach(function (name) {
      var el = form.querySelector("[name='" + name + "']");
      if (!el) { return; }
      if (el.type === "checkbox") { if (el.checked) { data.append(name, "on"); } } else { data.append(name, el.value); }
    });
    fetch(url, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (json) {
        if (json.error) { return; }
        document.getElementById("derived-infectious").textContent = json.infectious_start + " – " + json.infectious_end;
        document.getElementById("derived-isolation").textContent = json.isolation_end;
      })
      .catch(function () { /* the saved page shows the dates anyway */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("fieldset.repeating .add-row").forEach(function (button) {
      button.addEventListener("click", function () { addRow(button.closest("fieldset")); });
    });
    var form = document.getElementById("interview-form");
    if (form) {
      ["case-symptom_onset", "case-asymptomatic"].forEach(function (name) {
        var el = form.querySelector("[name='" + name + "']");
        if (el) { el.addEventListener("change", function () { refreshDerived(form); }); }
      });
    }
  });
})();

// Progress of a file being ingested: poll the counts until the delivery is finished, then show the report.
(function () {
  "use strict";
  var box = document.getElementById("intake-progress");
  if (!box) { return; }
  var bar = box.querySelector("progress");
  var count = box.querySelector(".count");
  function poll() {
    fetch(box.dataset.progressUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        bar.max = Math.max(p.total, 1);
        bar.value = p.done;
        count.textContent = p.done + " / " + p.total;
        if (p.finished) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
