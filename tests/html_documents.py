"""Decoy-rich HTML documents for the engine's tests: a hypothesis grammar (:func:`documents`).

A document is a prolog, then either a page skeleton (parts optional, repeated, in any case) or a
soup of the tags that structure a page, among fragments full of decoys: ``</body>`` hidden in
comments, scripts (with their ``<!--<script>`` escape states), raw-text and RCDATA elements,
attribute values, ``<template>``, inline ``<svg>``/``<math>``, bogus comments, in random case,
with CRLF line ends and whitespace inside end tags. tests/engine/test_engine_properties.py checks
the engine's contract on them with html5lib, test_engine_browser_oracle.py a sample in Chromium.
"""

from __future__ import annotations

import re

from hypothesis import strategies as st


def _mixed_case(name: str) -> str:
    return "".join(c.upper() if i % 2 else c for i, c in enumerate(name))


def cased(name: str) -> st.SearchStrategy[str]:
    """A tag name as pages spell it: mostly lower case, sometimes ``BODY``, ``Body``, ``bOdY``."""
    return st.sampled_from([name, name, name.upper(), name.title(), _mixed_case(name)])


# What may follow an end tag's name before its ">": browsers still read these as the end tag.
END_TAIL = st.sampled_from(["", "", "", " ", "\n", "\t", " \r\n", "/", " foo", " x='>'"])


def end_tag(name: str) -> st.SearchStrategy[str]:
    return st.builds(lambda n, tail: f"</{n}{tail}>", cased(name), END_TAIL)


def start_tag(name: str, attributes: list[str] | None = None) -> st.SearchStrategy[str]:
    attrs = st.sampled_from(attributes or [""]) if attributes else st.just("")
    return st.builds(lambda n, a: f"<{n}{a}>", cased(name), attrs)


TEXTS = [
    "x",
    "Hello, world.",
    "a < b",
    "a<b",
    "1 > 0",
    "&lt;/body&gt;",
    "&amp;",
    "caf\u00e9 \u20ac5 \u00fc",
    "\u65e5\u672c\u8a9e",
    "\n",
    "\r\n",
    " ",
    "\t",
    "<",
    "< body>",
    "<3",
    "</",
    "-->",
    "]]>",
    "--!>",
    "x</",
    "<\u00e9>",
    "</body",
]
text = st.sampled_from(TEXTS)

COMMENT_INNER = [
    "",
    " ",
    " </body> ",
    "<body>",
    "-",
    "<!--",
    "--",
    "->",
    " - ",
    "<script>",
    "</script>",
    "<!-",
    "--!",
    "</html>",
    "</BODY\n>",
]
comment = st.one_of(
    st.builds(
        lambda inner, end: "<!--" + "".join(inner) + end,
        st.lists(st.sampled_from(COMMENT_INNER), max_size=3),
        st.sampled_from(["-->", "-->", "--!>", "--->"]),
    ),
    st.sampled_from(["<!-->", "<!--->", "<!---->", "<!-- a -- b -->", "<!--x--!>"]),
)

bogus_comment = st.sampled_from(
    [
        "<!x>",
        "<!x </body>>",
        "<?php echo '</body>'; ?>",
        "<?xml version='1.0'?>",
        "</ x>",
        "</3>",
        "</>",
        "</ body>",
        "</-body>",
        "<!DOCTYPE html>",
        "<![CDATA[</body>]]>",
        "<![CDATA[ x ]]>",
        "<!ELEMENT br EMPTY>",
        "<!>",
        "<?>",
        "<? </body> ?>",
    ]
)

SCRIPT_BITS = [
    "var a = '</body>';",
    "x = '<body>';",
    "'</scr' + 'ipt>';",
    "<!--",
    "-->",
    "<!--<script>",
    "</script",
    "<script>",
    "if (a<b && c>d) {}",
    "/* </body> */",
    "// </html>\n",
    "'</scriptx>';",
    "'</script-x>';",
    "'<\\/script>';",
    "\n",
    "s = '</SCRIPT';",
    "dataLayer.push({'event': '</body>'});",
]
SCRIPT_ATTRS = [
    "",
    "",
    ' type="text/template"',
    " type=module",
    ' async src="/x.js"',
    ' type="application/ld+json"',
    " data-x='</script>'",
    ' data-y="<!--"',
]
script = st.builds(
    lambda open_, bits, close: open_ + "".join(bits) + close,
    start_tag("script", SCRIPT_ATTRS),
    st.lists(st.sampled_from(SCRIPT_BITS), max_size=4),
    end_tag("script"),
)

RAW_NAMES = ["style", "textarea", "title", "xmp", "noscript", "iframe", "noembed", "noframes"]
RAW_BITS = [
    "</body>",
    "<body>",
    "</html>",
    "<!--",
    "-->",
    "<script>",
    "</script>",
    "x",
    "<p>",
    "</BODY >",
    "</{name}x>",
    "</{name}",
    "<{name}>",
]
RAW_ATTRS = ["", "", " class=x", " title='</{name}>'", ' srcdoc="<body></body>"']


@st.composite
def raw_element(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(RAW_NAMES))
    attrs = draw(st.sampled_from(RAW_ATTRS)).format(name=name)
    bits = draw(st.lists(st.sampled_from(RAW_BITS), max_size=3))
    content = "".join(bits).format(name=name)
    return f"<{draw(cased(name))}{attrs}>{content}{draw(end_tag(name))}"


ATTR_BITS = [
    " title='</body>'",
    ' data-x="</body>"',
    " data-y='>'",
    ' data-z="<!--"',
    ' data-w="\'"',
    " a=b",
    " href=/x?a=1&b=2",
    ' alt=">"',
    " class=a'b",
    " v=</body",
    " =x",
    " x=\"a\"y='b'",
    '\n class="x"\r\n',
    " /",
    ' srcdoc="<body><script>x=1</script></body>"',
    " onclick=\"a('</body>')\"",
    " value='<script>'",
]
PLAIN_TAGS = ["div", "p", "a", "img", "span", "input", "br", "section", "table", "form", "button"]


@st.composite
def element_with_attributes(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(PLAIN_TAGS))
    attrs = "".join(draw(st.lists(st.sampled_from(ATTR_BITS), min_size=1, max_size=3)))
    close = draw(st.sampled_from([">", ">", "/>"]))
    return f"<{draw(cased(name))}{attrs}{close}"


plain_markup = st.sampled_from(
    [
        "<p>x</p>",
        "<div>",
        "</div>",
        "<br>",
        "<p>",
        "</p>",
        "<a href='/'>link</a>",
        "<img src=x.png alt=x>",
        "<ul><li>one<li>two</ul>",
        "<table><tr><td>x</td></tr></table>",
        "<table>",
        "<select><option>x</select>",
        "<form action=/buy method=post><input name=q><button>Buy</button></form>",
        "<h1>Title</h1>",
        "<object data=x.swf></object>",
        "<a href='/x'>",
        "</a>",
    ]
)

SVG_LEAVES = [
    "<style></body></style>",
    "<style><!--</style>-->",
    "<title></body></title>",
    "<title><p>x</p></title>",
    "<desc></desc>",
    "<![CDATA[</body>]]>",
    "<![CDATA[ > </body> ]]>",
    "<path d='M0 0'/>",
    "<g><rect/></g>",
    "<g>",
    "</g>",
    "<script>if(a<b)'</body>'</script>",
    "<text>x</text>",
    "<a href=x>",
    "</a>",
    "</body>",
    "<noscript></body></noscript>",
    "<p>",
    "<div>",
    "<b>",
    "<br>",
    "</p>",
    "</br>",
    "<font color=red>",
    "<font>",
    "<span>",
    "<table>",
    "<svg/>",
    "<svg x=1/>",
    "<rect width=8/>",
    "</svg>",
    "</math>",
    "<use href='#i'/>",
    "<path d='M0 0L8 8/>",
    "<math><mi>",
    '<math><annotation-xml encoding="text/html">',
    "<a href='/buy'><text>Buy</text></a>",
    "<metadata><rdf:RDF><cc:Work><dc:format>image/svg+xml</dc:format></cc:Work></rdf:RDF>",
    "<sodipodi:namedview pagecolor='#fff'></sodipodi:namedview>",
    "<rdf:RDF>",
    "</rdf:RDF>",
    "<foreignObject><div><p>x</p></div></foreignObject>",
    '<feDropShadow dx="1"></feDropShadow>',
]
MATH_LEAVES = [
    "<mi>x</mi>",
    "<mi><style></body></style></mi>",
    "<mtext><p>x</p></mtext>",
    "<mo>",
    "</mo>",
    '<annotation-xml encoding="text/html">',
    '<annotation-xml encoding="application/xhtml+xml">',
    "</annotation-xml>",
    "<mi><mglyph/></mi>",
    "<mrow><mn>1</mn></mrow>",
    "<semantics>",
    "<mi><mglyph>",
    "<mtext><malignmark>",
    "<svg><title>",
    "<svg><foreignObject>",
]


@st.composite
def integration_point(
    draw: st.DrawFn, names: list[str], html_content: st.SearchStrategy[str]
) -> str:
    """An svg/MathML element whose content is HTML again, sometimes left open."""
    name = draw(st.sampled_from(names))
    # HTML elements opened there, closed or not: while one is open the point's end tag is ignored.
    opened = draw(st.sampled_from(["", "", "<b>", "<span>", "<div>", "<p>", "<table><tr><td>"]))
    inner = "".join(draw(st.lists(html_content, max_size=2)))
    closed = draw(st.sampled_from(["", "</b>", "</span>", "</div>", "</p>", "</td>"]))
    close = draw(st.sampled_from([f"</{name.split()[0]}>", ""]))
    return f"<{name}>{opened}{inner}{closed}{close}"


def _foreign(draw: st.DrawFn, html_content: st.SearchStrategy[str]) -> str:
    root = draw(st.sampled_from(["svg", "svg", "math"]))
    leaves = SVG_LEAVES + (MATH_LEAVES if root == "math" else [])
    points = (
        ["foreignObject", "desc", "title"]
        if root == "svg"
        else ["mi", "mo", "mn", "ms", "mtext", 'annotation-xml encoding="text/html"']
    )
    child = st.one_of(st.sampled_from(leaves), integration_point(points, html_content))
    children = draw(st.lists(child, max_size=4))
    attrs = draw(st.sampled_from(["", " viewBox='0 0 8 8'", ' class="icon" aria-hidden="true"']))
    close = draw(st.sampled_from([f"</{root}>", f"</{root}>", f"</{root.upper()}>", ""]))
    return f"<{draw(cased(root))}{attrs}>{''.join(children)}{close}"


body_end = end_tag("body")
html_end = end_tag("html")
head_end = end_tag("head")
body_start = start_tag("body", ["", ' class="home"', " onload='x()'", " data-x='</body>'"])
head_start = start_tag("head", ["", ' profile="x"'])
html_start = start_tag("html", ["", ' lang="en"', ' xmlns="http://www.w3.org/1999/xhtml"'])
meta_charset = st.sampled_from(
    [
        '<meta charset="utf-8">',
        "<meta charset=UTF-8>",
        "<META CHARSET='utf-8'/>",
        '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">',
    ]
)
head_bits = st.sampled_from(
    [
        "<title>Landing</title>",
        '<meta name="viewport" content="width=device-width">',
        '<link rel="stylesheet" href="s.css">',
        "<base href='/'>",
        "<noscript><link rel=stylesheet href=n.css></noscript>",
        "<style>body{color:red}</style>",
    ]
)
structural = st.one_of(
    body_end, html_end, head_end, body_start, head_start, html_start, meta_charset
)
PROLOGS = [
    "<!DOCTYPE html>",
    "<!doctype html>\n",
    '<?xml version="1.0" encoding="UTF-8"?>\n',
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"\n'
    ' "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n',
    "<!-- generated -->\n",
    "\n",
    "<!DOCTYPE html SYSTEM 'about:legacy-compat'>",
]
TAILS = [
    "<!-- never closed </body>",
    "<script>never closed",
    "<div title='never closed",
    '<div title="never closed></body>',
    "<textarea>",
    "<",
    "</",
    "<!",
    "<?",
    "</body",
    "<svg><g>",
    "<template><p>",
    "<![CDATA[ x",
    "<plaintext></body>",
    "<style>",
    "<noscript>",
    "<p",
    "<svg><path d='never closed></svg></body>",
    '<template><a title="never closed></template></body>',
]


def fragments() -> st.SearchStrategy[str]:
    """Any one piece of a page, recursively (``<template>`` and svg/math hold pieces too)."""

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        @st.composite
        def template(draw: st.DrawFn) -> str:
            content = "".join(draw(st.lists(st.one_of(inner, body_end), max_size=3)))
            close = draw(st.sampled_from(["</template>", "</template>", "</TEMPLATE >", ""]))
            return f"<{draw(cased('template'))}>{content}{close}"

        @st.composite
        def foreign(draw: st.DrawFn) -> str:
            return _foreign(draw, inner)

        return st.one_of(inner, template(), foreign())

    leaf = st.one_of(
        text,
        text,
        plain_markup,
        comment,
        bogus_comment,
        script,
        raw_element(),
        element_with_attributes(),
        body_end,  # a decoy when an earlier fragment hides it, the real end otherwise
        st.sampled_from(["<plaintext>x", "<frameset></frameset>", "<body>", "</html>", "</head>"]),
    )
    return st.recursive(leaf, extend, max_leaves=6)


fragment = fragments()


def _maybe(draw: st.DrawFn, strategy: st.SearchStrategy[str], p_true: int = 1) -> str:
    """``strategy`` drawn with odds p_true:1, else empty."""
    if draw(st.sampled_from([True] * p_true + [False])):
        return draw(strategy)
    return ""


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A page: a prolog, then either a page skeleton with decoys or a soup of pieces."""
    parts: list[str] = []
    if draw(st.integers(0, 7)) == 0:
        parts.append("\ufeff")
    parts += draw(st.lists(st.sampled_from(PROLOGS), max_size=2))
    if draw(st.integers(0, 2)):  # a page skeleton, parts optional, repeated, in any case
        parts.append(_maybe(draw, html_start, 3))
        parts.append(_maybe(draw, head_start, 3))
        head = draw(st.lists(st.one_of(head_bits, meta_charset, fragment), max_size=3))
        if draw(st.booleans()):
            head.insert(0, draw(meta_charset))
        parts += head
        parts.append(_maybe(draw, head_end, 2))
        parts.append(_maybe(draw, body_start, 3))
        parts += draw(st.lists(fragment, max_size=6))
        parts += draw(st.lists(body_end, max_size=2))
        parts += draw(st.lists(st.one_of(text, comment, fragment), max_size=2))
        parts.append(_maybe(draw, html_end, 2))
        parts += draw(st.lists(st.sampled_from(["\n", "<!-- after -->", "x", "<p>late</p>"])))
    else:  # soup: tags that structure a page, in any order, among the decoys
        parts += draw(st.lists(st.one_of(structural, fragment), max_size=10))
    if draw(st.integers(0, 5)) == 0:
        parts.append(draw(st.sampled_from(TAILS)))
    page = "".join(parts)
    if draw(st.integers(0, 4)) == 0:
        page = re.sub(r"\r?\n", "\r\n", page)
    return page
