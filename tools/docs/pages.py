"""What the site adds to the processed notebooks: links between its pages, the playground's
recording where its live board was, only the widget state a page shows, the navigation, and the
API reference page."""
import html, json, re
from pathlib import Path

WIDGET_STATE = 'application/vnd.jupyter.widget-state+json'
WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'
PLAYGROUND_CLASS = 'bp-playground'   # the class on the playground's outer box (its public markup)

def md_cells(nb): return [c for c in nb['cells'] if c['cell_type'] == 'markdown']

def src(c): return ''.join(c['source']) if isinstance(c['source'], list) else c['source']

def read_json(p): return json.loads(Path(p).read_text(encoding='utf-8'))

def slug(text):
    "A heading's anchor as Quarto (pandoc) makes it: lower case; word characters, . _ - kept."
    return re.sub(r'\s+', '-', re.sub(r'[^\w\s.-]', '', text.strip().lower()))

def anchors(nb):
    "The anchors of a page: its headings' slugs."
    heads = (re.finditer(r'^#{1,6} (.+?)\s*$', src(c), re.M) for c in md_cells(nb))
    return {slug(m[1]) for hs in heads for m in hs}

def outside_fences(md, fn):
    "Apply `fn` to each line of markdown `md` outside code fences and indented code."
    out, fence = [], False
    for line in md.split('\n'):
        if line.lstrip().startswith('```'): fence = not fence
        out.append(line if fence or line.startswith('    ') else fn(line))
    return '\n'.join(out)

def link_rewriter(doc_url, page_anchors):
    "A function pointing nbdev's absolute doc links (`doc_url`/page.html#x) at this site's pages."
    base = re.escape(doc_url.rstrip('/'))
    pat = re.compile(r'\]\(' + base + r'/([\w.-]+)\.html(?:#([^)\s]*))?\)')
    def sub(m):
        page, anchor = m[1], m[2]
        if page not in page_anchors: return m[0]
        # a name with no show_doc (a private one) has no heading to land on: its page, then
        return f']({page}.ipynb#{anchor})' if anchor in page_anchors[page] else f']({page}.ipynb)'
    return lambda line: pat.sub(sub, line)

def lesson_linker(pages):
    "A function linking a notebook named in backticks (`19_playground`) to its page."
    names = '|'.join(map(re.escape, sorted(pages, key=len, reverse=True)))
    pat = re.compile(rf'(?<![\[\w])`({names})`(?![\]\w(])')
    return lambda line: pat.sub(lambda m: f'[`{m[1]}`]({pages[m[1]]}.ipynb)', line)

def add_links(nb, doc_url, page_anchors, pages):
    "Point every markdown cell's links at this site: nbdev's doc links, then notebook names."
    rw, ln = link_rewriter(doc_url, page_anchors), lesson_linker(pages)
    for c in md_cells(nb):
        c['source'] = outside_fences(src(c), lambda l: ln(rw(l)))

def widget_state(nb):
    return nb['metadata'].get('widgets', {}).get(WIDGET_STATE, {}).get('state', {})

def views(nb):
    "(output, model_id) for every widget view among the outputs."
    return [(o, o['data'][WIDGET_VIEW]['model_id']) for c in nb['cells']
            for o in c.get('outputs', []) if WIDGET_VIEW in o.get('data', {})]

def recording_html(rec):
    "The playground as recorded in JupyterLab: the animation, or the still where motion can't play."
    w, h, alt = rec['width'], rec['height'], html.escape(rec['alt'])
    return (f'<figure class="bp-recording"><picture>'
            f'<source media="(prefers-reduced-motion: reduce)" srcset="{rec["still"]}">'
            f'<source type="image/webp" srcset="{rec["animation"]}">'
            f'<img src="{rec["still"]}" width="{w}" height="{h}" alt="{alt}" loading="lazy">'
            f'</picture><figcaption>{html.escape(rec["caption"])}</figcaption></figure>')

def replace_playgrounds(nb, rec):
    "Show the recording where a live playground was: its board paints messages, not saved state."
    state, n = widget_state(nb), 0
    for out, mid in views(nb):
        if PLAYGROUND_CLASS in state.get(mid, {}).get('state', {}).get('_dom_classes', []):
            if rec is None: raise SystemExit('docs: no playground recording in nbs/images/: '
                                             'run .venv/bin/python tools/record_playground.py')
            out['data'] = {'text/html': recording_html(rec),
                           'text/plain': out['data'].get('text/plain', '')}
            n += 1
    return n

def prune_widgets(nb):
    "Keep only the widget state the page's views need; a closed widget's view falls back to text."
    state, keep = widget_state(nb), set()
    stack = [mid for _, mid in views(nb)]
    while stack:
        mid = stack.pop()
        if mid in keep or mid not in state: continue
        keep.add(mid)
        stack += re.findall(r'IPY_MODEL_([0-9a-f]+)', json.dumps(state[mid]['state']))
    for out, mid in views(nb):
        if mid not in state: out['data'].pop(WIDGET_VIEW)
    if keep: nb['metadata']['widgets'][WIDGET_STATE]['state'] = {k: state[k] for k in keep}
    else: nb['metadata'].pop('widgets', None)

def toctree(caption, docs):
    "A hidden toctree: the sidebar's navigation for one part of the course."
    return '```{toctree}\n:hidden:\n:caption: ' + caption + '\n\n' + '\n'.join(docs) + '\n```\n'

def add_navigation(index_nb, parts):
    "Append the navigation, one toctree per part ((caption, docs) pairs), to the index page."
    md = '\n'.join(toctree(cap, docs) for cap, docs in parts if docs)
    index_nb['cells'].append(dict(cell_type='markdown', id='bp-navigation', metadata={}, source=md))

_SHOWDOC = re.compile(r'^(#{3,4}) ([\w.]+)\s*$', re.M)

def api_entries(nb):
    "(heading level, name, summary) of each show_doc on a page: nbdev writes them as headings."
    out = []
    for c in md_cells(nb):
        s = src(c)
        heads = list(_SHOWDOC.finditer(s))
        for m, nxt in zip(heads, heads[1:] + [None]):
            doc = re.search(r'^\*(.+?)\*\s*$', s[m.end():nxt.start() if nxt else len(s)], re.M)
            out.append((len(m[1]), m[2], doc[1] if doc else ''))
    return out

def api_page(modules):
    "The API reference: each module, its page, the names it documents. (module, page, title, nb)"
    lines = ['# API reference', '', 'Each module of the package is documented on the page of the '
             'notebook that exports it, where `show_doc` renders each name as nbdev does.', '']
    for mod, page, title, nb in modules:
        lines += [f'## `{mod}`', '', f'From [{title}]({page}.ipynb).', '']
        # a dunder's heading renders as emphasis (no anchor of its name): its class stands for it
        for level, name, doc in (e for e in api_entries(nb) if '__' not in e[1]):
            summary = f': {doc}' if doc else ''
            lines.append(f'{"  " * (level - 3)}- [`{name}`]({page}.ipynb#{slug(name)}){summary}')
        lines.append('')
    return '\n'.join(lines)
