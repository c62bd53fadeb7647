// A page that waits for a job (an upload being read, a profile or a reference being
// computed) looks again every few seconds instead of reloading itself: a reload took
// away what was being typed in the page's forms and sent a screen reader back to the
// top.  The page is fetched in the background (the same audited read a reload makes);
// while the job runs, only the waiting notes ([data-wait-status]) are brought up to
// date; when it has ended, the page is shown afresh, unless a form holds something
// typed or chosen: then a note says so and offers a link.  Without JavaScript the page
// refreshes itself (<noscript><meta http-equiv="refresh">).
(() => {
  const marker = document.querySelector('meta[name="gutaxis-wait"]');
  if (!marker) return;
  const seconds = Number(marker.content) || 3;
  const address = new URL(marker.dataset.url || window.location.pathname,
                          window.location.href).href;

  const busy = () => {
    const active = document.activeElement;
    if (active && active.closest("form") && active.matches("input, select, textarea")) {
      return true;
    }
    for (const field of document.querySelectorAll("form input, form textarea, form select")) {
      if (field.type === "hidden" || field.type === "submit") continue;
      if (field.type === "checkbox" || field.type === "radio") {
        if (field.checked !== field.defaultChecked) return true;
      } else if (field.tagName === "SELECT") {
        for (const option of field.options) {
          if (option.selected !== option.defaultSelected) return true;
        }
      } else if (field.type === "file" ? field.files.length > 0
                 : field.value !== field.defaultValue) {
        return true;
      }
    }
    return false;
  };

  const say = (text) => {
    for (const note of document.querySelectorAll("[data-wait-status]")) note.textContent = text;
  };

  const ready = () => {
    for (const note of document.querySelectorAll("[data-wait-status]")) {
      const link = document.createElement("a");
      link.href = address;
      link.textContent = "show the results";
      note.replaceChildren("Ready: what you have typed stays until you ", link, ".");
    }
  };

  const look = async () => {
    let text;
    try {
      const answer = await fetch(address, {credentials: "same-origin", cache: "no-store",
                                           headers: {Accept: "text/html"}});
      if (answer.redirected || answer.status === 401) {  // the session ended: no more looks
        return say("Your session has ended: sign in again to see the result.");
      }
      if (answer.status >= 400 && answer.status < 500) {  // gone, or no longer allowed
        return say(`This page cannot be shown any more (the server answered ${answer.status}).`);
      }
      if (!answer.ok) return window.setTimeout(look, seconds * 1000);  // 5xx: try again
      text = await answer.text();
    } catch {
      return window.setTimeout(look, seconds * 1000);  // the server restarting: try again
    }
    const page = new DOMParser().parseFromString(text, "text/html");
    if (page.querySelector('meta[name="gutaxis-wait"]')) {
      // each note by what it is about (an upload, the profile): a page whose waiting
      // moved from one to the other is shown afresh, unless a form holds something
      const fresh = new Map([...page.querySelectorAll("[data-wait-status]")]
                            .map((note) => [note.dataset.waitStatus, note]));
      const shown = [...document.querySelectorAll("[data-wait-status]")];
      const same = shown.length === fresh.size
                   && shown.every((note) => fresh.has(note.dataset.waitStatus));
      if (!same && !busy()) return window.location.replace(address);
      for (const note of shown) {
        const now = fresh.get(note.dataset.waitStatus);
        if (now && now.textContent !== note.textContent) note.innerHTML = now.innerHTML;
      }
      return window.setTimeout(look, seconds * 1000);
    }
    if (busy()) return ready();
    window.location.replace(address);
  };
  window.setTimeout(look, seconds * 1000);
})();
