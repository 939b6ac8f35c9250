// accessd portal: the pages work without this script. It only keeps
// sections marked data-refresh current, so that a request's state moves
// on screen as accessd works on it. A section is left alone while the
// person is using a control inside it.
(function () {
  "use strict";
  var sections = document.querySelectorAll("[data-refresh]");
  sections.forEach(function (section) {
    var seconds = parseInt(section.getAttribute("data-refresh"), 10) || 5;
    setInterval(function () {
      if (document.hidden || section.contains(document.activeElement)) {
        return;
      }
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(section.id);
          if (fresh && fresh.innerHTML !== section.innerHTML && !section.contains(document.activeElement)) {
            section.innerHTML = fresh.innerHTML;
          }
        })
        .catch(function () {});
    }, seconds * 1000);
  });
})();
