// The deals board: drag cards between stage columns (SortableJS). A drop posts the move to
// the server; the answer carries every column's totals and the redrawn card. A refused drop
// (no permission, a lost reason needed, ...) puts the card back where it was and says why.
// Dropping on a Lost column first asks for the reason in the page's <dialog>.
import Sortable from "sortablejs";

function csrfToken() {
  const meta = document.querySelector("meta[name=csrf-token]");
  return meta ? meta.content : "";
}

function say(text, kind) {
  const box = document.getElementById("board-message");
  if (!box) return;
  box.textContent = text;
  box.hidden = false;
  box.classList.toggle("is-error", kind === "error");
  box.classList.toggle("is-ok", kind !== "error");
}

function putBack(item, from, oldIndex) {
  item.remove();
  from.insertBefore(item, from.children[oldIndex] || null);
}

function askLostReason() {
  const dialog = document.getElementById("lost-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return Promise.resolve({});
  const form = dialog.querySelector("form");
  form.reset();
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        if (dialog.returnValue !== "confirm") {
          resolve(null);
          return;
        }
        resolve({
          lost_reason: form.elements.lost_reason.value,
          lost_note: form.elements.lost_note.value,
        });
      },
      { once: true },
    );
  });
}

function fromHTML(html) {
  const holder = document.createElement("template");
  holder.innerHTML = html.trim();
  return holder.content.firstElementChild;
}

async function onDrop(event) {
  const { item, from, to, oldIndex, newIndex } = event;
  if (from === to && oldIndex === newIndex) return;
  const board = document.getElementById("board");
  const body = new URLSearchParams(board ? board.dataset.query : "");
  body.set("stage", to.dataset.stage);
  body.set("index", String(newIndex));
  if (to.dataset.kind === "lost" && from !== to) {
    const answer = await askLostReason();
    if (answer === null) {
      putBack(item, from, oldIndex);
      say("Not moved: a lost deal needs a reason.", "error");
      return;
    }
    for (const [name, value] of Object.entries(answer)) body.set(name, value);
  }
  item.classList.add("is-saving");
  let response;
  let data = null;
  try {
    response = await fetch(item.dataset.moveUrl, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    });
    data = await response.json();
  } catch (error) {
    response = null;
  }
  item.classList.remove("is-saving");
  if (!response || !response.ok || !data || data.error) {
    putBack(item, from, oldIndex);
    const reason = data && data.error ? data.error.message : "The deal could not be moved.";
    say(reason, "error");
    return;
  }
  for (const [stage, html] of Object.entries(data.totals)) {
    const totals = document.getElementById(`totals-${stage}`);
    if (totals) totals.innerHTML = html;
  }
  const card = fromHTML(data.card);
  if (card) {
    item.replaceWith(card);
    if (window.htmx) window.htmx.process(card);
  }
  say(data.message, "ok");
}

function setUp(root) {
  for (const list of root.querySelectorAll(".board-cards")) {
    if (list.dataset.sortable) continue;
    list.dataset.sortable = "1";
    Sortable.create(list, {
      group: "deals",
      // Cards the user may only view are not picked up (the server refuses such moves too).
      draggable: ".deal-card:not(.view-only)",
      filter: ".move-menu, select, button, input, label",
      preventOnFilter: false,
      forceFallback: true,
      fallbackTolerance: 4,
      animation: 120,
      ghostClass: "is-ghost",
      chosenClass: "is-chosen",
      onEnd: onDrop,
    });
  }
}

document.addEventListener("DOMContentLoaded", () => setUp(document));
// The filters redraw the board through htmx: make the new columns sortable too.
document.addEventListener("htmx:load", (event) => setUp(event.target.parentElement || document));
window.KestrelSortable = Sortable;
