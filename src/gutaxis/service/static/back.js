// "Back to the form" on an error page: the browser's own Back, which shows the form as it
// was left, with what was typed (a plain link would load it afresh, empty).  Without
// JavaScript the link still goes to the form.
for (const link of document.querySelectorAll("a[data-back]")) {
  link.addEventListener("click", (event) => {
    if (window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });
}
