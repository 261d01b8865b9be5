package qr_test

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/qr"
)

func TestSVG(t *testing.T) {
	const uri = "otpauth://totp/latchkey:alice?algorithm=SHA1&digits=6&issuer=latchkey&period=30&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	svg, err := qr.SVG(uri)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, svg)
	}
	// A QR code of version v has 17+4v modules a side, plus the quiet zone.
	var size int
	if _, err := fmt.Sscanf(svg[strings.Index(svg, "viewBox"):], `viewBox="0 0 %d`, &size); err != nil || (size-8-17)%4 != 0 || size < 8+21 {
		t.Errorf("unexpected size %d: %.120s", size, svg)
	}
	// The top-left finder pattern: a 7-module run on the first row.
	if !strings.Contains(svg, "M4 4h7v1h-7z") {
		t.Errorf("no finder pattern at the top left: %.300s", svg)
	}
	again, _ := qr.SVG(uri)
	if again != svg {
		t.Error("the same text gave two drawings")
	}
	uriData, err := qr.DataURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(uriData, "data:image/svg+xml;base64,"))
	if err != nil || string(raw) != svg {
		t.Errorf("DataURI does not hold the SVG: %v", err)
	}
}
