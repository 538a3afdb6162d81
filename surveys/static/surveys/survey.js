// Progressive enhancement only: the survey works without JavaScript. Updates the progress bar.
(function () {
  var form = document.getElementById("survey-form");
  var bar = document.getElementById("survey-progress-bar");
  if (!form || !bar) { return; }
  var groups = form.querySelectorAll(".survey-question");
  function update() {
    var answered = 0;
    groups.forEach(function (group) {
      if (group.querySelector("input:checked") || (group.querySelector("textarea") && group.querySelector("textarea").value.trim())) { answered += 1; }
    });
    bar.style.width = (groups.length ? Math.round(100 * answered / groups.length) : 0) + "%";
  }
  form.addEventListener("change", update);
  form.addEventListener("input", update);
  update();
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  // The score chosen in the email (preselected) or on the page is stored at once, so it counts even if the
  // customer closes the page. Scanners that follow the email's links run no script, so they store nothing.
  var scoreField = form.getAttribute("data-score-field");
  if (!scoreField || !window.fetch || !window.FormData) { return; }
  var stored = null;
  function storeScore() {
    var checked = form.querySelector('input[name="' + scoreField + '"]:checked');
    if (!checked || checked.value === stored) { return; }
    var body = new FormData();
    body.append(scoreField, checked.value);
    body.append("score_only", "1");
    var value = checked.value;
    fetch(form.getAttribute("action") || window.location.href, {method: "POST", body: body, credentials: "omit", keepalive: true})
      .then(function (response) { if (response.ok) { stored = value; form.setAttribute("data-score-stored", value); } })
      .catch(function () { /* the full form still sends it */ });
  }
  form.addEventListener("change", function (event) {
    if (event.target && event.target.name === scoreField) { storeScore(); }
  });
  storeScore();
})();
