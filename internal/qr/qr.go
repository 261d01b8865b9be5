// Package qr renders text as a QR code in SVG, for pages that show an
// otpauth:// URI to authenticator apps. The code itself comes from
// github.com/yeqown/go-qrcode; this package only draws its modules, so no
// image library is needed and nothing leaves the server.
package qr

import (
	"encoding/base64"
	"fmt"
	"strings"

	qrcode "github.com/yeqown/go-qrcode/v2"
)

// quiet is the blank margin around the code, in modules: the four the QR
// standard asks for, so scanners find its edges.
const quiet = 4

// SVG returns text as a QR code (error correction level M), one unit per
// module, dark modules as one path: crisp at any size.
func SVG(text string) (string, error) {
	code, err := qrcode.NewWith(text, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	w := &bitmap{}
	if err := code.Save(w); err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	size := len(w.rows) + 2*quiet
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, size, size)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, size, size)
	for y, row := range w.rows {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			run := 0
			for x+run < len(row) && row[x+run] {
				run++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x+quiet, y+quiet, run, run)
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String(), nil
}

// DataURI is SVG as a data: URI, for an <img src>; latchkey's default
// Content-Security-Policy allows data: images.
func DataURI(text string) (string, error) {
	svg, err := SVG(text)
	if err != nil {
		return "", err
	}
	return "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(svg)), nil
}

// bitmap is a qrcode.Writer that keeps the modules.
type bitmap struct{ rows [][]bool }

func (b *bitmap) Write(m qrcode.Matrix) error {
	b.rows = m.Bitmap()
	return nil
}

func (b *bitmap) Close() error { return nil }
