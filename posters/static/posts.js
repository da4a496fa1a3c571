// The posts queue's live counter: as the organiser types, the text is measured by the server,
// with the very rule it applies on saving (X's weighted 280, Slack after its escaping), debounced.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var token = meta ? meta.getAttribute("content") : "";
  Array.prototype.forEach.call(document.querySelectorAll("textarea[data-measure]"), function (area) {
    var output = document.getElementById(area.getAttribute("data-output"));
    var timer = null;
    var asked = 0;
    function measure() {
      var mine = ++asked;
      var body = new URLSearchParams();
      body.set("text", area.value);
      fetch(area.getAttribute("data-measure"), {
        method: "POST", credentials: "same-origin", body: body,
        headers: {"X-CSRF-Token": token, "Content-Type": "application/x-www-form-urlencoded"}
      }).then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      }).then(function (answer) {
        if (mine !== asked || !output) { return; }
        output.textContent = answer.text;
        output.classList.toggle("over", !answer.ok);
      }).catch(function () {
        if (mine === asked && output) { output.textContent = "(the length could not be checked)"; }
      });
    }
    area.addEventListener("input", function () {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(measure, 250);
    });
  });
})();
