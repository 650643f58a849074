package trigger

import (
	"fmt"
	"strings"
)

// skipMarkers are GitHub Actions' skip instructions for CI in general, plus stepline's own;
// GitHub's "[skip actions]" is left out because it addresses GitHub Actions alone.
var skipMarkers = []string{"[skip ci]", "[ci skip]", "[no ci]", "[skip stepline]", "[stepline skip]"}

// skipMarker returns how msg asks not to build ("contains …", "ends with …"), or "". Markers
// match in any case anywhere in the message. The skip-checks trailer counts, as on GitHub,
// only as the message's last line, where git puts trailers, with or without a space after the
// colon; GitHub also asks for two blank lines before it, which git's default cleanup removes,
// so that part is not required.
func skipMarker(msg string) string {
	if msg == "" {
		return ""
	}
	lower := strings.ToLower(msg)
	for _, m := range skipMarkers {
		if strings.Contains(lower, m) {
			return fmt.Sprintf("contains %q", m)
		}
	}
	last := strings.TrimSpace(lower)
	if i := strings.LastIndexAny(last, "\r\n"); i >= 0 {
		last = strings.TrimSpace(last[i+1:])
	}
	if v, ok := strings.CutPrefix(last, "skip-checks:"); ok && strings.TrimSpace(v) == "true" {
		return `ends with the trailer "skip-checks: true"`
	}
	return ""
}
