/*
 * Runs before first paint (a blocking <script> in <head>) so a dark-mode user never sees a white
 * flash. The choice is 'light' | 'dark' | 'system' in localStorage; 'system' follows
 * prefers-color-scheme. A plain file rather than an inline script so that a strict CSP
 * (script-src 'self') keeps working.
 */
(function () {
  try {
    var choice = localStorage.getItem('vmm-theme') || 'system';
    var dark = choice === 'dark' || (choice === 'system' && window.matchMedia('(prefers-color-scheme: dark)').matches);
    document.documentElement.classList.toggle('dark', dark);
    document.documentElement.style.colorScheme = dark ? 'dark' : 'light';
  } catch (e) {
    /* localStorage may be unavailable: keep the light default */
  }
})();
