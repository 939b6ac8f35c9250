package e2e

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// accessibilityProblems runs in the page and lists what a screen reader or
// keyboard user would trip over, using the browser's own computed styles:
// the document's language and title, one h1, a label for every control, an
// alt for every image, a name for every button and link, unique ids,
// controls reachable by Tab, and the WCAG AA contrast of every piece of
// visible text against the background it is drawn on (4.5:1, 3:1 for large
// text).
const accessibilityProblems = `(() => {
  const problems = [];
  const nameOf = el => {
    const label = (el.getAttribute('aria-label') || '').trim();
    if (label) return label;
    const by = el.getAttribute('aria-labelledby');
    if (by) return by.split(/\s+/).map(id => (document.getElementById(id) || {}).textContent || '').join(' ').trim();
    return (el.textContent || '').trim() || (el.getAttribute('title') || '').trim();
  };
  if (!document.documentElement.lang) problems.push('the html element has no lang');
  if (!document.title.trim()) problems.push('the page has no title');
  const h1s = document.querySelectorAll('h1').length;
  if (h1s !== 1) problems.push(h1s + ' h1 elements, want 1');
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    const labelled = (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]')) || el.closest('label') ||
      el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
    if (!labelled) problems.push(el.tagName.toLowerCase() + ' ' + (el.name || el.id) + ' has no label');
  }
  for (const img of document.querySelectorAll('img')) if (!img.hasAttribute('alt')) problems.push('image ' + img.src + ' has no alt');
  for (const el of document.querySelectorAll('button, a[href], summary')) {
    if (!nameOf(el)) problems.push(el.tagName.toLowerCase() + ' has no accessible name: ' + el.outerHTML.slice(0, 80));
    if (el.tabIndex < 0) problems.push('not reachable with Tab: ' + el.outerHTML.slice(0, 80));
  }
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type !== 'hidden' && el.tabIndex < 0) problems.push('not reachable with Tab: ' + el.outerHTML.slice(0, 80));
  }
  const seen = new Set();
  for (const el of document.querySelectorAll('[id]')) {
    if (seen.has(el.id)) problems.push('duplicate id ' + el.id);
    seen.add(el.id);
  }
  const rgb = c => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(parseFloat);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const luminance = c => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  for (const el of document.querySelectorAll('body *')) {
    if (!el.getClientRects().length || el.offsetWidth <= 1) continue; // not drawn, or visually hidden for screen readers
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const st = getComputedStyle(el);
    if (st.visibility === 'hidden') continue;
    const fg = rgb(st.color), bg = background(el);
    const l1 = luminance(fg), l2 = luminance(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(st.fontSize), bold = parseInt(st.fontWeight, 10) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    if (ratio < (large ? 3 : 4.5)) problems.push('contrast ' + ratio.toFixed(2) + ':1 of "' + el.textContent.trim().slice(0, 40) + '"');
  }
  return problems;
})()`

// checkPage fails the test with every accessibility problem of the page.
func checkPage(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	problems, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](accessibilityProblems))
	if err != nil {
		t.Fatalf("accessibility check of %s: %v", page, err)
	}
	for _, p := range problems {
		t.Errorf("accessibility of %s: %s", page, p)
	}
}

// TestAccessibilityCheckFindsProblems shows the check above can fail: a
// page with one of each problem gets each reported.
func TestAccessibilityCheckFindsProblems(t *testing.T) {
	tab := startBrowser(t, findBrowser(t))
	page := `<html><head><title>bad</title></head><body style="background:#fff">` +
		`<h1>One</h1><h1>Two</h1><input name="nolabel"><img src="data:,"><button></button>` +
		`<p style="color:#bbb">faint text</p><a href="/x" tabindex="-1">hidden from keyboard</a><span id="d"></span><span id="d"></span></body></html>`
	do(t, tab, "open the bad page", chromedp.Navigate("data:text/html,"+url.PathEscape(page)))
	problems, err := chromedp.Run(tab, chromedp.Evaluate[[]string](accessibilityProblems))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(problems, "\n")
	for _, want := range []string{"no lang", "2 h1 elements", "input nolabel has no label", "has no alt", "button has no accessible name",
		"contrast", "not reachable with Tab", "duplicate id d"} {
		if !strings.Contains(all, want) {
			t.Errorf("the check missed %q; it found:\n%s", want, all)
		}
	}
}
