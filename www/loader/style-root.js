// Shared by the lazy chunks (debug overlay, QR dialog); esbuild bundles it into each.

/**
 * Styles for the shadow root. A constructed stylesheet is CSSOM, which a Content-Security-Policy
 * without 'unsafe-inline' in style-src still allows; a <style> element is the fallback for
 * browsers without adoptedStyleSheets.
 */
export function styleRoot(root, css) {
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [sheet];
  } catch (e) {
    const style = document.createElement('style');
    style.textContent = css;
    root.append(style);
  }
}
