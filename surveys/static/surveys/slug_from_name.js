// Fills the slug from the name while the slug has not been edited by hand (as the admin's own survey
// form does). Progressive enhancement: the slug can always be typed.
(function () {
  var name = document.getElementById("id_name");
  var slug = document.getElementById("id_slug");
  if (!name || !slug) { return; }
  var edited = slug.value !== "";
  function slugify(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9\s-]/g, "").trim().replace(/[\s-]+/g, "-").slice(0, 80).replace(/-+$/, "");
  }
  slug.addEventListener("input", function () { edited = slug.value !== ""; });
  name.addEventListener("input", function () { if (!edited) { slug.value = slugify(name.value); } });
})();
