// Sovereign gateway console: the only script. It copies a newly created key to the clipboard; every
// page works without it (the key can be selected and copied by hand).
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
  if (!button) return;
  const field = document.getElementById(button.getAttribute("data-copy"));
  if (!field) return;
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
  } catch {
    document.execCommand("copy"); // older browsers, or a page served over plain HTTP
  }
  const label = button.textContent;
  button.textContent = button.getAttribute("data-copied") || label;
  setTimeout(() => { button.textContent = label; }, 2000);
});
