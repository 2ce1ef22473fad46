// Moderator queue: keyboard (j/k move, a approve, h hide, d keep, x select, u undo, ? help),
// shift-click range selection, "select all on page", and CSRF for htmx requests.
// Decisions and undo go through htmx when it runs (the item is swapped in place, focus
// moves on); without JavaScript the same forms post and the page reloads.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]');
  // No settle pause (it is for CSS transitions, which these pages have none of): swapped
  // forms answer through htmx at once, so an Undo pressed right after a decision is
  // not a plain post that reloads the page.
  if (window.htmx) window.htmx.config.defaultSettleDelay = 0;
  document.body.addEventListener("htmx:configRequest", function (event) {
    if (token) event.detail.headers["X-CSRFToken"] = token.content;
  });

  function items() { return Array.prototype.slice.call(document.querySelectorAll("article.item")); }
  var current = -1;
  function focusItem(index) {
    var list = items();
    if (!list.length) return;
    current = Math.max(0, Math.min(index, list.length - 1));
    list.forEach(function (el, i) { el.classList.toggle("current", i === current); });
    list[current].focus({ preventScroll: true });
    list[current].scrollIntoView({ block: "nearest" });
  }
  function act(key) {
    var item = items()[current];
    if (!item) return;
    // "a" is Approve, or Restore on a hidden comment: the button that carries the key.
    var button = item.querySelector('.actions button[data-key="' + key + '"]');
    if (button) button.click();
  }

  // After a decision swaps an item, the next one takes the focus: the item that now sits
  // where the decided one was (it left the tab), or the one after it (it stayed, as in
  // the All tab). After an undo, the restored item.
  var swapping = null;
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.classList.contains("actions")) {
      var article = form.closest("article.item");
      if (article) swapping = { undo: false, id: article.dataset.id, index: items().indexOf(article) };
    } else if (form.id === "undo-form") {
      swapping = { undo: true, id: form.dataset.id, index: -1 };
    }
  });
  document.body.addEventListener("htmx:afterSwap", function () {
    if (!swapping) return;
    var done = swapping;
    swapping = null;
    var list = items(), same = list.indexOf(document.getElementById("item-" + done.id));
    if (done.undo) {
      if (same >= 0) focusItem(same);
      var finished = document.getElementById("page-done");
      if (finished) finished.remove();
      return;
    }
    if (!list.length) { pageDone(); return; }
    focusItem(same >= 0 ? same + 1 : done.index);
  });
  // The last item of the page decided: say so, with a way to the next comments (the notes
  // of what was decided stay, so Undo still has its place).
  function pageDone() {
    var box = document.getElementById("queue-items");
    if (!box || document.getElementById("page-done")) return;
    var note = document.createElement("p");
    note.className = "empty";
    note.id = "page-done";
    note.tabIndex = -1;
    note.appendChild(document.createTextNode("Nothing left on this page. "));
    var more = document.createElement("a");
    more.href = window.location.href;
    more.textContent = "Load the queue again";
    note.appendChild(more);
    box.insertBefore(note, box.querySelector(".pager"));
    note.focus();
  }
  document.body.addEventListener("htmx:afterRequest", function (event) {
    if (swapping && !event.detail.successful) swapping = null;
  });

  var boxes = function () { return Array.prototype.slice.call(document.querySelectorAll('.item input[type="checkbox"][name="target"]')); };
  function updateCount() {
    var counter = document.getElementById("selected-count");
    if (counter) counter.textContent = boxes().filter(function (b) { return b.checked; }).length + " selected";
  }
  var lastClicked = null;
  document.addEventListener("click", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement) || box.name !== "target" || box.type !== "checkbox") return;
    var all = boxes();
    if (event.shiftKey && lastClicked !== null) {
      var from = all.indexOf(lastClicked), to = all.indexOf(box);
      all.slice(Math.min(from, to), Math.max(from, to) + 1).forEach(function (b) { b.checked = box.checked; });
    }
    lastClicked = box;
    updateCount();
  });
  var selectAll = document.getElementById("select-all");
  if (selectAll) selectAll.addEventListener("change", function () {
    boxes().forEach(function (b) { b.checked = selectAll.checked; });
    updateCount();
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return;
    var keys = document.getElementById("keys");
    if (keys && keys.open) return; // the help is modal: no decisions behind it
    switch (event.key) {
      case "j": focusItem(current + 1); break;
      case "k": focusItem(current - 1); break;
      case "a": act("a"); break;
      case "h": act("h"); break;
      case "d": act("d"); break;
      case "x": {
        var item = items()[current];
        if (item) { var b = item.querySelector('input[type="checkbox"][name="target"]'); b.checked = !b.checked; lastClicked = b; updateCount(); }
        break;
      }
      case "u": { var undo = document.getElementById("undo-button"); if (undo) undo.click(); break; }
      case "?": if (keys && !keys.open) keys.showModal(); break;
      default: return;
    }
    event.preventDefault();
  });
  if (items().length) focusItem(0);
})();
