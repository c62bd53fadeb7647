// A "Copy" button beside each secret shown once (a portal link, an invitation code, an
// access token): typing a 40-character link by hand is where mistakes come from.  Made
// here, not in the page, so that without JavaScript there is no button that does
// nothing; the text can still be selected and copied by hand.
for (const secret of document.querySelectorAll("code.secret")) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "copy";
  button.textContent = "Copy";
  const said = document.createElement("span");
  said.setAttribute("role", "status");
  said.className = "copy-status";
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(secret.textContent.trim());
      said.textContent = "Copied.";
    } catch {
      // no clipboard (a page not served over HTTPS or from this computer): select it
      const range = document.createRange();
      range.selectNodeContents(secret);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      said.textContent = "Selected: press Ctrl+C (⌘C on a Mac) to copy.";
    }
  });
  secret.after(button, said);
}
