"""The one look of every HTML file wmheval writes: inline CSS and a small vanilla-JS table
sorter, so a page works offline from ``file://`` or any static server (no CDN, no fetch)."""

from __future__ import annotations

import html

CSS = """
:root{--fg:#1d2329;--muted:#5b6670;--line:#d5dbe1;--head:#eef2f5;--accent:#0b63a5;
--seen:#e8f1fa;--unseen:#fdf0e6}
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--fg);margin:0;background:#fff}
header.site{background:#17324d;color:#fff;padding:.8em 1.5em}
header.site a{color:#cfe6ff;margin-right:1.2em;text-decoration:none}
header.site a:hover{text-decoration:underline}
header.site .brand{font-weight:600;margin-right:2em;color:#fff}
main{max-width:84em;margin:0 auto;padding:1em 1.5em 3em}
h1{font-size:1.6em;margin:.6em 0 .3em}h2{font-size:1.3em;margin:1.6em 0 .4em;
border-bottom:1px solid var(--line);padding-bottom:.2em}h3{font-size:1.08em;margin:1.2em 0 .3em}
a{color:var(--accent)}
p.lead{color:var(--muted);margin-top:0}
.note{background:#f6f8fa;border-left:4px solid var(--accent);padding:.6em 1em;margin:1em 0}
.tablewrap{overflow-x:auto;margin:.6em 0 1.2em}
table.wmheval-table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:.92em}
table.wmheval-table caption{caption-side:top;text-align:left;font-weight:600;padding:.3em 0}
table.wmheval-table th,table.wmheval-table td{padding:.3em .65em;
border-bottom:1px solid var(--line);white-space:nowrap}
table.wmheval-table thead th{background:var(--head);border-bottom:2px solid #9aa7b3;
vertical-align:bottom;text-align:left;white-space:normal;min-width:3.5em}
table.wmheval-table th.num,table.wmheval-table td.num{text-align:right}
table.wmheval-table tbody tr:hover{background:#f3f7fb}
table.wmheval-table th .unit{font-weight:400;color:var(--muted)}
table.wmheval-table th .dir{font-weight:400;color:var(--muted);font-size:.85em}
table.sortable thead th{cursor:pointer;user-select:none}
table.sortable thead th[aria-sort=ascending]::after{content:" \\25B2";font-size:.75em}
table.sortable thead th[aria-sort=descending]::after{content:" \\25BC";font-size:.75em}
tr.seen td:first-child{box-shadow:inset 4px 0 0 #0072b2}
tr.unseen td:first-child{box-shadow:inset 4px 0 0 #e69f00}
tr.noncomparable td{background:#fff4e5;font-style:italic}
tr.noncomparable td:first-child{box-shadow:inset 4px 0 0 #d55e00}
.flag{font-style:normal;font-size:.8em;background:#d55e00;color:#fff;border-radius:3px;
padding:0 .35em;margin-left:.4em;white-space:nowrap}
.tag{display:inline-block;font-size:.78em;padding:0 .45em;border-radius:.6em;margin-left:.4em}
.tag.seen{background:var(--seen);color:#0b4a7a}.tag.unseen{background:var(--unseen);color:#8a4b00}
figure.fig{display:grid;grid-template-columns:minmax(0,3fr) minmax(14em,1.3fr);gap:1.2em;
margin:1.2em 0 2em;align-items:start}
figure.fig img{max-width:100%;height:auto;border:1px solid var(--line);background:#fff}
figure.fig figcaption{font-size:.93em}
figure.fig figcaption h3{margin-top:0}
.links{font-size:.85em;color:var(--muted)}
.grid3{display:grid;grid-template-columns:repeat(auto-fit,minmax(16em,1fr));gap:1em}
.grid3 img{width:100%;height:auto;border:1px solid var(--line)}
dl.prov{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}
dl.prov dt{font-weight:600}dl.prov dd{margin:0;word-break:break-all}
code{font-size:.9em;background:#f3f5f7;padding:0 .25em;border-radius:3px}
@media (max-width:60em){figure.fig{grid-template-columns:1fr}}
"""
"""The stylesheet every page inlines."""

SORT_JS = """
(function(){
function key(cell){var v=cell.getAttribute('data-value');if(v===null)v=cell.textContent.trim();
var n=parseFloat(v);return (v!==''&&!isNaN(n)&&isFinite(v))?{n:n}:{s:v.toLowerCase()};}
function cmp(a,b){if(a.n!==undefined&&b.n!==undefined)return a.n-b.n;
if(a.n!==undefined)return -1;if(b.n!==undefined)return 1;return a.s<b.s?-1:a.s>b.s?1:0;}
document.querySelectorAll('table.sortable').forEach(function(table){
var heads=table.tHead?table.tHead.rows[0].cells:[];
Array.prototype.forEach.call(heads,function(th,col){
th.setAttribute('tabindex','0');th.setAttribute('role','columnheader');
function sort(){var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
var asc=th.getAttribute('aria-sort')!=='ascending';
Array.prototype.forEach.call(heads,function(h){h.removeAttribute('aria-sort');});
th.setAttribute('aria-sort',asc?'ascending':'descending');
rows.sort(function(r1,r2){var d=cmp(key(r1.cells[col]),key(r2.cells[col]));return asc?d:-d;});
rows.forEach(function(r){body.appendChild(r);});}
th.addEventListener('click',sort);
th.addEventListener('keydown',function(e){
if(e.key==='Enter'||e.key===' '){e.preventDefault();sort();}});
});});})();
"""
"""Click (or Enter on) a header to sort by it; again to reverse. Numbers sort as numbers,
using each cell's ``data-value`` when present (full precision, NaN last)."""


def markdown_html(text: str) -> str:
    """The small Markdown subset of wmheval's notes as HTML: paragraphs, ``- `` items,
    ``**bold**``, ``*italic*`` and ```code```; everything else is escaped."""
    import re

    def inline(line: str) -> str:
        escaped = html.escape(line)
        escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
        escaped = re.sub(r"`(.+?)`", r"<code>\1</code>", escaped)
        return re.sub(r"\*(.+?)\*", r"<em>\1</em>", escaped)

    parts: list[str] = []
    items: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("- "):
            items.append(f"<li>{inline(line[2:])}</li>")
            continue
        if items:
            parts.append("<ul>" + "".join(items) + "</ul>")
            items = []
        if line.strip():
            parts.append(f"<p>{inline(line)}</p>")
    return "".join(parts)


def page(title: str, body: str, *, nav: str = "") -> str:
    """A complete HTML5 document: charset, viewport, inline CSS, the sorter, ``body``."""
    return (
        "<!doctype html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        "<link rel='icon' href='data:,'>\n"  # no favicon request (404 on static servers)
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"{nav}<main>\n{body}\n</main>\n<script>{SORT_JS}</script>\n</body>\n</html>\n")
