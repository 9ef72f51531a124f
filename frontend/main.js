// The web app's one script bundle: htmx for partial page updates. Loaded from our own host
// only, so the strict Content-Security-Policy holds.
import htmx from "htmx.org";

window.htmx = htmx;
// Send Django's CSRF token with every htmx request that changes data.
document.addEventListener("htmx:configRequest", (event) => {
  const token = document.querySelector("meta[name=csrf-token]");
  if (token) {
    event.detail.headers["X-CSRFToken"] = token.content;
  }
});

// The bell's count is polled every 15 s; a hidden tab skips its polls and catches up at once
// when it is shown again (the badge listens for "notifications-changed").
document.addEventListener("htmx:beforeRequest", (event) => {
  if (document.hidden && event.detail.elt.id === "notification-badge") {
    event.preventDefault();
  }
});
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && document.getElementById("notification-badge")) {
    htmx.trigger(document.body, "notifications-changed");
  }
});
