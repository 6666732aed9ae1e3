// A "whole body swap" router, like Turbo Drive: a click on a[data-turbo] fetches the page,
// pushes its address, replaces document.body with the fetched page's body and re-activates
// the scripts in it (as Turbo does), without a full load. Lives in <head>, so it survives.
(function () {
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-turbo]");
    if (!link) return;
    event.preventDefault();
    fetch(link.href)
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        history.pushState({}, "", link.href);
        document.title = page.title;
        document.body.replaceWith(document.adoptNode(page.body));
        document.body.querySelectorAll("script").forEach(function (inert) {
          var script = document.createElement("script");
          Array.prototype.forEach.call(inert.attributes, function (attribute) {
            script.setAttribute(attribute.name, attribute.value);
          });
          script.text = inert.text;
          inert.replaceWith(script);
        });
        document.documentElement.dataset.visited = link.getAttribute("href");
      });
  });
})();
