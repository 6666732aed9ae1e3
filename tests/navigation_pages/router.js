// A tiny client-side router, like the content-swapping tools sites use (pjax, swup, htmx
// boosts, Material for MkDocs' instant navigation): a click on a[data-route] fetches
// /fragments/<name>.html, swaps it into #content and pushes /spa/<name>, without a full load.
// ?order=swap-first pushes the address after the swap; otherwise before the fetch (Material).
(function () {
  var swapFirst = new URLSearchParams(location.search).get("order") === "swap-first";
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-route]");
    if (!link) return;
    event.preventDefault();
    var name = link.dataset.route;
    var url = "/spa/" + name;
    if (!swapFirst) history.pushState({ route: name }, "", url);
    fetch("/fragments/" + name + ".html")
      .then(function (response) { return response.text(); })
      // A little network time, so "before" and "after" are really apart.
      .then(function (html) { return new Promise(function (done) { setTimeout(done, 150, html); }); })
      .then(function (html) {
        document.getElementById("content").innerHTML = html;
        if (swapFirst) history.pushState({ route: name }, "", url);
        document.documentElement.dataset.routed = name;
      });
  });
})();
