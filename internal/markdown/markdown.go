// Package markdown escapes text for the places gantry writes it in
// GitHub-flavoured Markdown (pull-request comments): inline text, code
// spans (in and out of tables), fenced code blocks, text inside HTML
// elements, and HTML comments. Each function is for one context and makes
// any string read there as itself: it cannot end the construct it is in,
// open another (a heading, a link, an image, HTML, a comment that hides the
// rest), mention a person or team, or reference an issue.
//
// Outside code, GitHub links @mentions, #references and bare URLs after
// parsing the Markdown, so backslash escapes do not stop them; there a
// WORD JOINER (U+2060, invisible, no line break) goes after the @ or # and
// between a URL's scheme and "//". Line breaks become spaces everywhere but
// in fenced blocks, control characters show as their Unicode pictures (␍)
// in fenced blocks and as spaces elsewhere, and bidirectional controls
// (which can reorder what a reader sees) show as U+FFFD.
package markdown

import (
	"html"
	"strings"
	"unicode/utf8"
)

// wordJoiner separates characters GitHub would otherwise link.
const wordJoiner = "\u2060"

// Text escapes s for inline Markdown text: a paragraph, a list item, a
// blockquote line, a table cell. ASCII punctuation that means something
// inline is backslash-escaped (so is `|`, which would split a table cell),
// and any punctuation that could start a block (a list, a heading, a
// quote: at the start, or after leading digits); line breaks become
// spaces and leading and trailing white space is dropped.
func Text(s string) string {
	s = defuse(strings.TrimSpace(oneLine(s)))
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	digits := true // s so far is digits only
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isPunct(c) && (digits || strings.IndexByte(inlinePunct, c) >= 0) {
			b.WriteByte('\\')
		}
		digits = digits && c >= '0' && c <= '9'
		b.WriteByte(c)
	}
	return b.String()
}

// inlinePunct is the ASCII punctuation with a meaning inside a line of
// GitHub's Markdown: escapes, code, emphasis, strikethrough, links and
// images, HTML and entities, table cells, math, emoji, and (linked after
// rendering, escaped as well as defused) references and mentions.
const inlinePunct = "\\`*_~[]()!<>&|$:#@{}^"

// Code returns s as an inline code span: delimited by more backticks than
// s holds in a row, padded with a space where s starts or ends with a
// backtick or space, on one line. Not for table cells: use CellCode.
func Code(s string) string {
	s = oneLine(s)
	if s == "" {
		return "` `"
	}
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if s[0] == '`' || s[0] == ' ' || s[len(s)-1] == '`' || s[len(s)-1] == ' ' {
		s = " " + s + " "
	}
	return fence + s + fence
}

// CellCode returns s as a code span inside a table cell: as Code, with
// every `|` escaped, since GitHub splits cells at pipes before it reads
// code spans (and takes `\|` back to `|` inside them).
func CellCode(s string) string {
	return Code(strings.ReplaceAll(oneLine(s), "|", `\|`))
}

// Fence returns lines as a fenced code block with info string info (a
// language, from gantry): the fence is longer than any run of backticks
// that could close it, and a carriage return or other control character
// shows as its picture, since Markdown ends a line at a lone CR too.
func Fence(info string, lines []string) string {
	var body strings.Builder
	longest := 0
	for _, l := range lines {
		l = pictures(l)
		if t := strings.TrimRight(strings.TrimLeft(l, " \t"), " \t"); t != "" && strings.Trim(t, "`") == "" {
			longest = max(longest, len(t))
		}
		body.WriteString(l)
		body.WriteByte('\n')
	}
	fence := strings.Repeat("`", max(3, longest+1))
	return fence + info + "\n" + body.String() + fence + "\n"
}

// HTML escapes s for text inside an HTML element (a <summary> or <code>
// in a comment): <, >, &, quotes as entities; on one line, since a blank
// line would end the HTML block and let Markdown in.
func HTML(s string) string {
	return html.EscapeString(defuse(oneLine(s)))
}

// Comment returns an HTML comment holding s. Without < or > (written as
// entities), s can neither end the comment nor open another one.
func Comment(s string) string {
	s = strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(oneLine(s))
	return "<!-- " + s + " -->"
}

// isPunct reports whether c is ASCII punctuation, which CommonMark lets a
// backslash escape.
func isPunct(c byte) bool {
	return c >= '!' && c <= '/' || c >= ':' && c <= '@' || c >= '[' && c <= '`' || c >= '{' && c <= '~'
}

// oneLine replaces line breaks and control characters by spaces and
// bidirectional controls by U+FFFD.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return r
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			return ' '
		case isBidi(r):
			return utf8.RuneError
		}
		return r
	}, s)
}

// pictures shows control characters of a fenced line as their Unicode
// pictures (U+2400…) and bidirectional controls as U+FFFD.
func pictures(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return r
		case r < 0x20:
			return 0x2400 + r
		case r == 0x7f:
			return 0x2421
		case r >= 0x80 && r < 0xa0, isBidi(r):
			return utf8.RuneError
		}
		return r
	}, s)
}

// isBidi reports the characters that reorder text: embeddings, overrides,
// isolates and marks.
func isBidi(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c
}

// longestRun is the most consecutive c in s.
func longestRun(s string, c byte) int {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] != c {
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	return longest
}

// defuse puts a word joiner where GitHub would link text after rendering:
// after @ (mentions, e-mail addresses) and # (issue references), between
// GH and - (GH-12 references an issue too), and inside "://" and "www." in
// any case (bare URLs). Hexadecimal strings that GitHub links to commits
// are left: at worst they link a commit of the repository.
func defuse(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' && i >= 3 && strings.EqualFold(s[i-3:i], "www") ||
			c == '-' && i >= 2 && strings.EqualFold(s[i-2:i], "gh") { // GH-12 links an issue too
			b.WriteString(wordJoiner)
		}
		b.WriteByte(c)
		if c == '@' || c == '#' || c == ':' && strings.HasPrefix(s[i:], "://") {
			b.WriteString(wordJoiner)
		}
	}
	return b.String()
}
