package portal

import (
	"math"
	"regexp"
	"strconv"
	"testing"
)

// TestStylesheetColoursHaveEnoughContrast checks every pair of the
// stylesheet's colours that the pages draw text with against its
// background, to WCAG AA (4.5:1 for body text). The browser test checks the
// rendered pages too; this names the pair that broke.
func TestStylesheetColoursHaveEnoughContrast(t *testing.T) {
	css, err := staticFS.ReadFile("static/portal.css")
	if err != nil {
		t.Fatal(err)
	}
	colours := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-fA-F]{6});`).FindAllStringSubmatch(string(css), -1) {
		colours[m[1]] = m[2]
	}
	colours["header-muted"] = "#d5dae1" // .top .muted
	for _, pair := range [][2]string{
		{"fg", "bg"}, {"muted", "bg"}, {"muted", "panel"}, {"fg", "panel"}, {"accent", "bg"}, {"accent", "panel"},
		{"accent-fg", "accent"}, {"accent-fg", "danger"}, {"fg", "flash-bg"}, {"fg", "problem-bg"},
		{"bg", "fg"}, {"header-muted", "fg"},
	} {
		fg, bg := colours[pair[0]], colours[pair[1]]
		if fg == "" || bg == "" {
			t.Fatalf("the stylesheet has no --%s or --%s", pair[0], pair[1])
		}
		if r := contrast(fg, bg); r < 4.5 {
			t.Errorf("%s (%s) on %s (%s): contrast %.2f:1, want at least 4.5:1", pair[0], fg, pair[1], bg, r)
		}
	}
}

func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

func luminance(hex string) float64 {
	channel := func(s string) float64 {
		v, _ := strconv.ParseUint(s, 16, 8)
		c := float64(v) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*channel(hex[1:3]) + 0.7152*channel(hex[3:5]) + 0.0722*channel(hex[5:7])
}
