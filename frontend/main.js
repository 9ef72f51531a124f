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
