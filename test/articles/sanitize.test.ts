import { htmlToPlainText, safeLinkHref, sanitizeSummaryHtml, summaryText } from '../../src/articles/sanitize';

/** Nothing executable or remote-loading may survive, whatever the input. */
function expectInert(html: string): void {
  expect(html).not.toMatch(/<\s*(script|iframe|form|input|button|style|link|img|object|embed|svg|meta|base)\b/i);
  expect(html).not.toMatch(/\son\w+\s*=/i);
  expect(html).not.toMatch(/javascript:|vbscript:|data:/i);
  expect(html).not.toMatch(/style\s*=/i);
}

describe('sanitizeSummaryHtml: allowed formatting', () => {
  it('keeps basic text formatting and http(s)/mailto links', () => {
    const html =
      '<p>A <b>bold</b>, <strong>strong</strong>, <i>italic</i> and <em>em</em> story.<br>Next line.</p>' +
      '<ul><li>one</li></ul><ol><li>two</li></ol><blockquote>quoted</blockquote>' +
      '<a href="https://example.com/a?x=1&amp;y=2">web</a> <a href="mailto:news@example.com">mail</a>';
    expect(sanitizeSummaryHtml(html)).toBe(
      '<p>A <b>bold</b>, <strong>strong</strong>, <i>italic</i> and <em>em</em> story.<br />Next line.</p>' +
        '<ul><li>one</li></ul><ol><li>two</li></ol><blockquote>quoted</blockquote>' +
        '<a href="https://example.com/a?x=1&amp;y=2">web</a> <a href="mailto:news@example.com">mail</a>',
    );
  });

  it('unwraps other tags but keeps their text', () => {
    expect(sanitizeSummaryHtml('<div><h2>Head</h2><span class="x">text</span> <table><tr><td>cell</td></tr></table></div>')).toBe(
      'Headtext cell',
    );
  });

  it('resolves relative links against baseUrl and unwraps them without one', () => {
    expect(sanitizeSummaryHtml('<a href="/news/x">x</a>', { baseUrl: 'https://site.example/a/b' })).toBe(
      '<a href="https://site.example/news/x">x</a>',
    );
    expect(sanitizeSummaryHtml('<a href="/news/x">x</a>')).toBe('x');
  });

  it('drops elements left empty, such as a link that only wrapped an image', () => {
    expect(sanitizeSummaryHtml('<p><a href="https://x.example/"><img src="https://x.example/i.jpg"></a></p><p>Text</p>')).toBe(
      '<p>Text</p>',
    );
  });

  it('returns an empty string for empty input', () => {
    expect(sanitizeSummaryHtml('')).toBe('');
    expect(sanitizeSummaryHtml('   <p> </p> ')).toBe('');
  });
});

describe('sanitizeSummaryHtml: hostile input', () => {
  const cases: [string, string, string][] = [
    ['script tag and its content', '<p>Hi</p><script>alert(document.cookie)</script>', '<p>Hi</p>'],
    ['script in odd case, unclosed', '<p>Hi<ScRiPt src=//evil.example/x.js>', '<p>Hi</p>'],
    ['event handler on an allowed tag', '<p onclick="steal()" onmouseover="x()">Click</p>', '<p>Click</p>'],
    ['img with onerror', 'A<img src=x onerror="alert(1)">B', 'AB'],
    ['javascript: link', '<a href="javascript:alert(1)">click</a>', 'click'],
    ['javascript: link, mixed case and whitespace', '<a href=" JaVa\tScRiPt:alert(1)">click</a>', 'click'],
    ['javascript: link, entity-encoded', '<a href="&#106;avascript:alert(1)">click</a>', 'click'],
    ['vbscript: link', '<a href="vbscript:msgbox(1)">click</a>', 'click'],
    ['data: link', '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">click</a>', 'click'],
    ['protocol-relative link', '<a href="//evil.example/">click</a>', 'click'],
    ['iframe with fallback text', '<p>Watch</p><iframe src="https://evil.example/">Your browser lacks iframes</iframe>', '<p>Watch</p>'],
    ['form with inputs and a button', 'Before<form action="https://evil.example/phish"><label>Password <input type="password" name="p"></label><button>Go</button></form>After', 'BeforeAfter'],
    ['style tag', '<style>body{background:url(https://evil.example/t.gif)}</style><p>Text</p>', '<p>Text</p>'],
    ['remote stylesheet', '<link rel="stylesheet" href="https://evil.example/x.css"><p>Text</p>', '<p>Text</p>'],
    ['style attribute', '<p style="position:fixed;top:0;background:url(https://evil.example/t.gif)">Text</p>', '<p>Text</p>'],
    ['data: image', '<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=">Text', 'Text'],
    ['inline svg with script', '<svg onload="alert(1)"><script>alert(2)</script></svg>Text', 'Text'],
    ['object and embed', '<object data="https://evil.example/x.swf"><embed src="x.swf"></object>Text', 'Text'],
    ['meta refresh and base', '<meta http-equiv="refresh" content="0;url=https://evil.example/"><base href="https://evil.example/">Text', 'Text'],
    ['comment hiding markup', 'A<!-- <script>alert(1)</script> -->B', 'AB'],
    ['attribute breakout attempt', '<a href="https://ok.example/" title="x" onclick="y">ok</a>', '<a href="https://ok.example/">ok</a>'],
    ['target and rel attributes', '<a href="https://ok.example/" target="_blank" rel="opener">ok</a>', '<a href="https://ok.example/">ok</a>'],
    ['escaped markup stays text', '&lt;script&gt;alert(1)&lt;/script&gt;', '&lt;script&gt;alert(1)&lt;/script&gt;'],
  ];

  it.each(cases)('%s', (_name, input, expected) => {
    const output = sanitizeSummaryHtml(input);
    expect(output).toBe(expected);
    expectInert(output);
  });

  it('neutralises a pile of known XSS vectors', () => {
    const vectors = [
      '<IMG SRC="javascript:alert(\'XSS\');">',
      '<IMG SRC=JaVaScRiPt:alert(\'XSS\')>',
      '<a href="jav&#x09;ascript:alert(1)">x</a>',
      '<BODY ONLOAD=alert(\'XSS\')>',
      '<INPUT TYPE="IMAGE" SRC="javascript:alert(\'XSS\');">',
      '<TABLE BACKGROUND="javascript:alert(\'XSS\')">',
      '<DIV STYLE="background-image: url(javascript:alert(\'XSS\'))">',
      '<LINK REL="stylesheet" HREF="javascript:alert(\'XSS\');">',
      '<META HTTP-EQUIV="refresh" CONTENT="0;url=data:text/html base64,PHNjcmlwdD5hbGVydCgnWFNTJyk8L3NjcmlwdD4K">',
      '<<SCRIPT>alert("XSS");//<</SCRIPT>',
      '<a href="https://ok.example/"onmouseover="alert(1)">x</a>',
      '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
    ];
    for (const vector of vectors) expectInert(sanitizeSummaryHtml(vector));
  });
});

describe('safeLinkHref', () => {
  it('accepts http, https and mailto, normalised', () => {
    expect(safeLinkHref(' https://Example.com/a b ')).toBe('https://example.com/a%20b');
    expect(safeLinkHref('mailto:a@b.example')).toBe('mailto:a@b.example');
  });

  it('refuses other schemes, protocol-relative, unparseable and empty', () => {
    for (const bad of ['javascript:alert(1)', 'ftp://x.example/', '//x.example/', 'http://', '', undefined]) {
      expect(safeLinkHref(bad)).toBeUndefined();
    }
  });
});

describe('htmlToPlainText and summaryText', () => {
  it('decodes entities, strips tags and collapses whitespace', () => {
    expect(htmlToPlainText('  Fish &amp; Chips &lt;3 &eacute;t&eacute; &#8220;q&#8221;\n <b>bold</b>&nbsp;end ')).toBe(
      'Fish & Chips <3 été “q” bold end',
    );
  });

  it('separates block elements and drops script text', () => {
    expect(htmlToPlainText('<p>One</p><p>Two<br>Three</p><script>var x = 1;</script>')).toBe('One Two Three');
  });

  it('shortens at a word boundary with an ellipsis', () => {
    const html = '<p>The quick brown fox jumps over the lazy dog near the riverbank.</p>';
    expect(summaryText(html, 200)).toBe('The quick brown fox jumps over the lazy dog near the riverbank.');
    const short = summaryText(html, 30);
    expect(short).toBe('The quick brown fox jumps…');
    expect(short.length).toBeLessThanOrEqual(30);
  });
});
