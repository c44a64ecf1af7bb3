// The earning rule form: show only the fields of the chosen kind, and condition rows one by
// one. The kinds' fields come from the kind select's data-kind-fields attribute (rules/forms.py
// KIND_FIELDS). Without JavaScript every field shows and the server ignores other kinds' fields.
(function () {
  "use strict";

  function lineOf(name) {
    var input = document.querySelector('#earningrule_form [name="' + name + '"]');
    if (!input) return null;
    return input.closest(".field-" + name) || input.parentElement;
  }

  function rowOf(index) {
    var line = lineOf("cond_" + index + "_field");
    return line ? line.parentElement : null;
  }

  function rowValue(index) {
    return ["field", "op", "value"].some(function (key) {
      var input = document.querySelector('[name="cond_' + index + "_" + key + '"]');
      return input && input.value.trim() !== "";
    });
  }

  function setup() {
    var kind = document.querySelector('#earningrule_form select[name="kind"]');
    if (!kind || !kind.dataset.kindFields) return;
    var kindFields = JSON.parse(kind.dataset.kindFields);
    var all = {};
    Object.keys(kindFields).forEach(function (k) {
      kindFields[k].forEach(function (name) { all[name] = true; });
    });
    var conditions = document.querySelector("fieldset.rule-conditions");
    var rows = [];
    for (var i = 0; rowOf(i); i++) rows.push(rowOf(i));

    var addButton = document.createElement("button");
    addButton.type = "button";
    addButton.className = "border border-base-200 mt-2 px-3 py-2 rounded-default text-sm " +
      "font-medium dark:border-base-700";
    addButton.textContent = "Add a condition";
    addButton.addEventListener("click", function () {
      var next = rows.find(function (row) { return row.classList.contains("rule-hidden"); });
      if (next) next.classList.remove("rule-hidden");
      if (!rows.some(function (row) { return row.classList.contains("rule-hidden"); })) {
        addButton.classList.add("rule-hidden");
      }
    });
    if (conditions && rows.length) {
      rows[rows.length - 1].parentElement.appendChild(addButton);
    }
    var lastFilled = -1;
    rows.forEach(function (row, index) { if (rowValue(index)) lastFilled = index; });
    rows.forEach(function (row, index) {
      row.classList.toggle("rule-hidden", index > lastFilled + 1);
    });

    function apply() {
      var wanted = kindFields[kind.value] || [];
      Object.keys(all).forEach(function (name) {
        if (name === "conditions") return;
        var line = lineOf(name);
        if (line) line.classList.toggle("rule-hidden", wanted.indexOf(name) === -1);
      });
      if (conditions) {
        conditions.classList.toggle("rule-hidden", wanted.indexOf("conditions") === -1);
      }
    }
    kind.addEventListener("change", apply);
    apply();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
