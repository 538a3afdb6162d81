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
})();
