package spa

import (
	"bytes"
	"html"

	xhtml "golang.org/x/net/html"
)

// InjectCSRFToken returns page with tok (HTML-escaped) as the content of
// every <meta name="csrf-token"> in the page's head, or, if the head has
// none, with <meta name="csrf-token" content="tok"> added to it: before
// </head>, else before the first thing that belongs to the body (which
// ends a head without an end tag), else at the end, before anything that
// EOF cut off. page is not modified.
//
// The page is read with an HTML tokenizer, so a tag written any way counts:
// any case, attribute order or quoting, self-closing, with an existing
// content such as "{{ csrf_token() }}". The head is what a browser would
// put there: a tag in <body>, after body content, inside a comment,
// <template> or <noscript>, is left alone. Several tags in the head all
// get the token: whichever one a script reads, it must not find a stale
// or empty value. A filled tag is written anew with its other attributes
// kept; every other byte of page is kept as it is.
func InjectCSRFToken(page []byte, tok string) []byte {
	return cutPage(page).fill(tok)
}

// tokenPage is a page cut where the token goes: parts[0] TOKEN parts[1] …
// TOKEN parts[n]. Cutting tokenizes the page; filling only copies, so
// Handler cuts each version of index.html once.
type tokenPage struct {
	parts [][]byte
	size  int // the length of all parts
}

// fill returns the page with the HTML-escaped tok in every slot.
func (p *tokenPage) fill(tok string) []byte {
	esc := html.EscapeString(tok)
	out := make([]byte, 0, p.size+len(esc)*(len(p.parts)-1))
	for i, part := range p.parts {
		if i > 0 {
			out = append(out, esc...)
		}
		out = append(out, part...)
	}
	return out
}

// inHead are the start tags that a browser puts in the head (or ignores
// there, as html and head) rather than taking as the start of the body.
var inHead = map[string]bool{
	"html": true, "head": true, "base": true, "basefont": true, "bgsound": true, "link": true,
	"meta": true, "title": true, "noscript": true, "noframes": true, "style": true, "script": true,
	"template": true,
}

// rawText are the elements whose content the tokenizer returns as one text
// token, markup and all (its readStartTag): that text is not the body's.
var rawText = map[string]bool{
	"iframe": true, "noembed": true, "noframes": true, "noscript": true, "plaintext": true,
	"script": true, "style": true, "textarea": true, "title": true, "xmp": true,
}

var utf8BOM = []byte("\xef\xbb\xbf")

// cutPage cuts page at the content of its head's csrf-token meta tags, or
// where one goes (see scanHead).
func cutPage(page []byte) *tokenPage {
	p := &tokenPage{}
	metas, at := scanHead(page)
	var cur []byte // the part being built
	last := 0      // page[last:] is not in cur yet
	for _, m := range metas {
		cur = append(cur, page[last:m.start]...)
		cur = appendMeta(p, cur, m.attrs, m.selfClosing)
		last = m.end
	}
	if len(metas) == 0 {
		cur = append(cur, page[:at]...)
		cur = append(cur, `<meta name="csrf-token" content="`...)
		p.parts = append(p.parts, cur)
		cur = []byte(`">`)
		last = at
	}
	cur = append(cur, page[last:]...)
	p.parts = append(p.parts, cur)
	for _, part := range p.parts {
		p.size += len(part)
	}
	return p
}

// metaTag is a csrf-token meta tag at page[start:end].
type metaTag struct {
	start, end  int
	attrs       []xhtml.Attribute
	selfClosing bool
}

// scanHead returns the csrf-token meta tags of page's head and, for a head
// with none, where one goes: before </head>, else before what starts the
// body, else after the last token that ends before EOF cuts something off
// (an unclosed comment, <script> or <template> would swallow the tag).
//
// It follows the HTML parser's head rules ("before head", "in head",
// "after head") as far as an index.html needs: the head lasts until <body>,
// a start tag that has no place in a head, text other than white space, or
// </body>, </html>, </br>; a meta between </head> and <body> still goes
// into the head; <template> content is not the document's.
func scanHead(page []byte) (metas []metaTag, insertAt int) {
	off := 0 // where the next token starts
	if bytes.HasPrefix(page, utf8BOM) {
		off = len(utf8BOM) // the browser drops it; it is not body text
	}
	headEnd, safe := -1, off
	templates := 0     // depth of <template>
	inRawText := false // after a raw-text element's start tag, until its end tag
	z := xhtml.NewTokenizer(bytes.NewReader(page[off:]))
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken { // EOF, or a tag cut off by it
			break
		}
		start := off
		off += len(z.Raw())
		switch tt {
		case xhtml.TextToken:
			if !inRawText && templates == 0 && !isSpace(z.Raw()) {
				return metas, orBefore(headEnd, start)
			}
		case xhtml.CommentToken, xhtml.DoctypeToken:
			if !closed(z.Raw()) {
				continue // swallows the rest of the page
			}
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			inRawText = rawText[tag] // the self-closing flag does not end raw text
			switch {
			case tag == "template":
				templates++
			case templates > 0:
			case !inHead[tag]:
				return metas, orBefore(headEnd, start)
			case tag == "meta" && hasAttr:
				if attrs := tagAttrs(z); isCSRFMeta(attrs) {
					metas = append(metas, metaTag{start, off, attrs, tt == xhtml.SelfClosingTagToken})
				}
			}
		case xhtml.EndTagToken:
			inRawText = false
			name, _ := z.TagName()
			switch tag := string(name); {
			case tag == "template":
				templates = max(templates-1, 0)
			case templates > 0:
			case tag == "head":
				if headEnd < 0 {
					headEnd = start
				}
			case tag == "body" || tag == "html" || tag == "br":
				return metas, orBefore(headEnd, start)
			}
		}
		if !inRawText && templates == 0 {
			safe = off
		}
	}
	return metas, orBefore(headEnd, safe)
}

// orBefore returns headEnd, where a </head> was, or else at.
func orBefore(headEnd, at int) int {
	if headEnd >= 0 {
		return headEnd
	}
	return at
}

// closed reports whether a comment or doctype token ends as it should
// rather than at EOF.
func closed(raw []byte) bool {
	if body, ok := bytes.CutPrefix(raw, []byte("<!--")); ok {
		// <!--> and <!---> end at once; <!--!> does not end at all.
		return string(body) == ">" || string(body) == "->" ||
			bytes.HasSuffix(body, []byte("-->")) || bytes.HasSuffix(body, []byte("--!>"))
	}
	return bytes.HasSuffix(raw, []byte(">"))
}

// tagAttrs returns the current tag's attributes: names lower-cased, values
// unescaped, only the first of a repeated name (as browsers keep).
func tagAttrs(z *xhtml.Tokenizer) []xhtml.Attribute {
	var attrs []xhtml.Attribute
	for more := true; more; {
		var k, v []byte
		k, v, more = z.TagAttr()
		attrs = append(attrs, xhtml.Attribute{Key: string(k), Val: string(v)})
	}
	return attrs
}

// isCSRFMeta reports whether a meta tag's name is csrf-token, exactly as
// the SPA's document.querySelector('meta[name="csrf-token"]') matches it
// (attribute values are case-sensitive there).
func isCSRFMeta(attrs []xhtml.Attribute) bool {
	for _, a := range attrs {
		if a.Key == "name" {
			return a.Val == "csrf-token"
		}
	}
	return false
}

// appendMeta appends the csrf-token meta tag with attrs to cur, cut at its
// content value into p.parts, and returns the part that follows the value.
// content takes the place of an existing one, else comes last.
func appendMeta(p *tokenPage, cur []byte, attrs []xhtml.Attribute, selfClosing bool) []byte {
	cur = append(cur, "<meta"...)
	slot := func() {
		cur = append(cur, ` content="`...)
		p.parts = append(p.parts, cur)
		cur = []byte(`"`)
	}
	hasContent := false
	for _, a := range attrs {
		if a.Key == "content" {
			slot()
			hasContent = true
			continue
		}
		cur = append(cur, ' ')
		cur = append(cur, a.Key...)
		cur = append(cur, `="`...)
		cur = append(cur, html.EscapeString(a.Val)...)
		cur = append(cur, '"')
	}
	if !hasContent {
		slot()
	}
	if selfClosing {
		return append(cur, " />"...)
	}
	return append(cur, '>')
}

// isSpace reports whether b is only HTML white space, which the head keeps.
func isSpace(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\f', '\r':
		default:
			return false
		}
	}
	return true
}
