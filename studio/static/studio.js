// fninfer studio: keeps the parts of a page marked data-live up to date, without reloading the page.
// Such an element is replaced, every data-every milliseconds (2000 by default), by the HTML fragment its data-live
// URL answers, until a fragment carries data-final (a run that is over). Polling pauses while the tab is hidden;
// which <details> are open and which element has focus survive each update. Without JavaScript the pages work as
// they are, and a reload shows the latest.
(function () {
  "use strict";

  function later(element) {
    const every = parseInt(element.dataset.every || "2000", 10);
    window.setTimeout(function () { refresh(element); }, every);
  }

  async function refresh(element) {
    if (!element.isConnected) {
      return;
    }
    if (document.hidden) {
      document.addEventListener("visibilitychange", function () { refresh(element); }, { once: true });
      return;
    }
    let response;
    try {
      response = await fetch(element.dataset.live, { credentials: "same-origin", headers: { Accept: "text/html" } });
    } catch (error) {
      later(element); // the app did not answer this time: try again
      return;
    }
    if (response.status === 401) {
      window.location.reload(); // signed out: the page sends us to the sign-in page
      return;
    }
    if (!response.ok) {
      later(element);
      return;
    }
    const template = document.createElement("template");
    template.innerHTML = (await response.text()).trim();
    const fresh = template.content.firstElementChild;
    if (!fresh) {
      later(element);
      return;
    }
    const opened = new Map();
    element.querySelectorAll("details[id]").forEach(function (item) { opened.set(item.id, item.open); });
    fresh.querySelectorAll("details[id]").forEach(function (item) {
      if (opened.has(item.id)) {
        item.open = opened.get(item.id);
      }
    });
    const active = document.activeElement;
    const focused = active && element.contains(active) && active.id ? active.id : null;
    element.replaceWith(fresh);
    if (focused) {
      const again = document.getElementById(focused);
      if (again) {
        again.focus({ preventScroll: true });
      }
    }
    if (!("final" in fresh.dataset)) {
      later(fresh);
    }
  }

  document.querySelectorAll("[data-live]").forEach(function (element) {
    if (!("final" in element.dataset)) {
      later(element);
    }
  });
})();
